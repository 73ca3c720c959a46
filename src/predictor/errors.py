"""The one base of every error ``predictor`` raises on purpose.

``PredictorError`` carries a one-line message meant for the user and the exit code the command
line returns for it (2: a usage or data problem the user can fix). The CLI turns any
``PredictorError`` into that message and code in one place; the traceback is shown only with
``--debug``. Library users can catch ``PredictorError`` to handle every expected failure.
"""

from __future__ import annotations


class PredictorError(Exception):
    """An expected failure with a message for the user.

    Attributes:
        exit_code: what ``predictor`` exits with (2 for usage and data problems).

    """

    exit_code: int = 2


class OutputError(PredictorError, OSError):
    """An output file or folder cannot be written (read-only, full disk, no permission).

    Also an ``OSError``, so code that caught the underlying OS error still catches it.
    """


class OutputLockedError(PredictorError):
    """Another run is writing the same output file."""


def os_reason(exc: OSError) -> str:
    """The short reason of an OS error (``"No space left on device"``), without the path."""
    if exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
