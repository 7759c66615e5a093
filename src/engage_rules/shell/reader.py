"""JSON Lines event reading that never stops on bad input (docs/language.md, "Events").

Every non-blank line gives exactly one :class:`~engage_rules.model.events.Event` or one
:class:`Quarantined` (with a reason code from :data:`~engage_rules.model.events.REASONS`).  A
UTF-8 byte-order mark at the start of a file, or of any line, is skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from io import BytesIO
from itertools import chain
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
    return chain.from_iterable(_path_blocks(path))


def _binary_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """:func:`binary_lines` of an open binary stream."""
    return chain.from_iterable(_line_blocks(stream))


#: How much of a stream is read at once.  Its lines are split out of these blocks in C
#: (``BytesIO.readlines``), which costs far less per line than a ``readline`` call each.
_BLOCK_BYTES = 1 << 20
#: What is kept of an oversized line: a line longer than this (its ``\\n`` included) is
#: cut to this length, as ``readline(MAX_EVENT_BYTES + 2)`` returns it.
_CUT = MAX_EVENT_BYTES + 2


def _path_blocks(path: str | Path) -> Iterator[list[bytes]]:
    """:func:`_line_blocks` of a file (``-``: standard input), opened when first read."""
    if str(path) == "-":
        yield from _line_blocks(sys.stdin.buffer)
        return
    with open(path, "rb") as f:
        yield from _line_blocks(f)


def _line_blocks(stream: IO[bytes]) -> Iterator[list[bytes]]:
    """The lines of ``stream`` (each with its ``\\n``, but the last if it has none), a
    list per block read.  A line longer than :data:`_CUT` bytes is cut to :data:`_CUT`
    bytes, and the rest of it is skipped as it is read rather than held in memory."""
    # read1 returns what is available (a pipe's lines as they arrive) instead of
    # waiting to fill the block; a stream without it reads whole blocks.
    read = getattr(stream, "read1", stream.read)
    tail = b""  # the start of a line whose end is not read yet
    skipping = False  # tail is a cut line whose rest is being skipped
    while True:
        block = read(_BLOCK_BYTES)
        if not block:
            break
        if skipping:
            end = block.find(b"\n")
            if end < 0:
                continue
            skipping = False
            yield [tail]
            tail = b""
            block = block[end + 1 :]
            if not block:
                continue
        lines = BytesIO(tail + block).readlines()
        tail = lines[-1]
        if tail.endswith(b"\n"):
            tail = b""
        else:
            lines.pop()
            if len(tail) >= _CUT:
                tail = tail[:_CUT]
                skipping = True
        if lines:
            if max(map(len, lines)) > _CUT:
                lines = [line[:_CUT] for line in lines]
            yield lines
    if tail:  # the last line, without a \n
        yield [tail]


def read_events(path: str | Path) -> Iterator[tuple[int, Event | Quarantined]]:
    """Read a JSON Lines file of events; ``-`` reads standard input."""
    return read_lines(binary_lines(path))


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
