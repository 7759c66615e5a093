"""JSON Lines event reading that never stops on bad input (docs/language.md, "Events").

Every non-blank line gives exactly one :class:`~engage_rules.model.events.Event` or one
:class:`Quarantined` (with a reason code from :data:`~engage_rules.model.events.REASONS`).  A
UTF-8 byte-order mark at the start of a file, or of any line, is skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..model.events import MAX_EVENT_BYTES, Event, EventError, parse_event


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A line that could not be read as an event, kept with why and where."""

    line: int
    reason: str
    message: str
    raw: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason, "message": self.message, "raw": self.raw}


def numbered_lines(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line number, stripped line)`` for each non-blank line."""
    for lineno, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if stripped:
            yield lineno, stripped


def parse_line(lineno: int, stripped: bytes) -> Event | Quarantined:
    """One non-blank line (stripped) as an event, or quarantined with why."""
    try:
        return parse_event(stripped)
    except EventError as err:
        return _quarantined(lineno, stripped, err)


def _quarantined(lineno: int, stripped: bytes, err: EventError) -> Quarantined:
    preview = stripped[:200].decode("utf-8", "replace")
    return Quarantined(lineno, err.reason, err.message, preview)


def read_lines(lines: Iterable[bytes]) -> Iterator[tuple[int, Event | Quarantined]]:
    """Yield ``(line number, Event or Quarantined)`` for each non-blank line."""
    # numbered_lines and parse_line, written out: a generator and a call less per line.
    for lineno, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        try:
            yield lineno, parse_event(stripped)
        except EventError as err:
            yield lineno, _quarantined(lineno, stripped, err)


def binary_lines(path: str | Path) -> Iterator[bytes]:
    """The raw lines of a file (``-``: standard input), oversized ones cut short (their
    remainder skipped, so they read as oversized)."""
    if str(path) == "-":
        yield from _binary_lines(sys.stdin.buffer)
        return
    with open(path, "rb") as f:
        yield from _binary_lines(f)


def _binary_lines(stream: IO[bytes]) -> Iterator[bytes]:
    # Read oversized lines without holding more than the limit (+1) in memory per line.
    while True:
        line = stream.readline(MAX_EVENT_BYTES + 2)
        if not line:
            return
        if len(line) > MAX_EVENT_BYTES + 1 and not line.endswith(b"\n"):
            # Skip the rest of an oversized line, then report it as oversized.
            while True:
                rest = stream.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line


def read_events(path: str | Path) -> Iterator[tuple[int, Event | Quarantined]]:
    """Read a JSON Lines file of events; ``-`` reads standard input."""
    if str(path) == "-":
        yield from read_lines(_binary_lines(sys.stdin.buffer))
        return
    with open(path, "rb") as f:
        yield from read_lines(_binary_lines(f))


#: Quarantined lines (and rule errors) a replay summary lists one by one.
MAX_ERRORS_SHOWN = 20
#: Line numbers listed per quarantine reason in a summary.
LINES_SHOWN = 10


def keep_for_summary(kept: list[Quarantined], q: Quarantined) -> None:
    """Append ``q`` to ``kept`` (lines in order) if a summary may show it: the first
    :data:`MAX_ERRORS_SHOWN` lines, and the first :data:`LINES_SHOWN` of each reason.  A
    run holds no more history of them; what any part of a stream kept, merged in line
    order through this again, is what the whole stream keeps."""
    if len(kept) < MAX_ERRORS_SHOWN or sum(1 for k in kept if k.reason == q.reason) < LINES_SHOWN:
        kept.append(q)
