"""The HTML report (training artifact and `predictor report`) and `predictor explain`."""

from __future__ import annotations

import base64
import dataclasses
import re
from html import escape
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
from predictor.tracking import NullTracker

runner = CliRunner()

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VOID = {"img", "meta", "br", "hr", "link", "input", "wbr", "col", "source"}


CONTENT_WIDTH_PX = 1120 - 2 * 24 - 2 * 24
"""Width inside a report section: ``main`` max-width minus its and the section's padding."""
CHAR_PX, CELL_PADDING_PX = 7.5, 18
"""Generous width of one character at the tables' 13 px font, and a cell's horizontal padding."""


class Page(HTMLParser):
    """Checks that tags are balanced; collects images, headings, tables and missing-part notes."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[str] = []
        self.headings: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.missing = 0
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "table":
            self.tables.append([])
        if tag == "tr" and self.tables:
            self.tables[-1].append([])
        if tag in ("td", "th") and self.tables:
            self.tables[-1][-1].append("")
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
        if "td" in self.stack or "th" in self.stack:
            self.tables[-1][-1][-1] += " " + data


def min_table_width(rows: list[list[str]]) -> float:
    """The narrowest a table can be drawn (pixels): per column, its longest unbreakable word."""
    widths: dict[int, float] = {}
    for row in rows:
        for j, cell in enumerate(row):
            word = max((len(w) for w in cell.split()), default=0)
            widths[j] = max(widths.get(j, 0.0), word * CHAR_PX + CELL_PADDING_PX)
    return sum(widths.values())


def png_width(data: bytes) -> int:
    """Pixel width from a PNG's IHDR chunk."""
    return int.from_bytes(data[16:20], "big")


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
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data.startswith(PNG_MAGIC) and data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82")
        assert 0 < png_width(data) <= CONTENT_WIDTH_PX
    for rows in page.tables:
        assert min_table_width(rows) <= CONTENT_WIDTH_PX, rows[0]
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


class RecordingTracker(NullTracker):
    """Stands in for MLflow: remembers what was logged."""

    def __init__(self) -> None:
        self.artifacts: list[tuple[Path, str | None, bytes | None]] = []

    def log_artifact(self, path, folder=None):
        path = Path(path)
        self.artifacts.append((path, folder, path.read_bytes() if path.is_file() else None))


def test_every_training_run_logs_a_complete_report(trained, business, tmp_path, monkeypatch):
    from tests.conftest import fast_config

    import predictor.jobs.train_job as jobs

    model, evaluation = trained
    copy = dataclasses.replace(model, info=dict(model.info))
    monkeypatch.setattr(jobs, "train", lambda *_a, **_k: (copy, evaluation))
    tracker = RecordingTracker()
    outcome = jobs.run_training(business.tables, fast_config(), tmp_path, tracker)

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


# -- segments, bands, headlines and currency (issue 21) ----------------------------------------


def test_no_segment_is_defined_by_being_gone(trained, business, scores):
    from predictor.labels import churn_population
    from predictor.timeline import truncate

    model, _ = trained
    as_of = as_of_of(model)
    population = churn_population(
        truncate(business.tables, as_of), as_of, model.config.churn, model.info["churn_rule"]
    )
    gone = ~scores["customer_id"].isin(population)
    assert gone.any() and (~gone).any()
    assert (scores.loc[gone, "value_segment"] == "lapsed").all()
    assert (scores.loc[gone, "risk_band"] == "inactive").all()
    assert not (scores.loc[~gone, "value_segment"] == "lapsed").any()
    active_segments = scores.loc[~gone, "value_segment"]
    for segment in ("below_average", "average", "above_average"):
        assert (active_segments == segment).sum() >= 0.05 * (~gone).sum(), segment
    mean = scores.loc[~gone, "value_13m"].mean()
    below = scores.loc[active_segments[active_segments == "below_average"].index, "value_13m"]
    assert below.mean() > 0.05 * mean  # not a segment of zeros


def test_high_band_is_filled_when_the_model_ranks_churners(trained, scores):
    """High band non-empty whenever the top-decile lift is >= 1.5; else an empty one is explained."""
    from predictor.evaluation import lift_at
    from predictor.report import build_report

    model, evaluation = trained
    churn = evaluation.tasks["churn"]
    assert model.segmenter.risk_rule == "relative"
    assert model.segmenter.risk_cuts[1] <= 2 * model.segmenter.base_rate + 1e-12
    active = scores[scores["risk_band"] != "inactive"]
    high = active["risk_band"] == "high"
    assert list(active.loc[high, "customer_id"]) == list(
        active.loc[active["churn_risk"] >= model.segmenter.risk_cuts[1], "customer_id"]
    )
    if lift_at(churn.y_true, churn.predictions["model"]) >= 1.5:
        assert high.any()
    html = build_report(model, {}, scores)
    assert ("No active customer is in the high-risk band" in html) == (not high.any())


def test_the_rules_are_stated_in_the_report_and_the_model_metadata(model_dir, scores, tmp_path):
    import json

    segments = json.loads((model_dir / "metadata.json").read_text())["segments"]
    assert segments["risk_rule"] == "relative" and segments["value_rule"] == "relative"
    assert "the churn rate of active customers" in segments["risk_rule_text"]
    scores_path = tmp_path / "scores.csv"
    scores.to_csv(scores_path, index=False)
    out = tmp_path / "report.html"
    result = runner.invoke(
        app, ["report", "--model", str(model_dir), "--scores", str(scores_path), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    parse(html)
    assert escape(segments["risk_rule_text"]) in html
    assert "What to do, per value segment and risk band" in html
    for lever in ("Win-back", "Loyalty: keep", "Grow"):
        assert lever in html, lever


def test_a_baseline_that_beats_the_model_is_named_above_the_chart(trained):
    from predictor.bundle import evaluation_frames
    from predictor.report import build_report

    model, evaluation = trained
    frames = {k: f.copy() for k, f in evaluation_frames(evaluation).items()}
    churn = frames["churn"]
    churn["model"] = np.random.default_rng(0).permutation(churn["model"].to_numpy())
    html = build_report(model, {"churn": churn})
    lead = re.search(r"<h3>Churn risk</h3><p class=\"verdict lose\">(.*?)</p>", html)
    assert lead is not None
    assert lead.group(1).startswith("A baseline beats the model: Recency rule on ranking")
    assert html.index("verdict lose") < html.index('alt="churn ROC curve"')


def test_money_is_labelled_with_the_currency(model_dir, sample_dir, scores, tmp_path):
    scores_path = tmp_path / "scores.csv"
    scores.to_csv(scores_path, index=False)
    out = tmp_path / "report.html"
    args = ["report", "--model", str(model_dir), "--scores", str(scores_path)]
    args += ["--data", str(sample_dir), "--out", str(out)]
    result = runner.invoke(app, [*args, "--currency", "USD"])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    parse(html)
    assert "(currency)" not in html and "in currency" not in html
    assert "mean predicted value (USD)" in html and "USD at risk" in html
    text = re.sub(r'src="data:[^"]*"', "", html)
    assert "EUR" not in text


def test_margin_value_with_costly_support_has_a_negative_segment(business):
    from tests.conftest import fast_config

    from predictor.training import train

    tables = business.tables.subset(business.tables.customers["customer_id"].iloc[:600])
    config = fast_config(
        value={"kind": "margin", "cost_per_ticket": 200.0},
        model={"n_estimators": 40, "probabilistic_features": False},
        cutoffs={"max_cutoffs": 2},
    )
    model, _ = train(tables, config)
    scores, _ = score(model, tables, as_of_of(model))
    negative = scores[scores["value_segment"] == "negative"]
    assert len(negative) > 0
    assert (negative["value_13m"] < 0).all() and (negative["risk_band"] != "inactive").all()
    from predictor.report import action_table, customer_lever

    actions = action_table(scores, customer_lever(scores, None))
    assert actions.xs("negative", level="segment")["customers"].sum() == len(negative)
    assert set(actions.xs("negative", level="segment")["lever"]) == {"cost_to_serve"}


def test_value_headline_shows_the_interval_coverage(trained, scores):
    from predictor.bundle import evaluation_frames
    from predictor.report import build_report

    model, evaluation = trained
    plans = {task: result.plan for task, result in evaluation.tasks.items()}
    coverage = plans["value_13m"]["interval_coverage"]
    assert 0.0 <= coverage <= 1.0
    html = build_report(model, evaluation_frames(evaluation), scores, None, plans)
    assert "Customers inside their 80% interval" in html
    assert f"{coverage * 100:.0f}%" in html


def test_report_refuses_an_as_of_its_scores_file_cannot_honour(scores, model_dir, tmp_path):
    """``--as-of`` beside ``--scores`` was ignored in silence; another model's scores unnamed."""
    scores_path = tmp_path / "scores.csv"
    scores.assign(model_version="other-7").to_csv(scores_path, index=False)
    out = tmp_path / "report.html"
    args = ["report", "--model", str(model_dir), "--scores", str(scores_path), "--out", str(out)]
    scored = pd.Timestamp(scores["as_of"].iloc[0]).date()
    refused = runner.invoke(app, [*args, "--as-of", "2001-01-01"])
    assert refused.exit_code == 2 and not out.exists(), refused.output
    assert f"scored as of {scored}" in " ".join(refused.output.split())
    same_day = runner.invoke(app, [*args, "--as-of", scored.isoformat()])
    assert same_day.exit_code == 0, same_day.output
    assert "model version other-7" in " ".join(same_day.output.split())
