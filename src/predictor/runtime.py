"""Process-wide settings for large inputs, applied once by the entry points.

At a million customers the event tables hold tens of millions of rows, and each column-sized
temporary array is fresh memory from the kernel. By default NumPy asks the kernel to back every
large array with transparent huge pages (``madvise(MADV_HUGEPAGE)``). Where the kernel honours
that advice with direct compaction (``/sys/kernel/mm/transparent_hugepage/defrag`` set to
``madvise``, a common default), the first touch of each new array can stall while the kernel
assembles 2 MiB pages; the arrays are short-lived, so the huge pages rarely pay back.
One cutoff's features for 1,000,000 customers took 17.1-17.9 s with the advice and 12.3-16.1 s
without it on the 2-core benchmark machine (benchmarks/analysis.md, "Huge pages"). Nothing
numerical changes: the same arrays live in ordinary pages.

The ``predictor`` command calls ``tune_for_large_tables`` before any command runs, and the
speed benchmark's stage processes do the same. Code that imports the library leaves NumPy as
its host process set it; call ``tune_for_large_tables()`` there to get the same behaviour.
"""

from __future__ import annotations

from collections.abc import Callable


def tune_for_large_tables() -> None:
    """Stop NumPy from advising transparent huge pages for its large arrays (see module)."""
    toggle = _numpy_hugepage_toggle()
    if toggle is not None:
        toggle(False)


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
