"""The process-wide setting for large inputs: NumPy's huge-page advice is switched off."""

from __future__ import annotations

import pytest

from predictor import runtime


@pytest.fixture
def numpy_advice():
    """NumPy's huge-page advice, restored after the test."""
    toggle = runtime._numpy_hugepage_toggle()
    if toggle is None:
        pytest.skip("this NumPy has no huge-page switch")
    before = toggle(True)
    yield toggle
    toggle(before)


def test_tune_for_large_tables_turns_the_advice_off(numpy_advice):
    runtime.tune_for_large_tables()
    assert numpy_advice(False) is False  # the switch returns the setting it replaces


def test_the_cli_applies_it_before_a_command(numpy_advice):
    from typer.testing import CliRunner

    from predictor.cli import app

    result = CliRunner().invoke(app, ["config-schema"])
    assert result.exit_code == 0, result.output
    assert numpy_advice(False) is False


PROBE = """
import ctypes, json, sys
import numpy as np
from predictor import runtime

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
runtime.tune_for_large_tables()
before = libc.mallinfo2().hblks
block = np.ones(8 << 20)  # 64 MiB
mapped = libc.mallinfo2().hblks - before
del block
kept = libc.mallinfo2().fordblks
arena = libc.mallinfo2().arena
again = np.ones(8 << 20)
print(json.dumps({"mapped": mapped, "kept": kept, "grew": libc.mallinfo2().arena - arena}))
"""


def _probe(env_value: str | None) -> dict:
    """Allocate, free and allocate again 64 MiB in a fresh process after the entry setting."""
    import ctypes
    import json
    import os
    import subprocess
    import sys

    if runtime._glibc_mallopt() is None or not hasattr(ctypes.CDLL(None), "mallinfo2"):
        pytest.skip("the C library is not glibc 2.33 or later")
    env = {k: v for k, v in os.environ.items() if k != runtime.KEEP_FREED_ENV}
    if env_value is not None:
        env[runtime.KEEP_FREED_ENV] = env_value
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_freed_memory_is_kept_and_reused_by_the_next_large_array():
    found = _probe(None)
    assert found["mapped"] == 0  # served from the heap, not a fresh mapping
    assert found["kept"] >= 64 << 20  # freed, but kept by the process
    assert found["grew"] == 0  # the next array of that size reuses it


def test_the_environment_can_leave_the_allocator_alone():
    found = _probe("0")
    assert found["mapped"] == 1  # glibc's default: a large block is its own mapping
    assert found["kept"] < 64 << 20
