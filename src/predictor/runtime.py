"""Process-wide settings for large inputs, applied once by the entry points.

At a million customers the event tables hold tens of millions of rows, and each column-sized
temporary array is fresh memory from the kernel. Two settings make that cheaper.

**Huge pages.** By default NumPy asks the kernel to back every
large array with transparent huge pages (``madvise(MADV_HUGEPAGE)``). Where the kernel honours
that advice with direct compaction (``/sys/kernel/mm/transparent_hugepage/defrag`` set to
``madvise``, a common default), the first touch of each new array can stall while the kernel
assembles 2 MiB pages; the arrays are short-lived, so the huge pages rarely pay back.
One cutoff's features for 1,000,000 customers took 17.1-17.9 s with the advice and 12.3-16.1 s
without it on the 2-core benchmark machine (benchmarks/analysis.md, "Huge pages"). Nothing
numerical changes: the same arrays live in ordinary pages.

**Freed memory kept for reuse** (glibc only). glibc hands every allocation above a threshold
(at most 32 MiB) to the kernel with ``mmap`` and returns it on ``free``, so each new column-sized
temporary is faulted in page by page again. With ``mmap`` switched off for the heap
(``M_MMAP_MAX`` 0) and up to 1 GiB of free memory kept at its top (``M_TRIM_THRESHOLD``), the
next temporary reuses pages already mapped. On the benchmark machine (a virtual machine, where a
first touch is expensive) one cutoff's features for 1,000,000 customers took 14.1-16.0 s
instead of 16.6-19.0 s and the Day One view 5.3-5.7 s instead of 7.3-7.4 s. The cost is memory
where many large arrays live at once: 0.6 GiB more peak for those features, 1.7 GiB more for
scoring a million customers in memory (10.7 GiB), while the command's chunked scoring and its
sampled training stay at 2.3 and 6.9 GiB (benchmarks/analysis.md, "Freed memory kept" and the
speed rerun after it). The memory goes back to the system when the command ends.
``PREDICTOR_KEEP_FREED_MEMORY=0`` in the environment leaves glibc as it is, for a process
that must stay small after a large step.

The ``predictor`` command calls ``tune_for_large_tables`` before any command runs, and the
speed benchmark's stage processes do the same. Code that imports the library leaves NumPy as
its host process set it; call ``tune_for_large_tables()`` there to get the same behaviour.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

KEEP_FREED_ENV = "PREDICTOR_KEEP_FREED_MEMORY"
"""Environment variable: ``0`` leaves glibc's allocator as it is (see module)."""

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
TRIM_THRESHOLD_BYTES = 1 << 30
"""Free memory glibc keeps at the top of its heap instead of returning it to the kernel."""


def tune_for_large_tables() -> None:
    """Switch off NumPy's huge-page advice and keep freed memory for reuse (see module)."""
    toggle = _numpy_hugepage_toggle()
    if toggle is not None:
        toggle(False)
    if os.environ.get(KEEP_FREED_ENV, "1").strip() != "0":
        keep_freed_memory()


def keep_freed_memory() -> bool:
    """Ask glibc to serve large allocations from its heap and keep freed memory (see module).

    Returns whether the allocator took both settings; ``False`` where the C library is not
    glibc (musl, macOS, Windows), which is then left as it is.
    """
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


def _glibc_mallopt() -> Callable[[int, int], int] | None:
    """The C library's ``mallopt`` if it is glibc (``None`` elsewhere)."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def _numpy_hugepage_toggle() -> Callable[[bool], bool] | None:
    """NumPy's switch of the huge-page advice (``None`` in a NumPy without one).

    The same switch as the ``NUMPY_MADVISE_HUGEPAGE=0`` environment variable, which NumPy reads
    only when it is first imported; this one takes effect for arrays allocated afterwards.
    """
    try:
        from numpy._core import multiarray
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    return getattr(multiarray, "_set_madvise_hugepage", None)
