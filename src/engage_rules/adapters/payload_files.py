"""Files of platform payloads and of events, for the commands adapters add
(``engage-rules telegram map``, ``engage-rules discord import``...).

* :func:`map_payload_file` reads one raw payload per line (JSON Lines) and writes the
  events each produces, one JSON line per event, through the adapter's own reading (the
  ``explain`` callable: payload → events and why there are none), so what it prints is
  what the live runtime would process.  A payload that produces no event prints nothing
  and a note on stderr says why; a line that is not JSON, or a payload the adapter cannot
  read, is reported on stderr with its line number.  Only a file that cannot be read
  fails the command (exit 1).
* :func:`write_events` writes events as JSON Lines to a file or standard output.
* :func:`import_export_file` runs an adapter's ``import`` command: it reads a history
  export (one JSON document), hands it to the adapter's reader, writes the events and
  reports the reader's notes and a summary on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any, Protocol

import orjson

from ..errors import PayloadError
from ..i18n import _
from ..model.events import Event, event_to_json

#: What an adapter's reading returns for one payload: its events, and why there are none.
Explain = Callable[[Any], "tuple[list[Event], str | None]"]


def event_line(event: Event) -> bytes:
    """One event as a JSON line (the shape events files hold)."""
    return orjson.dumps(event_to_json(event)) + b"\n"


def map_payload_file(
    path: str, explain: Explain, out: IO[bytes] | None = None, err: IO[str] | None = None
) -> int:
    """Map every payload of the JSON Lines file ``path``; the exit status (0, or 1 when
    the file cannot be read)."""
    out = out if out is not None else sys.stdout.buffer
    err = err if err is not None else sys.stderr
    try:
        with open(path, "rb") as f:
            lines = f.read().splitlines()
    except OSError as e:
        print(f"{path}: " + _("cannot read: {reason}").format(reason=e.strerror or e), file=err)
        return 1
    produced = 0
    for n, raw in enumerate(lines, 1):
        line = raw.removeprefix(b"\xef\xbb\xbf").strip()
        if not line:
            continue
        try:
            payload = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            print(f"{path}:{n}: " + _("not JSON: {reason}").format(reason=e), file=err)
            continue
        try:
            events, why = explain(payload)
        except PayloadError as e:
            text = _("cannot read this payload: {reason}").format(reason=e)
            print(f"{path}:{n}: {text}", file=err)
            continue
        if not events:
            text = _("no event: {why}").format(why=why or _("nothing to map"))
            print(f"{path}:{n}: {text}", file=err)
        for event in events:
            out.write(event_line(event))
            produced += 1
    out.flush()
    text = _("{lines} line(s), {events} event(s)").format(lines=len(lines), events=produced)
    print(f"{path}: {text}", file=err)
    return 0


def write_events(events: Iterable[Event], output: str | None) -> int:
    """Write ``events`` as JSON Lines to ``output`` (standard output when None or
    ``-``); how many were written.  Raises OSError when the file cannot be written."""
    if output is None or output == "-":
        return _write(events, sys.stdout.buffer)
    with open(output, "wb") as f:
        return _write(events, f)


def _write(events: Iterable[Event], out: IO[bytes]) -> int:
    count = 0
    for event in events:
        out.write(event_line(event))
        count += 1
    out.flush()
    return count


__all__ = ["Explain", "event_line", "map_payload_file", "write_events"]


class ExportReader(Protocol):
    """What an adapter's reader of a history export offers :func:`import_export_file`."""

    @property
    def community(self) -> str | None:
        """The community the events are for."""
        ...

    @property
    def messages(self) -> Sequence[Any]:
        """The messages the export held."""
        ...

    def events(self) -> Iterable[Event]:
        """The export's events, in time order."""
        ...


def import_export_file(
    path: str,
    output: str | None,
    read: Callable[[Any, Callable[[str], None]], ExportReader],
    what: str,
) -> int:
    """``engage-rules <platform> import``: the export at ``path`` → events (JSON Lines) to
    ``output`` (None: standard output).  ``read(export, note)`` makes the adapter's
    reader (raising PayloadError for a file that is not ``what``, e.g. "a Telegram
    Desktop chat export").  The exit status: 0, or 1 when a file cannot be read or
    written or is not such an export."""
    try:
        with open(path, "rb") as f:
            export = orjson.loads(f.read())
    except OSError as err:
        reason = err.strerror or err
        print(f"{path}: " + _("cannot read: {reason}").format(reason=reason), file=sys.stderr)
        return 1
    except orjson.JSONDecodeError as err:
        print(f"{path}: " + _("not JSON: {reason}").format(reason=err), file=sys.stderr)
        return 1
    notes: list[str] = []
    try:
        reader = read(export, notes.append)
    except PayloadError as err:
        text = _("not {what}: {reason}").format(what=what, reason=err)
        print(f"{path}: {text}", file=sys.stderr)
        return 1
    try:
        count = write_events(reader.events(), output)
    except OSError as err:
        text = _("cannot write: {reason}").format(reason=err.strerror or err)
        print(f"{output}: {text}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"{path}: {note}", file=sys.stderr)
    text = _("{messages} message(s), {events} event(s) for the community {community!r}")
    print(
        f"{path}: "
        + text.format(messages=len(reader.messages), events=count, community=reader.community),
        file=sys.stderr,
    )
    return 0
