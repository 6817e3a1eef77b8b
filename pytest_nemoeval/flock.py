"""Advisory file locks (flock) that say who holds them: the kernel drops a lock when its process dies, even
by SIGKILL, so a lock left by a killed run never blocks the next one."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class HeldLock:
    """An exclusive lock on `path`, held until release() or the end of this process."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def try_hold(path: Path, note: str) -> HeldLock | None:
    """Take the lock on `path` and write `note` (who holds it) into the file; None if another process holds
    it. The file is never removed: another process may be waiting on this very file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes (PEP 446)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, note.encode(), 0)
    return HeldLock(path, fd)


def holder(path: Path) -> str:
    """What the holder of the lock on `path` wrote about itself."""
    try:
        return path.read_text(errors="replace").strip() or "unknown process"
    except OSError:
        return "unknown process"


def is_held(path: Path) -> bool:
    """Whether some process holds the lock on `path` (False if the file does not exist)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # drops our shared lock, if we got it
    return False
