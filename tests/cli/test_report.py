"""The HTML report (training artifact and `predictor report`) and `predictor explain`."""

from __future__ import annotations

import base64
import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from predictor.bundle import ModelLoadError, evaluation_frames, load_bundle, load_evaluation
from predictor.bundle import save_bundle as save_bundle_folder
from predictor.cli import app
from predictor.explain import explain_customer
from predictor.features.descriptions import describe
from predictor.report import SECTIONS
from predictor.scoring import score

runner = CliRunner()

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VOID = {"img", "meta", "br", "hr", "link", "input", "wbr", "col", "source"}


class Page(HTMLParser):
    """Checks that tags are balanced; collects images, headings and missing-part notes."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[str] = []
        self.headings: list[str] = []
        self.missing = 0
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if attrs.get("class") == "missing":
            self.missing += 1
        if tag == "h2":
            self._in_h2 = True
            self.headings.append("")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.headings[-1] += data


def parse(html: str) -> Page:
    """Parse a report and assert it is a well-formed, self-contained HTML page."""
    assert html.lstrip().lower().startswith("<!doctype html>")
    page = Page()
    page.feed(html)
    page.close()
    assert page.errors == [] and page.stack == []
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)
    assert page.headings == list(SECTIONS.values())
    return page


def as_of_of(model) -> pd.Timestamp:
    return pd.Timestamp(model.info["data_end"])


@pytest.fixture(scope="module")
def model_dir(trained, tmp_path_factory) -> Path:
    """The session model saved as a folder, with its held-out evaluation."""
    model, evaluation = trained
    extra = {"evaluation_plan": {k: r.plan for k, r in evaluation.tasks.items()}}
    folder = tmp_path_factory.mktemp("report") / "model"
    return save_bundle_folder(model, folder, extra, evaluation)


@pytest.fixture(scope="module")
def scores(trained, business) -> pd.DataFrame:
    """Everyone scored as of the data end, with three drivers per score."""
    model, _ = trained
    return score(model, business.tables, as_of_of(model), drivers=3)[0]


@pytest.fixture(scope="module")
def active_id(scores) -> str:
    active = scores[scores["risk_band"] != "inactive"]
    return str(active.sort_values("value_13m", ascending=False)["customer_id"].iloc[0])


class RecordingTracker:
    """Stands in for MLflow: remembers what was logged."""

    run_id = None

    def __init__(self) -> None:
        self.artifacts: list[tuple[Path, str | None, bytes | None]] = []

    def log_params(self, params):
        pass

    def log_metrics(self, metrics):
        pass

    def set_tags(self, tags):
        pass

    def log_table_inputs(self, inputs):
        pass

    def log_artifact(self, path, folder=None):
        path = Path(path)
        self.artifacts.append((path, folder, path.read_bytes() if path.is_file() else None))


def test_every_training_run_logs_a_complete_report(trained, business, tmp_path, monkeypatch):
    from tests.conftest import fast_config

    import predictor.pipeline as pipeline

    model, evaluation = trained
    copy = dataclasses.replace(model, info=dict(model.info))
    monkeypatch.setattr(pipeline, "train", lambda *_a, **_k: (copy, evaluation))
    tracker = RecordingTracker()
    outcome = pipeline.run_training(business.tables, fast_config(), tmp_path, tracker)

    logged = [(p, data) for p, folder, data in tracker.artifacts if folder == "report"]
    assert [p.name for p, _ in logged] == ["report.html"]
    page = parse(logged[0][1].decode("utf-8"))
    assert page.missing == 0
    assert len(page.images) >= 10
    frames = load_evaluation(outcome.model_dir)
    assert set(frames) == {"day_one", "value_13m", "churn"}
    for task, frame in evaluation_frames(evaluation).items():
        pd.testing.assert_frame_equal(frames[task], frame)
    assert list(frames["value_13m"].columns[:2]) == ["y_true", "model"]


def test_report_command_from_a_model_folder_and_data(model_dir, sample_dir, tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(
        app, ["report", "--model", str(model_dir), "--data", str(sample_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    page = parse(html)
    assert page.missing == 0
    for text in (
        "gains curve",
        "churn ROC curve",
        "average order value",
        "purchases per customer",
        "margin",
        "Onboarding",
        "why at risk",
        "value at risk",
    ):
        assert text in html, text


def test_report_without_scores_says_which_sections_need_them(model_dir, tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--model", str(model_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    page = parse(html)
    assert page.missing == 2
    assert html.count("These charts need scores") == 2
    assert len(page.images) >= 7  # model quality and drivers need no scores
    assert "gains curve" in html and "importance by signal family" in html


def test_report_from_a_scores_file(scores, model_dir, tmp_path):
    scores_path = tmp_path / "scores.csv"
    scores.to_csv(scores_path, index=False)
    out = tmp_path / "report.html"
    result = runner.invoke(
        app,
        ["report", "--model", str(model_dir), "--scores", str(scores_path), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    page = parse(html)
    assert page.missing == 0
    assert "need the order data" in html
    top = scores[scores["risk_band"] != "inactive"].copy()
    top["var"] = top["value_13m"] * top["churn_risk"]
    assert top.sort_values("var").iloc[-1]["customer_id"] in html


def test_old_model_folder_without_evaluation_still_reports(trained, tmp_path):
    model, _ = trained
    folder = save_bundle_folder(model, tmp_path / "old")
    load_bundle(folder)
    assert load_evaluation(folder) == {}
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--model", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    parse(html)
    assert "held-out evaluation is not available" in html


def test_saved_evaluation_is_covered_by_the_content_hash(trained, tmp_path):
    model, evaluation = trained
    folder = save_bundle_folder(model, tmp_path / "m", None, evaluation)
    path = folder / "evaluation" / "churn.parquet"
    frame = pd.read_parquet(path)
    frame.loc[0, "model"] = 0.5 if frame.loc[0, "model"] != 0.5 else 0.25
    frame.to_parquet(path, index=False)
    with pytest.raises(ModelLoadError, match="content hash"):
        load_bundle(folder)


NUMBER = re.compile(r"^\s*=?\s*([+-]?[\d,]*\.\d+)")


def blocks(output: str) -> dict[str, list[float]]:
    """Per score block of `predictor explain`: the printed numbers, base first, total last."""
    found: dict[str, list[float]] = {}
    current = None
    for line in output.splitlines():
        head = re.match(r"^(13-month value|Churn risk|Day One value) \(", line)
        if head:
            current = head.group(1)
            found[current] = []
            continue
        match = NUMBER.match(line)
        if current and match and not line.lstrip().startswith("Already"):
            found[current].append(float(match.group(1).replace(",", "")))
    return found


def test_explain_prints_drivers_that_add_up(model_dir, sample_dir, active_id, trained):
    model, _ = trained
    result = runner.invoke(
        app,
        [
            "explain",
            "--model",
            str(model_dir),
            "--data",
            str(sample_dir),
            "--customer",
            active_id,
            "--drivers",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    found = blocks(result.output)
    assert set(found) == {"13-month value", "Churn risk", "Day One value"}
    headline = {
        "13-month value": r"13-month value\s+([\d,.]+)",
        "Churn risk": r"Churn risk\s+([\d.]+)%",
        "Day One value": r"Day One value\s+([\d,.]+)",
    }
    for label, numbers in found.items():
        base, *contribs, total = numbers
        assert len(contribs) == 5  # four drivers and "all other signals together"
        assert base + sum(contribs) == pytest.approx(total, abs=0.005 * (len(contribs) + 2))
        printed = float(re.search(headline[label], result.output).group(1).replace(",", ""))
        assert total == pytest.approx(printed, abs=0.011)
    top = explain_customer(model, _tables(sample_dir, model), active_id, as_of_of(model))
    assert describe(top.explanations[0].contributions["feature"].iloc[0]).rstrip(".") in (
        result.output
    )


def _tables(folder: Path, model):
    from predictor.io import load_tables

    return load_tables(model.config.data, folder).tables


def test_explain_contributions_are_exactly_additive(trained, business, active_id):
    model, _ = trained
    as_of = as_of_of(model)
    ids = [active_id, *business.tables.customers["customer_id"].iloc[:2]]
    for customer_id in ids:
        explained = explain_customer(model, business.tables, customer_id, as_of)
        expected, _ = score(model, business.tables.subset([customer_id]), as_of)
        for exp in explained.explanations:
            assert exp.prediction == pytest.approx(float(expected[exp.score].iloc[0]), rel=1e-9)
            # additive up to XGBoost's float32 outputs
            assert exp.total == pytest.approx(exp.prediction, rel=1e-6, abs=1e-5)
            if exp.note:
                assert exp.contributions.empty and exp.prediction == 1.0
            else:
                assert len(exp.contributions) > 10
                assert np.all(np.diff(exp.contributions["contribution"].abs()) <= 1e-12)


def test_explain_unknown_customer_is_a_clear_error(model_dir, sample_dir):
    result = runner.invoke(
        app,
        ["explain", "--model", str(model_dir), "--data", str(sample_dir), "--customer", "nobody"],
    )
    assert result.exit_code == 2
    assert "nobody" in result.output and "not in the customers table" in result.output


def test_explain_before_signup_is_a_clear_error(model_dir, sample_dir, business):
    customers = business.tables.customers
    late = customers.sort_values("signup_date").iloc[-1]
    before = (late["signup_date"] - pd.Timedelta(days=30)).date().isoformat()
    result = runner.invoke(
        app,
        [
            "explain",
            "--model",
            str(model_dir),
            "--data",
            str(sample_dir),
            "--customer",
            str(late["customer_id"]),
            "--as-of",
            before,
        ],
    )
    assert result.exit_code == 2
    assert "signed up after" in result.output


def test_new_commands_have_help():
    for command in ("report", "explain"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
