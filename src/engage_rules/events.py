"""The event envelope (DESIGN.md §3): parsing and validation of one event.

An event is one JSON object.  Parsing is strict about the fields the engine relies on
(`id`, `type`, `at` with an explicit UTC offset, `member.id`) and lenient about the rest
(`data` is free-form).  A problem is reported as :class:`EventError` carrying a stable
``reason`` code, so that readers can quarantine the event and count it by reason.

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

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from .state import MemberState

#: Events larger than this (in bytes of JSON) are quarantined as ``oversized``.
MAX_EVENT_BYTES = 64 * 1024

#: Canonical event types (DESIGN.md §3).  Any dotted name is accepted as well.
CANONICAL_TYPES = (
    "member.joined",
    "member.left",
    "message.posted",
    "message.deleted",
    "reaction.added",
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
    "member.silent",
)

TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"
_TYPE_RE = re.compile(TYPE_PATTERN)

#: Reason codes for quarantined events.
REASONS = {
    "bad_json": "the line is not valid JSON",
    "not_object": "the event is not a JSON object",
    "missing_field": "a required field is missing",
    "wrong_type": "a field has the wrong type",
    "bad_time": "`at` is not an ISO 8601 time with an offset",
    "bad_event_type": "`type` is not a dotted lower-case name",
    "oversized": f"the event is larger than {MAX_EVENT_BYTES} bytes",
}


class EventError(ValueError):
    """A malformed event.  ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# -- the structs the engine works with ------------------------------------------------------

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
_MemberId = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
_Type = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_Community = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class MemberRef(msgspec.Struct, frozen=True, gc=False):
    """The member an event is about, as the platform describes them."""

    id: _MemberId
    name: str | None = None
    roles: tuple[str, ...] = ()
    created_at: datetime | None = None


class Event(msgspec.Struct, gc=False):
    """One member or community event (DESIGN.md §3).  Treat it as immutable."""

    id: _Id
    type: _Type
    at: datetime
    community: _Community = "default"
    platform: str | None = None
    channel: str | None = None
    member: MemberRef | None = None
    data: dict[str, Any] = {}
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


def _reason_for(err: msgspec.ValidationError) -> tuple[str, str]:
    text = str(err)
    path = ""
    if " - at `$" in text:
        text, _, rest = text.partition(" - at `$")
        path = rest.rstrip("`").lstrip(".")
    missing = re.match(r"Object missing required field `(.+)`", text)
    if missing:
        field = f"{path}.{missing.group(1)}" if path else missing.group(1)
        return "missing_field", f"missing required field `{field}`"
    if path == "" and text.startswith("Expected `object`"):
        return "not_object", "an event must be a JSON object"
    if path in ("at", "member.created_at"):
        return "bad_time", f"`{path}` must be an ISO 8601 time with an offset (Z or ±HH:MM)"
    return "wrong_type", f"`{path or 'event'}`: {text}"


def _finish(event: Event) -> Event:
    """Checks msgspec cannot express, and the derived fields."""
    at = event.at
    if at.tzinfo is None:
        raise EventError("bad_time", "`at` must carry a UTC offset (Z or ±HH:MM)")
    member = event.member
    if member is not None and member.created_at is not None and member.created_at.tzinfo is None:
        raise EventError("bad_time", "`member.created_at` must carry a UTC offset")
    if not _TYPE_RE.match(event.type):
        raise EventError("bad_event_type", f"`type` {event.type!r} is not a dotted lower-case name")
    event.internal = False
    event.depth = 0
    event.ts = at.timestamp()
    return event


def parse_event(line: bytes | str) -> Event:
    """Parse one JSON Lines record into an :class:`Event`, or raise :class:`EventError`."""
    if isinstance(line, str):
        try:
            raw = line.encode()
        except UnicodeEncodeError as err:
            raise EventError("bad_json", f"invalid text: {err.reason}") from None
    else:
        raw = line
    if len(raw) > MAX_EVENT_BYTES:
        raise EventError("oversized", f"event is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        event = _DECODER.decode(raw)
    except msgspec.ValidationError as err:
        try:  # a type error found before the end of a line that is not JSON at all
            msgspec.json.decode(raw)
        except msgspec.DecodeError as bad:
            raise EventError("bad_json", f"invalid JSON: {bad}") from None
        reason, message = _reason_for(err)
        raise EventError(reason, message) from None
    except msgspec.DecodeError as err:
        raise EventError("bad_json", f"invalid JSON: {err}") from None
    return _finish(event)


def event_from_obj(obj: Any) -> Event:
    """Validate a decoded JSON value (dicts, lists, strings...) as an event."""
    if not isinstance(obj, dict):
        raise EventError("not_object", "an event must be a JSON object")
    if "at" in obj and not isinstance(obj["at"], str):
        raise EventError("bad_time", "`at` must be an ISO 8601 string with an offset")
    wire = {k: v for k, v in obj.items() if k not in ("internal", "depth", "ts")}
    try:
        event = msgspec.convert(wire, Event, strict=True, dec_hook=None)
    except msgspec.ValidationError as err:
        reason, message = _reason_for(err)
        raise EventError(reason, message) from None
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
        id=id, type=type, at=at, community=community, platform=platform, channel=channel,
        member=member, data=data, internal=True, depth=depth, ts=at.timestamp(),
    )


def event_to_json(event: Event) -> dict[str, Any]:
    """The event as a JSON-able dict in the DESIGN.md §3 shape."""
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
    if v is not None and v.utcoffset() is None:
        raise ValueError("needs a UTC offset (Z or ±HH:MM)")
    return v


class MemberEnvelope(BaseModel):
    """``member`` in the event envelope."""

    model_config = ConfigDict(extra="allow", strict=True)

    id: str = Field(min_length=1, max_length=256, description="The platform's member id")
    name: str | None = Field(default=None, description="Display name")
    roles: list[str] = Field(default_factory=list, description="Roles, e.g. admin, moderator")
    created_at: datetime | None = Field(default=None, description="Account creation time")

    _check_created = field_validator("created_at")(_aware)


class EventEnvelope(BaseModel):
    """One event as it arrives (DESIGN.md §3): the documented JSON shape."""

    model_config = ConfigDict(extra="allow", strict=True, title="engage_rules event")

    id: str = Field(min_length=1, max_length=512, description="Unique id; the idempotency key")
    type: str = Field(min_length=1, max_length=128, pattern=TYPE_PATTERN,
                      description="Dotted event type, e.g. message.posted")
    at: datetime = Field(description="ISO 8601 time with an offset (Z or ±HH:MM)")
    community: str = Field(default="default", min_length=1, max_length=256)
    platform: str | None = None
    channel: str | None = None
    member: MemberEnvelope | None = Field(
        default=None, description="Absent for community-level events"
    )
    data: dict[str, Any] = Field(default_factory=dict, description="Free-form payload")

    _check_at = field_validator("at")(_aware)


__all__ = [
    "CANONICAL_TYPES",
    "INTERNAL_TYPES",
    "MAX_EVENT_BYTES",
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
