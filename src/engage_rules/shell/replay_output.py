"""A replay's action output that survives interruption.

A replay into a durable store can be killed at any moment and run again: the store skips
the events it has committed and the run goes on where the commits ended.  Its output
must not depend on that: the actions printed (or written with ``--actions-out``) by the
run that completes are exactly those of one uninterrupted run.

Each run of a replay is recorded in the store under a key made of the playbook's name and
the input's first event id (:func:`replay_key`); the store remembers which outbox rows
each run committed (``Store.begin_replay``).  When a replay starts again, the actions its
earlier runs committed are taken from the store, in commit order, and:

- on standard output, printed again before the new ones — the output of the run that
  completes is the whole output, whatever happened before;
- in an ``--actions-out`` file, appended where the file ends: the lines already in the
  file are checked against the committed actions (a partial last line, cut by the
  interruption, is dropped) and only what is missing is added.  A file that does not
  hold this replay's output is written anew.

Actions are only ever written once their batch is durable, so the file never holds an
action the store does not.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING

from ..i18n import _

if TYPE_CHECKING:
    from ..model.decision import ActionRecord
    from ..store import Store

#: Outbox rows fetched from the store at a time while resuming.
PAGE = 2000


def replay_key(playbook: str, first_event_id: str | None) -> str:
    """The key of a replay: its playbook's name and its input's first event id."""
    raw = f"{playbook}\x1f{first_event_id or ''}".encode()
    return "replay:" + hashlib.blake2b(raw, digest_size=16).hexdigest()


def committed_lines(store: Store, ranges: Sequence[tuple[int, int]]) -> Iterator[bytes]:
    """The JSON lines (without newline) of the actions in the store's outbox ranges."""
    for first, last in ranges:
        after = first - 1
        while after < last:
            items = store.outbox(after=after, limit=min(PAGE, last - after))
            if not items:
                break
            for item in items:
                if item.seq > last:
                    return
                yield item.action.to_json_bytes()
            after = items[-1].seq


class ActionOutput:
    """Where a replay's actions go: standard output, or a file that grows on resume."""

    def __init__(self, path: str | None, stdout: IO[bytes]) -> None:
        self.path = path
        self._stdout = stdout
        self._file: IO[bytes] | None = None
        #: Actions of earlier runs printed or found in the file again: their types.
        self.resumed: list[str] = []
        #: Why an --actions-out file was written anew (None when it was not).
        self.rewritten: str | None = None

    @property
    def stream(self) -> IO[bytes]:
        return self._file if self._file is not None else self._stdout

    def start(self, store: Store, key: str) -> None:
        """Begin the replay ``key`` in ``store``: bring the output up to date with what
        earlier runs of it committed."""
        ranges = store.begin_replay(key)
        if self.path is None:
            out = self._stdout
            for line in committed_lines(store, ranges):
                self._note(line)
                out.write(line + b"\n")
            out.flush()
            return
        if not ranges:  # a new replay: a new file
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed by close()
            return
        self._file = self._open_resumed(self.path, store, ranges)

    def _note(self, line: bytes) -> None:
        # The type, for the summary's action counts (a cheap scan: `"type":"..."`).
        i = line.find(b'"type":"')
        if i >= 0:
            j = line.find(b'"', i + 8)
            self.resumed.append(line[i + 8 : j].decode("utf-8", "replace"))

    def _open_resumed(
        self, path: str, store: Store, ranges: Sequence[tuple[int, int]]
    ) -> IO[bytes]:
        """Open ``path`` for appending after the committed lines it already holds."""
        f: IO[bytes]
        try:
            f = open(path, "r+b")  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            f = open(path, "wb")  # noqa: SIM115
        lines = committed_lines(store, ranges)
        end = 0
        missing: list[bytes] = []  # the first committed line the file lacks, if any
        matches = True
        for line in lines:
            got = f.readline()
            if got.endswith(b"\n") and got[:-1] == line:
                end += len(got)
                self._note(line)
                continue
            # The file ends here (nothing, or a line cut by the interruption), or it
            # holds a complete line that is not this replay's.
            matches = not got.endswith(b"\n")
            missing.append(line)
            break
        else:  # every committed line is there: anything after them must be a cut line
            rest = f.readline()
            matches = not rest.endswith(b"\n")
        if not matches:
            self.rewritten = _("{file} did not hold this replay's actions: written anew").format(
                file=path
            )
            self.resumed.clear()
            f.close()
            f = open(path, "wb")  # noqa: SIM115
            lines = committed_lines(store, ranges)
            missing = []
        else:
            f.seek(end)
            f.truncate()
        for line in itertools.chain(missing, lines):
            self._note(line)
            f.write(line + b"\n")
        f.flush()
        os.fsync(f.fileno())
        return f

    def write(self, actions: Sequence[ActionRecord]) -> None:
        out = self.stream
        out.write(b"".join(a.to_json_bytes() + b"\n" for a in actions))
        out.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
