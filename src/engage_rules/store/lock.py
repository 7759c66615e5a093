"""One writer per store file: an advisory lock beside the database.

Two processes committing to one SQLite store would each hold their own copy of the
engine state and overwrite each other's members, and two live runtimes would deliver
the same outbox twice.  SQLite's own locks only serialise single transactions, so a
store that is about to write takes :class:`WriterLock` first: an exclusive ``flock`` on
``<database>.lock``, held until the store is closed (or the process dies: the kernel
releases it, so a ``kill -9`` never leaves a stale lock behind).  The file holds who
has it (process id, command line and since when), so a second writer is refused with
a message that names the first.  Readers (``report``, ``explain``, ``audit``,
``review list``) never take it: SQLite's WAL mode gives them a consistent snapshot
while the writer goes on.

The PostgreSQL store (postgres.py) takes a server-side advisory lock instead, and
refuses a second writer with the same message (:func:`busy`, :func:`writer_info`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from datetime import UTC, datetime

import orjson

from ..errors import StoreError


class WriterLock:
    """The exclusive writer lock of one store file (``<path>.lock``)."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self.path = db_path + ".lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`StoreError` naming the process that has it."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise StoreError(
                f"cannot create the lock file {self.path}: {err.strerror or err}"
            ) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise busy(self.db_path, holder) from None
        except OSError as err:
            os.close(fd)
            raise StoreError(f"cannot lock {self.path}: {err.strerror or err}") from err
        info = orjson.dumps(writer_info())
        # Who holds the lock is a courtesy for the next writer; the lock holds anyway.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, info, 0)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (idempotent).  The file stays: removing it would race."""
        fd = self._fd
        if fd is None:
            return
        self._fd = None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor releases the flock


def writer_info() -> dict[str, object]:
    """Who is taking a writer lock: this process's id, command line and the time."""
    return {
        "pid": os.getpid(),
        "command": " ".join([os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]]),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def busy(store: str, holder: dict[str, object]) -> StoreError:
    """The error of a second writer: ``store`` is held by ``holder`` (:func:`writer_info`
    as the first writer recorded it; empty when unknown)."""
    return StoreError(
        f"store {store} is being written by another process{_describe(holder)}; "
        "one process at a time may write a store: stop it first, or give this "
        "command another store"
    )


def _read(fd: int) -> dict[str, object]:
    try:
        raw = os.pread(fd, 4096, 0)
        value = orjson.loads(raw) if raw else {}
    except (OSError, orjson.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _describe(info: dict[str, object]) -> str:
    parts = []
    if isinstance(info.get("pid"), int):
        parts.append(f"pid {info['pid']}")
    if isinstance(info.get("command"), str) and info["command"]:
        parts.append(f"`{str(info['command'])[:200]}`")
    if isinstance(info.get("since"), str):
        parts.append(f"since {info['since']}")
    return f" ({', '.join(parts)})" if parts else ""
