"""The event reader's fuzz targets: what every input must satisfy.

The hypothesis suite (``tests/fuzz/test_fuzz_reader.py``) and the atheris harness
(``fuzz/atheris_reader.py``) drive the same functions, which raise AssertionError when an
invariant breaks (and let any other exception through: that is a finding too):

* :func:`check_reader` reads bytes as a JSON Lines file is read
  (:func:`engage_rules.shell.reader.read_lines`): it never raises, yields exactly one
  :class:`~engage_rules.model.events.Event` or :class:`~engage_rules.shell.reader.Quarantined` per
  non-blank line, in order and with its line number, every quarantine reason is one of
  :data:`~engage_rules.model.events.REASONS`, and every event is storable (:func:`check_event`);
* :func:`check_event_obj` does the same for :func:`engage_rules.model.events.event_from_obj`,
  which platform adapters build events with, given any Python value.

An event is storable when its JSON form encodes (orjson, as the stores do) and parses back
to the same event, its data holds JSON types only, nested at most
:data:`~engage_rules.model.events.MAX_EVENT_DEPTH` levels (the event is level 1), integers in 64
bits, finite floats and valid Unicode, and its times lie in the documented window
(years 1970 through 2200, UTC) and convert to any time zone.
"""

from __future__ import annotations

import io
import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from ..model.events import (
    MAX_EVENT_DEPTH,
    MAX_INT,
    MAX_TIME,
    MIN_INT,
    MIN_TIME,
    REASONS,
    Event,
    EventError,
    event_from_obj,
    event_to_json,
    parse_event,
)
from ..shell.reader import Quarantined, _binary_lines, read_lines

#: The zones furthest from UTC: an event's time must convert to both.
_FAR_ZONES = (ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Etc/GMT+12"))


def _fail(message: str) -> AssertionError:
    return AssertionError(message)


def _check_value(value: Any, path: str, depth: int) -> None:
    """``value`` at nesting level ``depth`` is JSON data an event may hold."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise _fail(f"{path}: integer {value} is beyond 64 bits")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(f"{path}: {value} is not finite")
        return
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise _fail(f"{path}: text with a lone surrogate") from None
        return
    if isinstance(value, dict | list | tuple):
        if depth > MAX_EVENT_DEPTH:
            raise _fail(f"{path}: nested {depth} levels deep")
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    raise _fail(f"{path}: key {k!r} is not text")
                _check_value(k, f"{path}.<key>", depth + 1)
                _check_value(v, f"{path}.{k}", depth + 1)
        else:
            for i, v in enumerate(value):
                _check_value(v, f"{path}[{i}]", depth + 1)
        return
    raise _fail(f"{path}: a {type(value).__name__} is not JSON data")


def _check_time(value: datetime, name: str) -> None:
    if value.utcoffset() is None:
        raise _fail(f"{name} has no UTC offset")
    if not MIN_TIME <= value < MAX_TIME:
        raise _fail(f"{name} {value.isoformat()} is outside the time window")
    for tz in _FAR_ZONES:
        value.astimezone(tz).date().isoformat()


def check_event(event: Event) -> None:
    """Raise AssertionError unless ``event``, read from outside data, is storable."""
    if event.internal or event.depth != 0:
        raise _fail("an event read from input claims to be internal")
    _check_time(event.at, "at")
    if event.ts != event.at.timestamp():
        raise _fail("ts is not the time of `at`")
    if event.member is not None:
        if event.member.created_at is not None:
            _check_time(event.member.created_at, "member.created_at")
        _check_value(event.member.id, "member.id", 2)
        _check_value(event.member.name, "member.name", 2)
        _check_value(list(event.member.roles), "member.roles", 2)
    for name in ("id", "type", "community", "platform", "channel"):
        _check_value(getattr(event, name), name, 2)
    _check_value(event.data, "data", 2)
    try:
        encoded = orjson.dumps(event_to_json(event))
    except TypeError as err:
        raise _fail(f"the event's JSON form does not encode: {err}") from None
    try:
        again = parse_event(encoded)
    except EventError as err:
        raise _fail(f"the event's JSON form is quarantined: {err.reason}: {err.message}") from None
    if again != event:
        raise _fail("the event's JSON form parses to a different event")


def check_reader(data: bytes) -> list[Event | Quarantined]:
    """Read ``data`` as a JSON Lines file; raise AssertionError if an invariant breaks.
    Returns what was read."""
    lines = list(_binary_lines(io.BytesIO(data)))
    expected = [n for n, raw in enumerate(lines, start=1) if raw.strip()]
    got: list[Event | Quarantined] = []
    numbers: list[int] = []
    for lineno, item in read_lines(lines):
        numbers.append(lineno)
        got.append(item)
        if isinstance(item, Quarantined):
            if item.reason not in REASONS:
                raise _fail(f"line {lineno}: unknown reason {item.reason!r}")
            if item.line != lineno:
                raise _fail(f"line {lineno}: quarantined as line {item.line}")
            orjson.dumps(item.to_json())
        elif isinstance(item, Event):
            check_event(item)
        else:
            raise _fail(f"line {lineno}: read as a {type(item).__name__}")
    if numbers != expected:
        raise _fail(f"read lines {numbers}, expected one item for each of {expected}")
    return got


def check_event_obj(obj: Any) -> Event | None:
    """Build an event from ``obj`` as a platform adapter does; raise AssertionError if an
    invariant breaks.  Returns the event, or None when it was refused."""
    try:
        event = event_from_obj(obj)
    except EventError as err:
        if err.reason not in REASONS:
            raise _fail(f"unknown reason {err.reason!r}") from None
        return None
    check_event(event)
    return event


__all__ = ["check_event", "check_event_obj", "check_reader"]
