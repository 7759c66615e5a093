"""The event envelope (docs/language.md, "Events"): parsing and validation of one event.

An event is one JSON object.  Parsing is strict about the fields the engine relies on
(`id`, `type`, `at` with an explicit UTC offset, `member.id`) and lenient about the rest
(`data` is free-form).  A problem is reported as :class:`EventError` carrying a stable
``reason`` code, so that readers can quarantine the event and count it by reason.

Whatever an event carries can be stored: it nests at most :data:`MAX_EVENT_DEPTH` levels,
its integers fit in 64 bits, its numbers are finite, its strings are valid Unicode, and
its times (`at`, `member.created_at`) lie in the years 1970 through 2200 (UTC).  Events
outside those bounds are quarantined with their own reason codes, on every path that
builds an event from outside data (:func:`parse_event`, :func:`event_from_obj`).

Two models describe the same envelope:

* :class:`Event` / :class:`MemberRef` — msgspec structs, what the engine works with.
  Decoding JSON straight into them validates types and required fields at about a
  tenth of the cost of a pydantic model, which matters at tens of thousands of events
  per second.
* :class:`EventEnvelope` / :class:`MemberEnvelope` — pydantic models of the same
  envelope, the documented schema (``EventEnvelope.model_json_schema()``).  A property
  test checks that both accept and reject the same inputs.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import EventError
from . import event_problems as says

if TYPE_CHECKING:
    from .state import MemberState

#: Events larger than this (in bytes of JSON) are quarantined as ``oversized``.
MAX_EVENT_BYTES = 64 * 1024

#: The deepest nesting of objects and arrays in an event, counting the event object itself
#: as level 1 (so `data` may hold 30 levels of its own).  Deeper events are quarantined
#: as ``too_deep``; a decoder would otherwise recurse into them without bound.
MAX_EVENT_DEPTH = 32
#: The integers an event (or a value an action stores) may hold: signed 64-bit, what
#: JSON encoders and SQLite take.  Others are quarantined as ``number_out_of_range``.
MIN_INT = -(2**63)
MAX_INT = 2**63 - 1
#: Event times (`at`, `member.created_at`) must lie in the years 1970 through 2200 UTC:
#: from MIN_TIME inclusive to MAX_TIME exclusive.  Others are quarantined as
#: ``time_out_of_range``: a clock moved to a far-away time would fire every schedule slot
#: in between, and dates near year 1 or 9999 overflow once converted to a time zone.
MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2201, 1, 1, tzinfo=UTC)
_MIN_TS = MIN_TIME.timestamp()
_MAX_TS = MAX_TIME.timestamp()

#: Canonical event types (docs/language.md, "Events").  Any dotted name is accepted as well.
CANONICAL_TYPES = (
    "member.joined",
    "member.left",
    "member.join_requested",
    "message.posted",
    "message.deleted",
    "message.edited",
    "reaction.added",
    "reaction.removed",
    "content.shared",
    "checkin",
    "purchase",
    "referral.completed",
    "poll.voted",
    "activity.attended",
    "feedback.submitted",
    "report.filed",
    "redeem.requested",
    "member.opted_out",
    "member.opted_in",
    "member.linked",
)

#: Events the engine raises itself; rules may react to them.
INTERNAL_TYPES = (
    "member.level_changed",
    "badge.granted",
    "badge.revoked",
    "strike.added",
    "flow.completed",
    "flow.exited",
    "leaderboard.closed",
    "draw.closed",
    "shop.redeemed",
    "member.silent",
    "post.reached",
    "person.code_issued",
    "person.linked",
)

TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"
_TYPE_RE = re.compile(TYPE_PATTERN)
#: Event types already found to match TYPE_PATTERN: a stream has few types, and looking
#: one up here costs a tenth of matching the pattern again (see :func:`_good_type`).
_GOOD_TYPES = set(CANONICAL_TYPES)
#: At most this many types are remembered (a stream of ever new types is still checked).
_GOOD_TYPES_KEPT = 1024

#: Reason codes for quarantined events.
REASONS = {
    "bad_json": "the line is not valid JSON",
    "not_object": "the event is not a JSON object",
    "missing_field": "a required field is missing",
    "wrong_type": "a field has the wrong type",
    "bad_time": "`at` is not an ISO 8601 time with an offset",
    "bad_event_type": "`type` is not a dotted lower-case name",
    "oversized": f"the event is larger than {MAX_EVENT_BYTES} bytes",
    "too_deep": f"the event nests objects and arrays more than {MAX_EVENT_DEPTH} levels deep",
    "number_out_of_range": "a number is not a signed 64-bit integer or a finite float",
    "time_out_of_range": "`at` or `member.created_at` is outside the years 1970-2200 (UTC)",
}


# -- the structs the engine works with ------------------------------------------------------

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
_MemberId = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
_Type = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_Community = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
#: The community that holds persons (model/persons.py): no event may be of it.
RESERVED_COMMUNITY = "@persons"


class MemberRef(msgspec.Struct, frozen=True, gc=False):
    """The member an event is about, as the platform describes them."""

    id: _MemberId
    name: str | None = None
    roles: tuple[str, ...] = ()
    created_at: datetime | None = None


#: An integer an event may hold (checked by msgspec as it decodes).
_Int64 = Annotated[int, msgspec.Meta(ge=MIN_INT, le=MAX_INT)]
if TYPE_CHECKING:
    _Data = dict[str, Any]
else:
    # What the decoder reads `data` as: scalars only, integers in 64 bits.  Flat data, the
    # common case, is then fully checked by msgspec itself; a line whose data holds an
    # object or an array (or a number out of range) fails this type and is read again by
    # _parse_nested, which checks it in full.  Events the engine builds are not decoded,
    # so they hold any data.
    _Data = dict[str, _Int64 | float | str | bool | None]


class Event(msgspec.Struct, gc=False):
    """One member or community event (docs/language.md, "Events").  Treat it as immutable."""

    id: _Id
    type: _Type
    at: datetime
    community: _Community = "default"
    platform: str | None = None
    channel: str | None = None
    member: MemberRef | None = None
    data: _Data = {}
    #: Set on events the engine raised itself (internal events); never read from input.
    internal: bool = False
    #: How many internal-event hops separate this event from an external one.
    depth: int = 0
    #: ``at`` as seconds since the epoch (derived; never read from input).
    ts: float = 0.0

    @property
    def member_id(self) -> str | None:
        return self.member.id if self.member is not None else None


_DECODER = msgspec.json.Decoder(Event)
#: The fields an event is read from (the others are derived, never read from input).
_WIRE_FIELDS = frozenset(Event.__struct_fields__) - {"internal", "depth", "ts"}


def _reason_for(err: msgspec.ValidationError) -> tuple[str, str]:
    text = str(err)
    path = ""
    if " - at `$" in text:
        text, _, rest = text.partition(" - at `$")
        path = rest.rstrip("`").lstrip(".")
    missing = re.match(r"Object missing required field `(.+)`", text)
    if missing:
        field = f"{path}.{missing.group(1)}" if path else missing.group(1)
        return "missing_field", says.MISSING_FIELD.format(field=field)
    if path == "" and text.startswith("Expected `object`"):
        return "not_object", says.NOT_OBJECT
    if path in ("at", "member.created_at"):
        return "bad_time", says.BAD_TIME.format(field=path)
    return "wrong_type", f"`{path or 'event'}`: {text}"


def _check_time(value: datetime, field: str) -> float:
    """``value`` (aware) as seconds since the epoch, if it lies in the time window."""
    t = value.timestamp()
    if not _MIN_TS <= t < _MAX_TS:
        raise EventError(
            "time_out_of_range",
            says.TIME_OUT_OF_RANGE.format(field=field, time=value.isoformat()),
        )
    return t


def _good_type(type_: str) -> bool:
    """Whether ``type_`` matches TYPE_PATTERN (remembered in _GOOD_TYPES if it does)."""
    if not _TYPE_RE.match(type_):
        return False
    if len(_GOOD_TYPES) < _GOOD_TYPES_KEPT:
        _GOOD_TYPES.add(type_)
    return True


def _finish(event: Event) -> Event:
    """Checks msgspec cannot express, and the derived fields."""
    at = event.at
    if at.tzinfo is None:
        raise EventError("bad_time", says.AT_WITHOUT_OFFSET)
    ts = at.timestamp()
    if not _MIN_TS <= ts < _MAX_TS:
        _check_time(at, "at")
    member = event.member
    if member is not None:
        created = member.created_at
        if created is not None:
            if created.tzinfo is None:
                raise EventError("bad_time", says.CREATED_WITHOUT_OFFSET)
            if not _MIN_TS <= created.timestamp() < _MAX_TS:
                _check_time(created, "member.created_at")
    if event.type not in _GOOD_TYPES and not _good_type(event.type):
        raise EventError("bad_event_type", says.BAD_EVENT_TYPE.format(type=repr(event.type)))
    if event.community == RESERVED_COMMUNITY:
        raise EventError(
            "wrong_type", says.RESERVED_COMMUNITY.format(community=repr(RESERVED_COMMUNITY))
        )
    event.internal = False
    event.depth = 0
    event.ts = ts
    return event


# -- bounds of what an event may hold -------------------------------------------------------

#: A UTF-8 byte-order mark, which may precede a record (it is skipped).
_BOM = b"\xef\xbb\xbf"
#: How much of an out-of-range integer a message shows.
_DIGITS_SHOWN = 40


def _too_deep() -> EventError:
    return EventError("too_deep", says.TOO_DEEP.format(depth=MAX_EVENT_DEPTH))


def _out_of_range(path: str, value: object) -> EventError:
    if isinstance(value, int):
        bits = value.bit_length()
        text = str(value) if bits <= 10_000 else f"an integer of {bits} bits"
        if len(text) > _DIGITS_SHOWN:
            text = text[:_DIGITS_SHOWN] + "..."
        return EventError(
            "number_out_of_range", says.INTEGER_OUT_OF_RANGE.format(path=path, number=text)
        )
    return EventError("number_out_of_range", says.NOT_FINITE.format(path=path, value=repr(value)))


def _check_data(value: Any, path: str, depth: int) -> None:
    """Raise :class:`EventError` for what decoded JSON data may hold but an event may not:
    nesting deeper than MAX_EVENT_DEPTH (``depth`` is the level of ``value``) or an
    integer beyond 64 bits."""
    t = type(value)
    if t is int:
        if not MIN_INT <= value <= MAX_INT:
            raise _out_of_range(path, value)
    elif t is dict or t is list:
        if depth > MAX_EVENT_DEPTH:
            raise _too_deep()
        items = value.items() if t is dict else enumerate(value)
        form = "{}.{}" if t is dict else "{}[{}]"
        for k, v in items:
            _check_data(v, form.format(path, k), depth + 1)


def _json_copy(value: Any, path: str, depth: int) -> Any:
    """A copy of ``value`` (tuples as lists), if it is JSON data an event may hold: JSON
    types only (string keys), at most MAX_EVENT_DEPTH levels (``depth`` is the level of
    ``value``), integers in 64 bits, finite floats, valid Unicode text.  Raises
    :class:`EventError` otherwise."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise EventError("bad_json", says.LONE_SURROGATE.format(path=path)) from None
        return value
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise _out_of_range(path, value)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _out_of_range(path, value)
        return value
    if isinstance(value, dict | list | tuple):
        if depth > MAX_EVENT_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise EventError(
                        "wrong_type", says.KEY_NOT_TEXT.format(path=path, key=f"{k!r:.40}")
                    )
                out[_json_copy(k, f"{path}.<key>", depth + 1)] = _json_copy(
                    v, f"{path}.{k}", depth + 1
                )
            return out
        return [_json_copy(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    raise EventError("wrong_type", says.NOT_JSON_VALUE.format(path=path, kind=type(value).__name__))


def parse_event(line: bytes | str) -> Event:
    """Parse one JSON Lines record into an :class:`Event`, or raise :class:`EventError`.

    A UTF-8 byte-order mark before the record is skipped."""
    if isinstance(line, str):
        try:
            raw = line.encode()
        except UnicodeEncodeError as err:
            raise EventError("bad_json", says.INVALID_TEXT.format(reason=err.reason)) from None
    else:
        raw = line
    if len(raw) > MAX_EVENT_BYTES:
        raise EventError("oversized", says.OVERSIZED.format(size=len(raw), limit=MAX_EVENT_BYTES))
    try:
        event = _DECODER.decode(raw)
    except RecursionError:  # nested hundreds of levels deep
        raise _too_deep() from None
    except msgspec.ValidationError as err:
        if str(err).endswith(" - at `$.data[...]`"):  # objects or arrays in `data`
            return _parse_nested(raw)
        _decode_any(raw)  # a type error found before the end of a line that is not JSON
        reason, message = _reason_for(err)
        raise EventError(reason, message) from None
    except msgspec.DecodeError as err:
        if raw[:3] == _BOM and raw[3:6] != _BOM:  # checked here, off the hot path
            return parse_event(raw[3:])
        raise EventError("bad_json", says.INVALID_JSON.format(error=err)) from None
    return _finish(event)


def _decode_any(raw: bytes) -> Any:
    """``raw`` decoded as any JSON, or the EventError saying why it is not JSON."""
    try:
        return msgspec.json.decode(raw)
    except RecursionError:  # nested hundreds of levels deep
        raise _too_deep() from None
    except msgspec.DecodeError as bad:
        if "Number out of range" in str(bad):  # e.g. 1e400: no finite float
            raise EventError("number_out_of_range", says.FLOAT_TOO_LARGE) from None
        raise EventError("bad_json", says.INVALID_JSON.format(error=bad)) from None


def _nested_wire_fields() -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for f in msgspec.structs.fields(Event):
        if f.name == "data":
            out.append(("data", dict[str, Any], msgspec.field(default_factory=dict)))
        elif f.required:
            out.append((f.name, f.type))
        else:
            out.append((f.name, f.type, f.default))
    return out


#: The envelope exactly as Event reads it, but with `data` of any JSON: what a line whose
#: data holds objects or arrays is decoded into (its data is then checked in Python).
_NestedWire = msgspec.defstruct("_NestedWire", _nested_wire_fields(), gc=False)
_NESTED_DECODER = msgspec.json.Decoder(_NestedWire)


def _within(value: Any, depth: int) -> bool:
    """Whether the decoded JSON object or array ``value``, at level ``depth``, keeps within
    MAX_EVENT_DEPTH levels and 64-bit integers (the quick check; _check_data says why
    not)."""
    if depth > MAX_EVENT_DEPTH:
        return False
    for v in value.values() if type(value) is dict else value:
        t = type(v)
        if t is int:
            if not MIN_INT <= v <= MAX_INT:
                return False
        elif (t is dict or t is list) and not _within(v, depth + 1):
            return False
    return True


def _parse_nested(raw: bytes) -> Event:
    """:func:`parse_event` for a line whose `data` the typed decoder refused: objects or
    arrays in it, or an integer beyond 64 bits.  The line is decoded again with `data` of
    any JSON, which is then checked."""
    try:
        wire: Any = _NESTED_DECODER.decode(raw)
    except RecursionError:  # nested hundreds of levels deep
        raise _too_deep() from None
    except msgspec.ValidationError as err:
        _decode_any(raw)  # a type error found before the end of a line that is not JSON
        reason, message = _reason_for(err)
        raise EventError(reason, message) from None
    except msgspec.DecodeError as err:
        raise EventError("bad_json", says.INVALID_JSON.format(error=err)) from None
    data = wire.data
    if not _within(data, 2):
        _check_data(data, "data", 2)
    return _finish(
        Event(
            wire.id,
            wire.type,
            wire.at,
            wire.community,
            wire.platform,
            wire.channel,
            wire.member,
            data,
        )
    )


def event_from_obj(obj: Any) -> Event:
    """Validate a decoded JSON value (dicts, lists, strings...) as an event, with the bounds
    :func:`parse_event` applies (nesting, integer width, finite numbers, time window)."""
    if not isinstance(obj, dict):
        raise EventError("not_object", says.NOT_OBJECT)
    if "at" in obj and not isinstance(obj["at"], str):
        raise EventError("bad_time", says.AT_NOT_TEXT)
    # Fields outside the envelope are ignored, as parse_event ignores them.
    wire = {k: _json_copy(v, k, 2) for k, v in obj.items() if k in _WIRE_FIELDS}
    data = wire.get("data")
    if isinstance(data, dict):  # checked above; the decoder's type takes scalars only
        wire["data"] = {}
    try:
        event = msgspec.convert(wire, Event, strict=True)
    except msgspec.ValidationError as err:
        reason, message = _reason_for(err)
        raise EventError(reason, message) from None
    if isinstance(data, dict):
        event.data = data
    return _finish(event)


def member_ref(m: MemberState | None) -> MemberRef | None:
    """The member of an engine-raised event: who ``m`` is (None for no member)."""
    return MemberRef(id=m.id, name=m.name, roles=m.roles) if m is not None else None


def internal_event(
    *,
    id: str,
    type: str,
    at: datetime,
    community: str,
    member: MemberRef | None,
    data: dict[str, Any],
    depth: int,
    channel: str | None = None,
    platform: str | None = None,
) -> Event:
    """Build an engine-raised event (its fields are trusted, not re-validated)."""
    return Event(
        id=id,
        type=type,
        at=at,
        community=community,
        platform=platform,
        channel=channel,
        member=member,
        data=data,
        internal=True,
        depth=depth,
        ts=at.timestamp(),
    )


def event_to_json(event: Event) -> dict[str, Any]:
    """The event as a JSON-able dict, in the shape it arrives in."""
    out: dict[str, Any] = {
        "id": event.id,
        "type": event.type,
        "at": event.at.isoformat(),
        "community": event.community,
    }
    if event.platform is not None:
        out["platform"] = event.platform
    if event.channel is not None:
        out["channel"] = event.channel
    if event.member is not None:
        m = event.member
        member: dict[str, Any] = {"id": m.id}
        if m.name is not None:
            member["name"] = m.name
        if m.roles:
            member["roles"] = list(m.roles)
        if m.created_at is not None:
            member["created_at"] = m.created_at.isoformat()
        out["member"] = member
    if event.data:
        out["data"] = event.data
    return out


# -- the documented schema --------------------------------------------------------------------


def _aware(v: datetime | None) -> datetime | None:
    if v is not None:
        if v.utcoffset() is None:
            raise ValueError("needs a UTC offset (Z or ±HH:MM)")
        if not MIN_TIME <= v < MAX_TIME:
            raise ValueError("must lie in the years 1970 through 2200 (UTC)")
    return v


class MemberEnvelope(BaseModel):
    """``member`` in the event envelope."""

    model_config = ConfigDict(extra="allow", strict=True)

    id: str = Field(min_length=1, max_length=256, description="The platform's member id")
    name: str | None = Field(default=None, description="Display name")
    roles: list[str] = Field(default_factory=list, description="Roles, e.g. admin, moderator")
    created_at: datetime | None = Field(
        default=None, description="Account creation time, in the years 1970 through 2200 (UTC)"
    )

    _check_created = field_validator("created_at")(_aware)


class EventEnvelope(BaseModel):
    """One event as it arrives (docs/language.md, "Events"): the documented JSON shape."""

    model_config = ConfigDict(extra="allow", strict=True, title="engage_rules event")

    id: str = Field(min_length=1, max_length=512, description="Unique id; the idempotency key")
    type: str = Field(
        min_length=1,
        max_length=128,
        pattern=TYPE_PATTERN,
        description="Dotted event type, e.g. message.posted",
    )
    at: datetime = Field(
        description="ISO 8601 time with an offset (Z or ±HH:MM), in the "
        "years 1970 through 2200 (UTC)"
    )
    community: str = Field(default="default", min_length=1, max_length=256)
    platform: str | None = None
    channel: str | None = None
    member: MemberEnvelope | None = Field(
        default=None, description="Absent for community-level events"
    )
    data: dict[str, Any] = Field(
        default_factory=dict,
        description=f"Free-form payload: at most {MAX_EVENT_DEPTH} levels deep (counting the "
        "event itself), integers in 64 bits",
    )

    _check_at = field_validator("at")(_aware)


__all__ = [
    "CANONICAL_TYPES",
    "INTERNAL_TYPES",
    "MAX_EVENT_BYTES",
    "MAX_EVENT_DEPTH",
    "MAX_INT",
    "MAX_TIME",
    "MIN_INT",
    "MIN_TIME",
    "REASONS",
    "Event",
    "EventEnvelope",
    "EventError",
    "MemberEnvelope",
    "MemberRef",
    "event_from_obj",
    "event_to_json",
    "internal_event",
    "parse_event",
]
