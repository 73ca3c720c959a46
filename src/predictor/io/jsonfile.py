"""JSON encoding: plain JSON types from timestamps, numpy values, models and dataclasses."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from predictor.io.atomic import write_text_atomic


def write_json_atomic(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` as indented UTF-8 JSON, atomically.

    Timestamps and dates become ISO strings, numpy scalars plain numbers, NaN and infinities
    ``null`` (strict JSON), paths strings, pydantic models and dataclasses their fields.
    """
    text = json.dumps(_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_text_atomic(text, path)


def _jsonable(obj: Any) -> Any:
    """Convert ``obj`` into plain JSON types (see ``write_json_atomic``)."""
    if isinstance(obj, BaseModel):
        return _jsonable(obj.model_dump(mode="json"))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset | np.ndarray | pd.Series | pd.Index):
        return [_jsonable(v) for v in list(obj)]
    if isinstance(obj, np.datetime64):
        obj = pd.Timestamp(obj)
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or obj is pd.NaT or obj is pd.NA:
        return None
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, dt.date | dt.datetime | pd.Timestamp):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, types.SimpleNamespace):
        return _jsonable(vars(obj))
    return str(obj)
