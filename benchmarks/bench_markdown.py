"""Markdown helpers of the benchmark suite: tables from DataFrames and the environment header."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd

LIBRARIES = ("predictor", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "xgboost")


def fmt(value: object, digits: int = 3) -> str:
    """A cell: floats with ``digits`` significant decimals, NaN as an em dash, text as is."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


def table(frame: pd.DataFrame, index: bool = True, digits: int = 3) -> str:
    """A GitHub markdown table of ``frame`` (the index as the first column when ``index``)."""
    if index:
        frame = frame.reset_index()
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = [
        "| " + " | ".join(fmt(v, digits) for v in row) + " |"
        for row in frame.astype(object).itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return float("nan")


def _load() -> str:
    try:
        return " / ".join(f"{v:.1f}" for v in os.getloadavg()) + " (1 / 5 / 15 min)"
    except OSError:
        return "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(command: str) -> str:
    """The header block: date, command, machine, Python and library versions."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    libs = ", ".join(f"{name} {_version(name)}" for name in LIBRARIES)
    lines = [
        f"- **Date:** {now}",
        f"- **Command:** `{command}`",
        f"- **Machine:** {os.cpu_count()} cores ({_cpu_model()}), {_ram_gib():.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}",
        f"- **Load average at start:** {_load()} (other jobs sharing the machine slow every "
        "timing down)",
        f"- **Python:** {sys.version.split()[0]} ({platform.python_implementation()})",
        f"- **Libraries:** {libs}",
    ]
    return "\n".join(lines)
