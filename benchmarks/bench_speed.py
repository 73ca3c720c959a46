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
* ``touch`` (once, after all sizes): a child writes 0.5 and 5 GiB of fresh memory with no
  predictor code, the machine's price of first-touched memory; each stage's timed parts also
  report their user and system CPU seconds (``Clock``), so the tables tell computation from
  that price.

Sizes of at least ``LOCK_FROM`` customers run under ``flock /tmp/predictor-1m.lock`` so that
only one such job holds the machine's memory at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LOCK = "/tmp/predictor-1m.lock"
LOCK_FROM = 1_000_000
STAGES = ("generate", "validate", "train_read", "features", "train", "score")
GIB = 1024**3


# ------------------------------------------------------------------------------ child stages


class Clock:
    """Wall-clock and CPU seconds of each timed part of a stage.

    CPU seconds are ``getrusage(RUSAGE_SELF)`` deltas over every thread of the process: user
    time is the stage's own computation, system time the kernel's work for it, nearly all of
    it mapping and zeroing the fresh memory the stage touches. The split tells a stage that
    computes more from one that touches memory the machine is slow to hand out (``touch``).
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, list[float]] = {}

    @contextmanager
    def part(self, key: str) -> Iterator[None]:
        """Time the block as ``key``."""
        before, began = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        yield
        after = resource.getrusage(resource.RUSAGE_SELF)
        self.seconds[key] = time.perf_counter() - began
        self.cpu[key] = [after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime]

    def result(self, **extra: Any) -> dict[str, Any]:
        """The stage's JSON result: seconds of every part, their CPU split, and ``extra``."""
        return {**self.seconds, "cpu": self.cpu, **extra}


def _touch(gib: float) -> dict[str, Any]:
    """Write ``gib`` GiB of fresh memory (kept until the end), as the stages' arrays do.

    The same process settings as the stages (``tune_for_large_tables``: ordinary pages, freed
    memory kept), 64 MiB arrays of ones. No predictor code: the seconds per GiB are the
    machine's price of memory a process touches for the first time.
    """
    import numpy as np

    values, block = int(gib * 2**27), 8 * 2**20  # float64 values in all, per 64 MiB array
    clock, kept = Clock(), []
    with clock.part("seconds"):
        for start in range(0, values, block):
            kept.append(np.ones(min(block, values - start)))
    return clock.result(gib=gib)


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

    clock = Clock()
    with clock.part("seconds"):
        business = generate_sample(n, seed=0, mode="subscription")
    shutil.rmtree(workdir / "data", ignore_errors=True)
    with clock.part("write_seconds"):
        write_tables(business.tables, workdir / "data", fmt="parquet", days=SAMPLE_DAY_COLUMNS)
    rows = {name: len(frame) for name, frame in business.tables.items()}
    end = str(business.end_date.date())
    (workdir / "meta.json").write_text(json.dumps({"end_date": end, "rows": rows}))
    return clock.result(rows=rows)


def _stage_validate(n: int, workdir: Path, _overrides: list[str]) -> dict[str, Any]:
    from predictor.io import load_tables

    meta = json.loads((workdir / "meta.json").read_text())
    clock = Clock()
    with clock.part("seconds"):
        result = load_tables(None, workdir / "data", end_date=meta["end_date"])
        result.raise_for_errors()
    return clock.result()


def _stage_features(n: int, workdir: Path, overrides: list[str]) -> dict[str, Any]:
    from predictor.features import build_day_one_features, build_features

    config = _config(overrides)
    tables, meta = _tables(workdir)
    clock = Clock()
    with clock.part("seconds"):
        frame = build_features(tables, meta["end_date"], config)
    with clock.part("day_one_seconds"):
        build_day_one_features(tables, config)
    with clock.part("groupby_seconds"):
        _bare_groupby(tables)
    return clock.result(columns=frame.shape[1])


def _bare_groupby(tables) -> None:
    """The issue's anchor: one pandas group-by pass over every event row.

    Each event table grouped by ``customer_id`` into 4 aggregates of its event date (count,
    min, max, first): the same rows the features read, with no feature logic.
    """
    from predictor.contract.schema import SPECS

    for name, frame in tables.items():
        if name == "customers":
            continue
        frame.groupby("customer_id")[SPECS[name].event_date].agg(["count", "min", "max", "first"])


def _stage_train(n: int, workdir: Path, overrides: list[str]) -> dict[str, Any]:
    """What ``predictor train`` does before saving: read the training data, then train.

    ``jobs.load_training_data`` reads and validates the Parquet files (batch by batch, keeping
    only the sample, when they hold more than ``cutoffs.sample_customers`` customers), so the
    stage's time and peak include its own read.
    """
    from predictor.bundle import save_bundle
    from predictor.jobs import load_training_data
    from predictor.training import train

    config = _config([*overrides, f"data.path={workdir / 'data'}"])
    clock = Clock()
    with clock.part("seconds"):
        with clock.part("read_seconds"):
            data = load_training_data(config)
        model, evaluation = train(data.tables, config)
    shutil.rmtree(workdir / "model", ignore_errors=True)
    save_bundle(model, workdir / "model")
    rows = {task: r.n_rows["train"] for task, r in evaluation.tasks.items()}
    return clock.result(
        fit_seconds=clock.seconds["seconds"] - clock.seconds["read_seconds"],
        train_rows=rows,
        training_customers=int(model.info["training_customers"]),
    )


def _stage_train_read(n: int, workdir: Path, overrides: list[str]) -> dict[str, Any]:
    """Training's read alone (``jobs.load_training_data``), as often as the short stages.

    The training stage runs once above 10,000 customers, so its read is one measurement; this
    stage repeats it for a median. Above ``cutoffs.sample_customers`` customers it reads
    batch by batch (every row validated, the sample kept); below, whole.
    """
    from predictor.jobs import load_training_data

    config = _config([*overrides, f"data.path={workdir / 'data'}"])
    clock = Clock()
    with clock.part("seconds"):
        data = load_training_data(config)
    return clock.result(chunked=data.chunked, kept=len(data.tables.customers))


def _bare_predict(model, frame, clock: Clock) -> None:
    """Time DMatrix + Booster.predict for every booster, on ready feature frames."""
    from predictor.modeling.boosting import margin
    from predictor.scoring import _split

    current, day_one, _ = _split(frame)
    jobs = [(model.churn.schema_.transform(current), [model.churn.booster_])]
    jobs.append((model.value.schema_.transform(current), list(model.value.boosters_.values())))
    jobs.append((model.day_one.schema_.transform(day_one), list(model.day_one.boosters_.values())))
    with clock.part("bare_seconds"):
        for X, boosters in jobs:
            for booster in boosters:
                margin(booster, X)


def _stage_score(n: int, workdir: Path, _overrides: list[str]) -> dict[str, Any]:
    import pandas as pd

    from predictor.api import load_model

    tables, meta = _tables(workdir)
    as_of = pd.Timestamp(meta["end_date"])
    predictor = load_model(workdir / "model")
    clock = Clock()
    with clock.part("seconds"):
        scores = predictor.score(tables, as_of=as_of)
    with clock.part("features_seconds"):
        frame = predictor.features(tables, as_of)
    _bare_predict(predictor.model, frame.set_index("customer_id"), clock)
    return clock.result(scored=len(scores))


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
    "train_read": _stage_train_read,
    "features": _stage_features,
    "train": _stage_train,
    "score": _stage_score,
    "bench_scoring": _stage_scoring_module,
}


def _child_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one benchmark stage (child process).")
    parser.add_argument("--stage", required=True, choices=[*sorted(STAGE_FUNCS), "touch"])
    parser.add_argument("--customers", type=int, default=0)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--gib", type=float, default=1.0, help="memory of the touch stage")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args(argv)
    import warnings

    from predictor.runtime import tune_for_large_tables

    warnings.simplefilter("ignore")
    tune_for_large_tables()  # as the ``predictor`` command does before any command
    if args.stage == "touch":
        out = _touch(args.gib)
    else:
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
    stage: str, n: int, workdir: Path, overrides: list[str], log: Path, *, gib: float = 0.0
) -> tuple[dict[str, Any], float]:
    """One child process: its JSON result and its peak RSS in GiB."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", stage]
    cmd += ["--customers", str(n), "--workdir", str(workdir), "--gib", str(gib)]
    for item in overrides:
        cmd += ["--set", item]
    if (n >= LOCK_FROM or gib >= 1) and shutil.which("flock"):
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
    extra = _median_parts([r[0] for r in results], mid[0])
    return Measurement(stage, n, mid[0]["seconds"], peak, runs, extra)


def _median_parts(results: list[dict[str, Any]], mid: dict[str, Any]) -> dict[str, Any]:
    """The median run's result, with each timed part's wall and CPU seconds its own median.

    The run with the median stage time need not hold the median of each of its parts (a
    read slowed by the machine in one run, the features in another).
    """
    cpu = mid.get("cpu", {})
    parts = [k for k in cpu if k != "seconds" and all(k in r.get("cpu", {}) for r in results)]
    out = dict(mid)
    out["cpu"] = dict(cpu)
    for key in parts:
        out[key] = statistics.median(r[key] for r in results)
        out["cpu"][key] = [statistics.median(r["cpu"][key][i] for r in results) for i in (0, 1)]
    return out


@dataclass(frozen=True)
class SpeedSettings:
    """Sizes, runs and the training overrides of the speed section."""

    sizes: tuple[int, ...]
    workdir: Path
    train_overrides: tuple[str, ...]
    one_scoring_run_from: int = 1_000_000
    repeats: int = 3
    touch_gib: tuple[float, ...] = (0.5, 5.0)


def _runs(stage: str, n: int, settings: SpeedSettings) -> int:
    """Median of several runs, but one run of the long stages.

    Training above 10,000 customers, and file-to-file scoring (with its in-memory twin) from
    ``one_scoring_run_from``; every other stage runs ``repeats`` times at every size, the
    largest included, as its growth to that size is the number the issue sets a target on.
    """
    if stage == "train" and n > 10_000:
        return 1
    if stage == "bench_scoring" and n >= settings.one_scoring_run_from:
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
        overrides = list(settings.train_overrides) if stage in ("train", "train_read") else []
        runs = _runs(stage, n, settings)
        say(f"speed: {stage} at {n:,} customers ({runs} run{'s' * (runs > 1)})")
        try:
            out[stage] = measure(stage, n, workdir, overrides, runs, log)
        except StageError as err:
            out[stage] = f"failed: {str(err).splitlines()[0][:120]}"
    shutil.rmtree(workdir, ignore_errors=True)
    return out


def _touch_probe(settings: SpeedSettings, say) -> dict[str, dict[str, Any]]:
    """Medians of writing each of ``settings.touch_gib`` GiB of fresh memory (``_touch``).

    The sizes alternate run by run, so that a change of the machine's state during the probe
    falls on both.
    """
    settings.workdir.mkdir(parents=True, exist_ok=True)
    log = settings.workdir / "touch.log"
    sizes = ", ".join(f"{g:g}" for g in settings.touch_gib)
    say(f"speed: first touch of {sizes} GiB of fresh memory ({settings.repeats} runs each)")
    runs: dict[float, list[dict[str, Any]]] = {g: [] for g in settings.touch_gib}
    for _ in range(settings.repeats):
        for gib in settings.touch_gib:
            log.write_text("")
            runs[gib].append(run_child("touch", 0, settings.workdir, [], log, gib=gib)[0])
    return {f"{gib:g}": _touch_summary(gib, results) for gib, results in runs.items()}


def _touch_summary(gib: float, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Median wall, user and system seconds of one probe size's runs, and every run's time."""
    seconds = [r["seconds"] for r in results]
    return {
        "gib": gib,
        "seconds": statistics.median(seconds),
        "user": statistics.median(r["cpu"]["seconds"][0] for r in results),
        "system": statistics.median(r["cpu"]["seconds"][1] for r in results),
        "runs": seconds,
    }


def _part_seconds(m: Measurement, key: str) -> float | None:
    """Wall-clock seconds of one timed part of a stage (``seconds``: the stage's own)."""
    return m.seconds if key == "seconds" else m.extra.get(key)


def _cell(m: Measurement | str | None, key: str = "seconds") -> str:
    if m is None:
        return "—"
    if isinstance(m, str):
        return m
    value = m.peak_gib if key == "peak" else _part_seconds(m, key)
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
    ("reading the training data alone (`load_training_data`)", "train_read", "seconds"),
    ("scoring end to end (`Predictor.score`)", "score", "seconds"),
    ("  of which features (scoring frame)", "score", "features_seconds"),
    ("  bare XGBoost predict (all boosters)", "score", "bare_seconds"),
)
PEAK_ROWS = (
    ("generation + write", "generate"),
    ("read + validate", "validate"),
    ("reading the training data alone", "train_read"),
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
                ta, tb = _part_seconds(ma, key), _part_seconds(mb, key)
                if ta and tb:
                    lines.append(
                        f"{label.strip()}: x{tb / ta:.1f} time for x{b / a:.0f} customers "
                        f"({a:,} → {b:,})"
                    )
    return "\n".join(f"- {line}" for line in lines)


def _cpu_split(m: Measurement | str | None, key: str) -> tuple[float, float, float] | None:
    """Wall, user CPU and system CPU seconds of one timed part (``None``: not measured)."""
    if not isinstance(m, Measurement) or key not in m.extra.get("cpu", {}):
        return None
    user, system = m.extra["cpu"][key]
    return _part_seconds(m, key), user, system


def _cpu_md(results: dict[int, dict]) -> str:
    """Wall, user and system seconds of every timed part at the two largest sizes."""
    sizes = list(results)
    if len(sizes) < 2:
        return ""
    a, b = sizes[-2], sizes[-1]
    lines = [
        f"| wall / user CPU / system CPU, seconds | {a:,} | {b:,} | growth x{b / a:.0f} |",
        "|---|---|---|---|",
    ]
    for label, stage, key in ROWS:
        sa = _cpu_split(results[a].get(stage), key)
        sb = _cpu_split(results[b].get(stage), key)
        if sa is None or sb is None:
            continue
        cells = [" / ".join(f"{v:,.1f}" for v in split) for split in (sa, sb)]
        growth = " / ".join(
            f"x{vb / va:.1f}" if va > 0 else "—" for va, vb in zip(sa, sb, strict=True)
        )
        lines.append(f"| {label.strip()} | {cells[0]} | {cells[1]} | {growth} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def _touch_md(touch: dict[str, dict[str, Any]]) -> str:
    """The first-touch probe's table and the growth of its seconds per GiB."""
    if not touch:
        return ""
    lines = [
        "| fresh memory written, GiB | seconds (median) | seconds per GiB | user / system CPU "
        "seconds | runs |",
        "|---|---|---|---|---|",
    ]
    for t in touch.values():
        runs = ", ".join(f"{x:.2f}" for x in t["runs"])
        lines.append(
            f"| {t['gib']:g} | {t['seconds']:.2f} | {t['seconds'] / t['gib']:.2f} | "
            f"{t['user']:.2f} / {t['system']:.2f} | {runs} |"
        )
    first, last = list(touch.values())[0], list(touch.values())[-1]
    if last["gib"] > first["gib"] and first["seconds"] > 0:
        lines.append(
            f"\nx{last['gib'] / first['gib']:.0f} the memory took "
            f"x{last['seconds'] / first['seconds']:.1f} the time."
        )
    return "\n".join(lines)


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
        "several runs (see the runs table), each timed part its own median; training runs "
        "once above 10,000 customers, so its read is also timed alone, as often as the "
        "other stages. Training uses "
        f"`configs/default.yaml` with {listed}, from the Parquet files as `predictor train` "
        "reads them (its time includes that read): above `cutoffs.sample_customers` "
        "(200,000) customers it reads and validates batch by batch and learns from that "
        "seeded sample of whole customers; the cap on customers per cutoff bounds the "
        "fitting rows. Sizes of "
        f"{LOCK_FROM:,} customers and more run under `flock {LOCK}`.\n"
    )


def _machine_md(results: dict[int, dict], touch: dict[str, dict[str, Any]]) -> list[str]:
    """The CPU split of every timed part and the first-touch probe, where measured."""
    parts = []
    cpu, probe = _cpu_md(results), _touch_md(touch)
    if cpu:
        parts += [
            "**Computation and memory.** Each timed part's wall-clock seconds against the CPU "
            "seconds of its process (`getrusage`, every thread): user time is the stage's own "
            "computation; system time is the kernel's, nearly all of it mapping and zeroing "
            "fresh memory the stage touches for the first time.\n",
            cpu + "\n",
        ]
    if probe:
        parts += [
            "**The machine's price of fresh memory.** A child process with the stages' "
            "settings writes N GiB of new arrays and keeps them (no predictor code); medians "
            "of runs that alternate the sizes.\n",
            probe + "\n",
        ]
    return parts


def render(
    results: dict[int, dict],
    overrides: tuple[str, ...],
    touch: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The speed section's markdown from per-size measurements and the first-touch probe."""
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
            *_machine_md(results, touch or {}),
            runs_md + "\n",
        ]
    )


def to_data(
    results: dict[int, dict],
    overrides: tuple[str, ...],
    touch: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """JSON-ready measurements (``from_data`` reads them back)."""
    sizes = {
        str(n): {s: (m.__dict__ if isinstance(m, Measurement) else m) for s, m in r.items()}
        for n, r in results.items()
    }
    return {"sizes": sizes, "overrides": list(overrides), "touch": touch or {}}


def from_data(
    data: dict[str, Any],
) -> tuple[dict[int, dict], tuple[str, ...], dict[str, dict[str, Any]]]:
    """Measurements saved by ``to_data`` (runs saved before the probe have no ``touch``)."""
    results = {
        int(n): {s: (Measurement(**m) if isinstance(m, dict) else m) for s, m in r.items()}
        for n, r in data["sizes"].items()
    }
    return results, tuple(data["overrides"]), data.get("touch", {})


def merge(parts: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Markdown and data of several speed runs (e.g. 10k/100k and a separate 1M run)."""
    results: dict[int, dict] = {}
    overrides: tuple[str, ...] = ()
    touch: dict[str, dict[str, Any]] = {}
    for part in parts:
        more, overrides, probe = from_data(part)
        results.update(more)
        touch = probe or touch
    return render(results, overrides, touch), to_data(results, overrides, touch)


def run(settings: SpeedSettings, say):
    """All sizes; markdown with the time, memory and throughput tables."""
    from bench_common import SectionResult, Timer

    clock = Timer()
    results = {n: _size(n, settings, say) for n in settings.sizes}
    touch = _touch_probe(settings, say) if settings.touch_gib else {}
    text = render(results, settings.train_overrides, touch)
    data = to_data(results, settings.train_overrides, touch)
    return SectionResult("Speed and memory", text, [], data, clock.seconds)


if __name__ == "__main__":
    raise SystemExit(_child_main())
