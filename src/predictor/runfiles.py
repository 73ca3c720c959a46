"""Files a run keeps beside its outputs: the output lock, the spill folder, and leftovers.

- ``output_lock(path)``: a lock file ``.<name>.lock`` beside an output, created with
  ``O_CREAT | O_EXCL`` and holding the owner's pid and host. A second run writing the same
  output fails with ``OutputLockedError``; a lock whose process is gone (killed with -9) is
  stale and taken over.
- ``spill_folder(parent)``: a temporary folder ``.predictor-spill-<pid>-<random>`` beside the
  output (or in a scratch folder), removed when the run ends, an interrupt included.
- ``sweep_leftovers(folder, names)``: removes what killed runs left (spill folders of dead
  processes, ``.<name>.*.tmp`` files of outputs the caller holds the lock of) and returns it.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from predictor.errors import OutputError, OutputLockedError, os_reason

SPILL_PREFIX = ".predictor-spill-"
FRESH_LOCK_SECONDS = 60.0
"""An unreadable lock file younger than this is taken as being written by a live run."""


def lock_path(path: Path) -> Path:
    """The lock file of an output: ``.<name>.lock`` beside it."""
    return path.with_name(f".{path.name}.lock")


@contextmanager
def output_lock(*paths: Path) -> Iterator[None]:
    """Hold the lock of every output in ``paths`` for the duration of the block."""
    with ExitStack() as stack:
        for path in dict.fromkeys(Path(p).absolute() for p in paths):
            stack.enter_context(_one_lock(path))
        yield


@contextmanager
def _one_lock(path: Path) -> Iterator[None]:
    lock = lock_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {path.parent}: {os_reason(exc)}") from None
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(lock)
            if owner is not None:
                raise OutputLockedError(
                    f"{path} is being written by another predictor run ({owner}); wait for it "
                    f"to finish, or remove {lock} if that run is gone"
                ) from None
            lock.unlink(missing_ok=True)
            continue
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {os_reason(exc)}") from None
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()} {socket.gethostname()}\n")
        break
    else:
        raise OutputLockedError(f"{path}: cannot take the lock {lock}")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _owner(lock: Path) -> str | None:
    """Who holds ``lock`` (``"pid 12 on host"``), or ``None`` when the lock is stale."""
    try:
        text = lock.read_text().split()
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return None
    if len(text) < 2 or not text[0].isdigit():
        return None if age > FRESH_LOCK_SECONDS else "a run that is starting"
    pid, host = int(text[0]), text[1]
    if host != socket.gethostname():
        return f"pid {pid} on {host}"
    return f"pid {pid}" if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def spill_folder(parent: Path) -> Iterator[Path]:
    """A fresh ``.predictor-spill-<pid>-*`` folder in ``parent``, removed on exit."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-", dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot create a spill folder in {parent}: {os_reason(exc)}") from None
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep_leftovers(folder: Path, outputs: Sequence[Path] = ()) -> list[Path]:
    """Remove what runs killed without cleanup left in ``folder``; return what was removed.

    Spill folders count as left over when their process (the pid in the name) is gone;
    ``.<name>.*.tmp`` files count for the ``outputs`` whose lock the caller holds, since no
    live run can be writing them.
    """
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.glob(f"{SPILL_PREFIX}*"):
        pid = entry.name.removeprefix(SPILL_PREFIX).split("-", 1)[0]
        if entry.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    for out in outputs:
        for entry in folder.glob(f".{Path(out).name}.*.tmp"):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
