"""What the commands share: loading a playbook and reporting its problems, and
feeding an event file to runners with a progress line."""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import IO, TYPE_CHECKING

from .errors import PlaybookError

if TYPE_CHECKING:
    from .compiler import CompiledPlaybook
    from .events import Event
    from .reader import Quarantined
    from .runner import Runner

    Items = Iterable[tuple[int, Event | Quarantined]]


def load_or_report(path: str) -> CompiledPlaybook | None:
    """Load and compile a playbook; on failure print every problem as
    ``file:line:col: message`` on stderr and return None (the command exits 1)."""
    from .compiler import load

    try:
        return load(path)
    except PlaybookError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
    except OSError as err:
        print(f"{path}:0:0: cannot read: {err.strerror or err}", file=sys.stderr)
    return None


class _Progress:
    """A one-line progress display on a terminal; silent otherwise."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, count: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        rate = count / max(now - self.started, 1e-9)
        self.stream.write(f"\r  {count:,} events  {rate:,.0f}/s ")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 40 + "\r")
            self.stream.flush()


def first_event(items: Items) -> tuple[str | None, Iterator[tuple[int, Event | Quarantined]]]:
    """The id of the stream's first event (None if it has none), and the whole stream
    again, nothing consumed.  Raises OSError when the input cannot be read."""
    from .events import Event

    it = iter(items)
    head: list[tuple[int, Event | Quarantined]] = []
    first: str | None = None
    for item in it:
        head.append(item)
        if isinstance(item[1], Event):
            first = item[1].id
            break
    return first, itertools.chain(head, it)


def feed_events(source: str | Items, runners: Sequence[Runner], until: datetime | None,
                quarantined: list[Quarantined]) -> None:
    """Replay the event file ``source`` (``-`` for stdin; or items already being read)
    through each runner: a quarantined line is appended to ``quarantined`` and counted
    in every runner's stats; then each runner advances its clock to ``until`` and
    flushes.  A progress line shows on a terminal.  Raises OSError when the file cannot
    be read."""
    from .reader import Quarantined, read_events

    items = read_events(source) if isinstance(source, str) else source
    progress = _Progress(sys.stderr)
    try:
        for _, item in items:
            if isinstance(item, Quarantined):
                quarantined.append(item)
                for runner in runners:
                    runner.stats.quarantined[item.reason] += 1
                continue
            for runner in runners:
                runner.feed(item)
            progress.update(runners[0].stats.read)
        for runner in runners:
            if until is not None:
                runner.advance_to(until)
            runner.flush()
    finally:
        progress.done()
