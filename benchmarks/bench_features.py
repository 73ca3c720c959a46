"""Time and memory of the feature families on the built-in sample business.

Usage::

    python benchmarks/bench_features.py --customers 100000 [--mode subscription|retail]
        [--cutoff YYYY-MM-DD] [--fallback] [--tracemalloc]

Builds the sample with ``predictor.sample.generate_sample(n, seed=0, mode=...)`` (or, if that
module cannot be imported or with ``--fallback``, with the plain seeded generator the tests
share, ``predictor.testing.synthetic_tables``), then times, for the
cutoff view and the Day One view: the truncation (``predictor.timeline``), every family's
``compute`` and the join. Memory per step is the peak resident set size during the step minus
the RSS when it started (sampled every 5 ms from ``/proc/self/statm``, so Arrow buffers count
too); the process peak RSS is printed at the end. ``--tracemalloc`` reports the traced
(Python + NumPy) peak instead, which slows pandas code down a lot.
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pandas as pd

from predictor import timeline
from predictor.config import Config
from predictor.contract.tables import Tables
from predictor.features import DAY_ONE_DROPPED, FAMILIES, _normalise, activity, probabilistic
from predictor.testing import synthetic_tables

FALLBACK_RATES = {"orders": 10.0, "interactions": 45.0, "support_tickets": 1.5, "nps": 0.5}
MB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int:
    """Current resident set size in bytes (0 when /proc is not available)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:
        return 0


class _PeakRss:
    """Samples the RSS in a background thread and keeps the peak since the last reset."""

    def __init__(self, every: float = 0.005) -> None:
        self.every = every
        self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, _rss())

    def reset(self) -> int:
        """Start a new step; return the RSS now."""
        now = _rss()
        self.peak = now
        return now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _fallback_tables(n: int, seed: int) -> tuple[Tables, pd.Timestamp]:
    """The shared plain generator (``predictor.testing``), about 60 event rows per customer.

    Signups and events spread over three years from 2022-01-01; the cutoff is the last day of
    those three years (events of late signups run past it and are cut by the truncation).
    """
    start, days = pd.Timestamp("2022-01-01"), 3 * 365
    tables = synthetic_tables(
        n, seed, start=start, signup_days=days, event_days=days, rates=FALLBACK_RATES
    )
    return tables, start + pd.Timedelta(days=days - 1)


_SAMPLER: _PeakRss | None = None


def _measure(label: str, fn: Callable[[], Any], trace: bool, rows: list[tuple]) -> Any:
    if trace:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
    else:
        assert _SAMPLER is not None
        before = _SAMPLER.reset()
    began = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - began
    if trace:
        peak = (tracemalloc.get_traced_memory()[1] - before) / MB
    else:
        peak = (max(_SAMPLER.peak, _rss()) - before) / MB
    cols = out.shape[1] if isinstance(out, pd.DataFrame) else ""
    rows.append((label, seconds, peak, cols))
    print(f"  {label:<28} {seconds:8.2f} s {peak:10.0f} MB {cols!s:>6}", flush=True)
    return out


def _view(
    name: str,
    truncate: Callable[[], Tables],
    as_of: Callable[[Tables], pd.Series],
    config: Config,
    trace: bool,
) -> list[tuple]:
    rows: list[tuple] = []
    memory = "peak(traced)" if trace else "peak(+RSS)"
    print(f"\n{name + ' view':<30} {'time':>10} {memory:>13} {'cols':>6}")
    visible = _measure("truncate (timeline)", truncate, trace, rows)
    limits = as_of(visible)
    parts = [
        _measure(family, lambda f=fn: f(visible, limits, config), trace, rows)
        for family, fn in FAMILIES.items()
    ]
    if name != "day_one":
        parts.append(
            _measure(
                "bgnbd (fit + predict)",
                lambda: probabilistic.compute(visible, limits, config),
                trace,
                rows,
            )
        )
    joined = pd.concat(parts[: len(FAMILIES)], axis=1)
    parts.insert(len(FAMILIES), _measure("activity", lambda: activity.derive(joined), trace, rows))
    frame = _measure("join + normalise", lambda: _normalise(pd.concat(parts, axis=1)), trace, rows)
    if name == "day_one":
        frame = frame.drop(columns=[c for c in DAY_ONE_DROPPED if c in frame.columns])
    total = sum(r[1] for r in rows)
    print(f"  {'TOTAL':<28} {total:8.2f} s {'':>13} {frame.shape[1]:>6}  ({len(frame):,} rows)")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--mode", choices=["subscription", "retail"], default="subscription")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cutoff", default=None, help="Default: the last day of the data.")
    parser.add_argument(
        "--fallback",
        action="store_true",
        help="Use the plain generator (predictor.testing) instead of the sample.",
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="Report traced allocations (slow) not RSS."
    )
    args = parser.parse_args(argv)
    trace = args.tracemalloc

    began = time.perf_counter()
    try:
        if args.fallback:
            raise ImportError("--fallback")
        from predictor.sample import generate_sample
    except ImportError:
        print("using predictor.testing.synthetic_tables (not predictor.sample)")
        tables, end = _fallback_tables(args.customers, args.seed)
    else:
        sample = generate_sample(args.customers, seed=args.seed, mode=args.mode)
        tables, end = sample.tables, sample.end_date
    print(
        f"data: {args.customers:,} customers ({args.mode}) in {time.perf_counter() - began:.1f} s"
    )
    for name, frame in tables.items():
        print(f"  {name:<16} {len(frame):>12,} rows")
    print(
        f"  {'events total':<16} {sum(len(f) for n, f in tables.items() if n != 'customers'):>12,}"
    )

    config = Config()
    cutoff = pd.Timestamp(args.cutoff) if args.cutoff else end
    window = config.day_one.window_days
    global _SAMPLER
    if trace:
        tracemalloc.start()
    else:
        _SAMPLER = _PeakRss()

    def cutoff_as_of(visible: Tables) -> pd.Series:
        ids = pd.Index(visible.customers["customer_id"], name="customer_id")
        return pd.Series(timeline.day_end(cutoff), index=ids)

    _view(
        f"cutoff {cutoff.date()}",
        lambda: timeline.truncate(tables, cutoff),
        cutoff_as_of,
        config,
        trace,
    )
    _view(
        "day_one",
        lambda: timeline.truncate_day_one(tables, window),
        lambda visible: timeline.day_one_windows(visible.customers, window),
        config,
        trace,
    )
    if trace:
        tracemalloc.stop()
    elif _SAMPLER is not None:
        _SAMPLER.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS (data generation included): {rss:,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
