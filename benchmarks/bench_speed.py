"""Speed and memory of each stage as the sample business grows, one child process per stage.

The parent (``run``) starts ``python bench_speed.py --stage S --customers N --workdir W`` for
every stage and size, reads the stage's own wall-clock seconds from the JSON line it prints,
and the child's peak resident set size from ``os.wait4`` (``ru_maxrss``; the child's children
are included). Stages hand data on through the work folder:

* ``generate``: ``generate_sample(N, seed=0, mode="subscription")`` (timed), then the tables
  are written as Parquet (timed separately);
* ``validate``: ``predictor.io.load_tables``: read the Parquet files and validate them;
* ``features``: ``build_features`` at the last day (every customer) and the Day One view;
* ``train``: ``predictor.training.train`` with the speed config, then the model folder is saved;
* ``score``: end-to-end ``Predictor.score`` (features + three models + segments) against bare
  XGBoost prediction (DMatrix + ``Booster.predict`` of every booster on ready feature frames).
  ``bench_scoring.measure`` (chunked scoring from the Parquet files, owned by the scoring
  benchmark) then runs on the same data and the model just trained, and its numbers are
  reported too.

Sizes of at least ``LOCK_FROM`` customers run under ``flock /tmp/predictor-1m.lock`` so that
only one such job holds the machine's memory at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LOCK = "/tmp/predictor-1m.lock"
LOCK_FROM = 1_000_000
STAGES = ("generate", "validate", "features", "train", "score")
GIB = 1024**3


# ------------------------------------------------------------------------------ child stages


def _config(overrides: list[str]):
    from predictor.io import load_config

    return load_config(HERE.parent / "configs" / "default.yaml", overrides)


def _tables(workdir: Path):
    from predictor.io import load_tables

    meta = json.loads((workdir / "meta.json").read_text())
    result = load_tables(None, workdir / "data", end_date=meta["end_date"])
    return result.raise_for_errors(), meta


def _stage_generate(n: int, workdir: Path, _overrides: list[str]) -> dict[str, Any]:
    from predictor.io import write_tables
    from predictor.output_schema import SAMPLE_DAY_COLUMNS
    from predictor.sample import generate_sample

    began = time.perf_counter()
    business = generate_sample(n, seed=0, mode="subscription")
    seconds = time.perf_counter() - began
    shutil.rmtree(workdir / "data", ignore_errors=True)
    began = time.perf_counter()
    write_tables(business.tables, workdir / "data", fmt="parquet", days=SAMPLE_DAY_COLUMNS)
    rows = {name: len(frame) for name, frame in business.tables.items()}
    end = str(business.end_date.date())
    (workdir / "meta.json").write_text(json.dumps({"end_date": end, "rows": rows}))
    return {"seconds": seconds, "write_seconds": time.perf_counter() - began, "rows": rows}


def _stage_validate(n: int, workdir: Path, _overrides: list[str]) -> dict[str, Any]:
    from predictor.io import load_tables

    meta = json.loads((workdir / "meta.json").read_text())
    began = time.perf_counter()
    result = load_tables(None, workdir / "data", end_date=meta["end_date"])
    result.raise_for_errors()
    return {"seconds": time.perf_counter() - began}


def _stage_features(n: int, workdir: Path, overrides: list[str]) -> dict[str, Any]:
    from predictor.features import build_day_one_features, build_features

    config = _config(overrides)
    tables, meta = _tables(workdir)
    began = time.perf_counter()
    frame = build_features(tables, meta["end_date"], config)
    cutoff_s = time.perf_counter() - began
    began = time.perf_counter()
    build_day_one_features(tables, config)
    day_one_s = time.perf_counter() - began
    return {
        "seconds": cutoff_s,
        "day_one_seconds": day_one_s,
        "groupby_seconds": _bare_groupby(tables),
        "columns": frame.shape[1],
    }


def _bare_groupby(tables) -> float:
    """Seconds of the issue's anchor: one pandas group-by pass over every event row.

    Each event table grouped by ``customer_id`` into 4 aggregates of its event date (count,
    min, max, first): the same rows the features read, with no feature logic.
    """
    from predictor.contract.schema import SPECS

    began = time.perf_counter()
    for name, frame in tables.items():
        if name == "customers":
            continue
        frame.groupby("customer_id")[SPECS[name].event_date].agg(["count", "min", "max", "first"])
    return time.perf_counter() - began


def _stage_train(n: int, workdir: Path, overrides: list[str]) -> dict[str, Any]:
    """What ``predictor train`` does before saving: read the training data, then train.

    ``jobs.load_training_data`` reads and validates the Parquet files (chunk by chunk, keeping
    only the sample, when they hold more than ``cutoffs.sample_customers`` customers), so the
    stage's time and peak include its own read.
    """
    from predictor.bundle import save_bundle
    from predictor.jobs import load_training_data
    from predictor.training import train

    config = _config([*overrides, f"data.path={workdir / 'data'}"])
    began = time.perf_counter()
    data = load_training_data(config, workdir=workdir)
    read_s = time.perf_counter() - began
    model, evaluation = train(data.tables, config)
    seconds = time.perf_counter() - began
    shutil.rmtree(workdir / "model", ignore_errors=True)
    save_bundle(model, workdir / "model")
    rows = {task: r.n_rows["train"] for task, r in evaluation.tasks.items()}
    return {
        "seconds": seconds,
        "read_seconds": read_s,
        "fit_seconds": seconds - read_s,
        "train_rows": rows,
        "training_customers": int(model.info["training_customers"]),
    }


def _bare_predict(model, frame) -> float:
    """Seconds of DMatrix + Booster.predict for every booster, on ready feature frames."""
    from predictor.modeling.boosting import margin
    from predictor.scoring import _split

    current, day_one, _ = _split(frame)
    jobs = [(model.churn.schema_.transform(current), [model.churn.booster_])]
    jobs.append((model.value.schema_.transform(current), list(model.value.boosters_.values())))
    jobs.append((model.day_one.schema_.transform(day_one), list(model.day_one.boosters_.values())))
    began = time.perf_counter()
    for X, boosters in jobs:
        for booster in boosters:
            margin(booster, X)
    return time.perf_counter() - began


def _stage_score(n: int, workdir: Path, _overrides: list[str]) -> dict[str, Any]:
    import pandas as pd

    from predictor.api import load_model

    tables, meta = _tables(workdir)
    as_of = pd.Timestamp(meta["end_date"])
    predictor = load_model(workdir / "model")
    began = time.perf_counter()
    scores = predictor.score(tables, as_of=as_of)
    end_to_end = time.perf_counter() - began
    began = time.perf_counter()
    frame = predictor.features(tables, as_of)
    features_s = time.perf_counter() - began
    bare = _bare_predict(predictor.model, frame.set_index("customer_id"))
    return {
        "seconds": end_to_end,
        "features_seconds": features_s,
        "bare_seconds": bare,
        "scored": len(scores),
    }


def _stage_scoring_module(n: int, workdir: Path, _overrides: list[str]) -> dict[str, Any]:
    """The scoring benchmark's own measure (chunked scoring) on this size's data and model."""
    sys.path.insert(0, str(HERE))
    from bench_scoring import measure  # type: ignore[import-not-found]

    out = measure(
        n, workdir / "bench_scoring", data=workdir / "data", model=workdir / "model",
        parts=n < LOCK_FROM,
    )  # fmt: skip
    return {"seconds": float(out["end_to_end_s"]), **out}


STAGE_FUNCS = {
    "generate": _stage_generate,
    "validate": _stage_validate,
    "features": _stage_features,
    "train": _stage_train,
    "score": _stage_score,
    "bench_scoring": _stage_scoring_module,
}


def _child_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one benchmark stage (child process).")
    parser.add_argument("--stage", required=True, choices=sorted(STAGE_FUNCS))
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args(argv)
    import warnings

    from predictor.runtime import tune_for_large_tables

    warnings.simplefilter("ignore")
    tune_for_large_tables()  # as the ``predictor`` command does before any command
    args.workdir.mkdir(parents=True, exist_ok=True)
    out = STAGE_FUNCS[args.stage](args.customers, args.workdir, args.overrides)
    print("RESULT " + json.dumps(out), flush=True)
    return 0


# ------------------------------------------------------------------------------------ parent


@dataclass
class Measurement:
    """Median seconds and peak RSS of one stage at one size, over ``runs`` child processes."""

    stage: str
    customers: int
    seconds: float
    peak_gib: float
    runs: int
    extra: dict[str, Any] = field(default_factory=dict)


class StageError(RuntimeError):
    """A stage's child process failed."""


def run_child(
    stage: str, n: int, workdir: Path, overrides: list[str], log: Path
) -> tuple[dict[str, Any], float]:
    """One child process: its JSON result and its peak RSS in GiB."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", stage]
    cmd += ["--customers", str(n), "--workdir", str(workdir)]
    for item in overrides:
        cmd += ["--set", item]
    if n >= LOCK_FROM and shutil.which("flock"):
        cmd = ["flock", LOCK, *cmd]
    with open(log, "a") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(log.read_text().splitlines()[-5:])
        raise StageError(f"{stage} at {n:,} customers failed ({proc.returncode}): {tail}")
    return json.loads(lines[-1][len("RESULT ") :]), usage.ru_maxrss * 1024 / GIB


def measure(
    stage: str, n: int, workdir: Path, overrides: list[str], runs: int, log: Path
) -> Measurement:
    """Median over ``runs`` children (extras of the median-time run)."""
    results = []
    for _ in range(runs):
        log.write_text("")
        results.append(run_child(stage, n, workdir, overrides, log))
    results.sort(key=lambda r: r[0]["seconds"])
    mid = results[len(results) // 2]
    peak = statistics.median(r[1] for r in results)
    return Measurement(stage, n, mid[0]["seconds"], peak, runs, mid[0])


@dataclass(frozen=True)
class SpeedSettings:
    """Sizes, runs and the training overrides of the speed section."""

    sizes: tuple[int, ...]
    workdir: Path
    train_overrides: tuple[str, ...]
    repeat_below: int = 1_000_000
    repeats: int = 3


def _runs(stage: str, n: int, settings: SpeedSettings) -> int:
    """Median of several runs for short stages; one run of training above 10k and at 1M."""
    if n >= settings.repeat_below:
        return 1
    if stage == "train" and n > 10_000:
        return 1
    return settings.repeats


def _size(n: int, settings: SpeedSettings, say) -> dict[str, Measurement | str]:
    """Every stage at one size, in order; a failed stage skips the ones that need it."""
    workdir = settings.workdir / f"n{n}"
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "stage.log"
    out: dict[str, Measurement | str] = {}
    scoring_module = (HERE / "bench_scoring.py").exists()
    stages = list(STAGES) + (["bench_scoring"] if scoring_module else [])
    for stage in stages:
        if stage != "generate" and isinstance(out.get("generate"), str):
            out[stage] = "skipped (no data)"
            continue
        if stage in ("score", "bench_scoring") and isinstance(out.get("train"), str):
            out[stage] = "skipped (no model)"
            continue
        overrides = list(settings.train_overrides) if stage == "train" else []
        runs = _runs(stage, n, settings)
        say(f"speed: {stage} at {n:,} customers ({runs} run{'s' * (runs > 1)})")
        try:
            out[stage] = measure(stage, n, workdir, overrides, runs, log)
        except StageError as err:
            out[stage] = f"failed: {str(err).splitlines()[0][:120]}"
    shutil.rmtree(workdir, ignore_errors=True)
    return out


def _cell(m: Measurement | str | None, key: str = "seconds") -> str:
    if m is None:
        return "—"
    if isinstance(m, str):
        return m
    value = m.peak_gib if key == "peak" else (m.seconds if key == "seconds" else m.extra[key])
    return f"{value:,.2f}" if key == "peak" else f"{value:,.1f}"


ROWS = (
    ("sample generation", "generate", "seconds"),
    ("write Parquet", "generate", "write_seconds"),
    ("read + validate", "validate", "seconds"),
    ("features, one cutoff (all customers)", "features", "seconds"),
    ("features, Day One view", "features", "day_one_seconds"),
    ("bare pandas group-by of the same event rows (4 aggregates)", "features", "groupby_seconds"),
    ("training (read + validate its data, 3 models, evaluation)", "train", "seconds"),
    ("  of which reading the training data", "train", "read_seconds"),
    ("scoring end to end (`Predictor.score`)", "score", "seconds"),
    ("  of which features (scoring frame)", "score", "features_seconds"),
    ("  bare XGBoost predict (all boosters)", "score", "bare_seconds"),
)
PEAK_ROWS = (
    ("generation + write", "generate"),
    ("read + validate", "validate"),
    ("features", "features"),
    ("training", "train"),
    ("scoring", "score"),
)


def _events(results: dict[int, dict]) -> str:
    cells = []
    for r in results.values():
        g = r.get("generate")
        rows = g.extra.get("rows", {}) if isinstance(g, Measurement) else {}
        cells.append(f"{sum(v for k, v in rows.items() if k != 'customers'):,}" if rows else "—")
    return "| events (all tables but customers) | " + " | ".join(cells) + " |"


def _tables_md(results: dict[int, dict]) -> tuple[str, str, str]:
    import pandas as pd
    from bench_markdown import table

    sizes = [f"{n:,}" for n in results]
    times = pd.DataFrame(
        [[_cell(r.get(stage), key) for r in results.values()] for _, stage, key in ROWS],
        index=[label for label, _, _ in ROWS],
        columns=sizes,
    )
    peaks = pd.DataFrame(
        [[_cell(r.get(stage), "peak") for r in results.values()] for _, stage in PEAK_ROWS],
        index=[label for label, _ in PEAK_ROWS],
        columns=sizes,
    )
    runs = pd.DataFrame(
        [
            [m.runs if isinstance(m, Measurement) else "—" for m in (r.get(s) for s in STAGES)]
            for r in results.values()
        ],
        index=sizes,
        columns=list(STAGES),
    )
    time_md = table(times.rename_axis("seconds (median)")).splitlines()
    time_md.insert(2, _events(results))
    return (
        "\n".join(time_md),
        table(peaks.rename_axis("peak RSS, GiB")),
        table(runs.rename_axis("runs per stage")),
    )


def _throughput(results: dict[int, dict]) -> tuple[str, dict]:
    import pandas as pd
    from bench_markdown import table

    rows, data = {}, {}
    for n, r in results.items():
        s = r.get("score")
        if not isinstance(s, Measurement):
            continue
        bare = s.extra["bare_seconds"]
        rows[f"{n:,}"] = {
            "end-to-end customers/s": n / s.seconds,
            "features + bare predict customers/s": n / (s.extra["features_seconds"] + bare),
            "bare XGBoost customers/s": n / bare,
            "end-to-end / bare XGBoost throughput": bare / s.seconds,
        }
        b = r.get("bench_scoring")
        if isinstance(b, Measurement):
            rows[f"{n:,}"]["chunked scoring customers/s (bench_scoring)"] = float(
                b.extra.get("customers_per_s", float("nan"))
            )
        data[n] = rows[f"{n:,}"]
    if not rows:
        return "No scoring measurement.", data
    frame = pd.DataFrame(rows).T.rename_axis("customers")
    return table(frame, digits=3), data


def _growth(results: dict[int, dict]) -> str:
    """Sentences: how each stage's time grows from one size to the next."""
    sizes = list(results)
    lines = []
    for label, stage, key in ROWS:
        for a, b in zip(sizes, sizes[1:], strict=False):
            ma, mb = results[a].get(stage), results[b].get(stage)
            if isinstance(ma, Measurement) and isinstance(mb, Measurement):
                ta = ma.seconds if key == "seconds" else ma.extra.get(key)
                tb = mb.seconds if key == "seconds" else mb.extra.get(key)
                if ta and tb:
                    lines.append(
                        f"{label.strip()}: x{tb / ta:.1f} time for x{b / a:.0f} customers "
                        f"({a:,} → {b:,})"
                    )
    return "\n".join(f"- {line}" for line in lines)


def _anchor(results: dict[int, dict]) -> str:
    """Sentences: one cutoff's features as a multiple of the bare group-by, per size."""
    lines = []
    for n, r in results.items():
        m = r.get("features")
        if isinstance(m, Measurement) and m.extra.get("groupby_seconds"):
            ratio = m.seconds / m.extra["groupby_seconds"]
            lines.append(
                f"{n:,} customers: features {m.seconds:,.1f} s, group-by "
                f"{m.extra['groupby_seconds']:,.1f} s: x{ratio:.2f}"
            )
    for n, r in results.items():
        m = r.get("bench_scoring")
        if isinstance(m, Measurement) and m.extra.get("in_memory_s"):
            lines.append(
                f"{n:,} customers: file-to-file scoring (`predictor score` on Parquet, chunks of "
                f"100,000) {m.seconds:,.1f} s at {m.extra.get('peak_rss_gib', 0):.2f} GiB peak, "
                f"in-memory `Predictor.score` {m.extra['in_memory_s']:,.1f} s in the same run: "
                f"x{m.extra['ratio_end_to_end_vs_in_memory']:.2f}"
            )
    return "\n".join(f"- {line}" for line in lines) or "- not measured"


def _intro(overrides: tuple[str, ...]) -> str:
    listed = ", ".join(f"`{o}`" for o in overrides) or "none"
    return (
        "Subscription-mode sample (seed 0), every stage in its own child process; times are "
        "the stage's own wall-clock seconds (loading its inputs excluded), peak RSS is the "
        "child process's maximum resident set (`ru_maxrss` from `wait4`, so it includes the "
        "interpreter, the libraries and the input tables the stage holds). Medians over "
        "several runs where a run is short (see the runs table). Training uses "
        f"`configs/default.yaml` with {listed}, from the Parquet files as `predictor train` "
        "reads them (its time includes that read): above `cutoffs.sample_customers` "
        "(200,000) customers it reads and validates chunk by chunk and learns from that "
        "seeded sample of whole customers; the cap on customers per cutoff bounds the "
        "fitting rows. Sizes of "
        f"{LOCK_FROM:,} customers and more run under `flock {LOCK}`.\n"
    )


def render(results: dict[int, dict], overrides: tuple[str, ...]) -> str:
    """The speed section's markdown from per-size measurements."""
    results = dict(sorted(results.items()))
    time_md, peak_md, runs_md = _tables_md(results)
    through_md, _ = _throughput(results)
    return "\n".join(
        [
            _intro(overrides),
            time_md + "\n",
            peak_md + "\n",
            "**Throughput of scoring.** End to end = `Predictor.score` on tables already in "
            "memory (features of every customer at the last day, Day One features, three "
            "models, segments); bare XGBoost = `DMatrix` + `Booster.predict` of every booster "
            "on ready, schema-aligned feature frames. The last column is end-to-end throughput "
            "divided by bare XGBoost throughput.\n",
            through_md + "\n",
            "**Growth.**\n",
            _growth(results) + "\n",
            "**Ratios in this run.** One cutoff's features against a bare group-by (same child "
            "process, same event rows); file-to-file scoring against in-memory scoring "
            "(`bench_scoring`, both in one run).\n",
            _anchor(results) + "\n",
            runs_md + "\n",
        ]
    )


def to_data(results: dict[int, dict], overrides: tuple[str, ...]) -> dict[str, Any]:
    """JSON-ready measurements (``from_data`` reads them back)."""
    sizes = {
        str(n): {s: (m.__dict__ if isinstance(m, Measurement) else m) for s, m in r.items()}
        for n, r in results.items()
    }
    return {"sizes": sizes, "overrides": list(overrides)}


def from_data(data: dict[str, Any]) -> tuple[dict[int, dict], tuple[str, ...]]:
    """Measurements saved by ``to_data``."""
    results = {
        int(n): {s: (Measurement(**m) if isinstance(m, dict) else m) for s, m in r.items()}
        for n, r in data["sizes"].items()
    }
    return results, tuple(data["overrides"])


def merge(parts: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Markdown and data of several speed runs (e.g. 10k/100k and a separate 1M run)."""
    results: dict[int, dict] = {}
    overrides: tuple[str, ...] = ()
    for part in parts:
        more, overrides = from_data(part)
        results.update(more)
    return render(results, overrides), to_data(results, overrides)


def run(settings: SpeedSettings, say):
    """All sizes; markdown with the time, memory and throughput tables."""
    from bench_common import SectionResult, Timer

    clock = Timer()
    results = {n: _size(n, settings, say) for n in settings.sizes}
    text = render(results, settings.train_overrides)
    data = to_data(results, settings.train_overrides)
    return SectionResult("Speed and memory", text, [], data, clock.seconds)


if __name__ == "__main__":
    raise SystemExit(_child_main())
