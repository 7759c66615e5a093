"""The event envelope (DESIGN.md §3): parsing and validation of one event.

An event is one JSON object.  Parsing is strict about the fields the engine relies on
(`id`, `type`, `at` with an explicit UTC offset, `member.id`) and lenient about the rest
(`data` is free-form).  A problem is reported as :class:`EventError` carrying a stable
``reason`` code, so that readers can quarantine the event and count it by reason.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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

_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")

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


class MemberRef(BaseModel):
    """The member an event is about, as the platform describes them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1, max_length=256)
    name: str | None = None
    roles: tuple[str, ...] = ()
    created_at: datetime | None = None

    @field_validator("created_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return v
        offset = v.utcoffset()
        if offset is None:
            raise ValueError("created_at needs a UTC offset")
        return v.replace(tzinfo=timezone.utc if not offset else timezone(offset))


class Event(BaseModel):
    """One member or community event (DESIGN.md §3)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=512)
    type: str = Field(min_length=1, max_length=128)
    at: datetime
    community: str = Field(default="default", min_length=1, max_length=256)
    platform: str | None = None
    channel: str | None = None
    member: MemberRef | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    #: Set on events the engine raised itself (internal events, timers).
    internal: bool = False
    #: How many internal-event hops separate this event from an external one.
    depth: int = 0
    #: ``at`` as seconds since the epoch (derived; any input value is ignored).
    ts: float = Field(default=0.0, exclude=True)

    @field_validator("at")
    @classmethod
    def _fixed_offset(cls, v: datetime) -> datetime:
        # A stdlib fixed-offset tzinfo: comparisons and arithmetic on it run in C, which
        # matters on the per-event hot path (pydantic's own TzInfo is several times slower).
        offset = v.utcoffset()
        if offset is None:
            return v
        return v.replace(tzinfo=timezone.utc if not offset else timezone(offset))

    @model_validator(mode="after")
    def _timestamp(self) -> Event:
        object.__setattr__(self, "ts", self.at.timestamp() if self.at.tzinfo else 0.0)
        return self

    @property
    def member_id(self) -> str | None:
        return self.member.id if self.member is not None else None


def _reason_for(err: ValidationError) -> tuple[str, str]:
    first = err.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in first["loc"]) or "event"
    kind = first["type"]
    if kind == "missing":
        return "missing_field", f"missing required field `{loc}`"
    if loc in ("at", "member.created_at"):
        return "bad_time", f"`{loc}` must be an ISO 8601 time with an offset (Z or ±HH:MM)"
    return "wrong_type", f"`{loc}`: {first['msg']}"


_STRING_FIELDS = ("id", "type", "community", "platform", "channel")


def event_from_obj(obj: Any) -> Event:
    """Validate a decoded JSON value as an event, or raise :class:`EventError`."""
    if not isinstance(obj, dict):
        raise EventError("not_object", "an event must be a JSON object")
    at = obj.get("at")
    # A number or a naive time is malformed (pydantic would read numbers as Unix times).
    if "at" in obj and not isinstance(at, str):
        raise EventError("bad_time", "`at` must be an ISO 8601 string with an offset")
    for name in _STRING_FIELDS:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            raise EventError("wrong_type", f"`{name}` must be a string")
    member = obj.get("member")
    if isinstance(member, dict):
        mid = member.get("id")
        if mid is not None and not isinstance(mid, str):
            raise EventError("wrong_type", "`member.id` must be a string")
        created = member.get("created_at")
        if created is not None and not isinstance(created, str):
            raise EventError("bad_time", "`member.created_at` must be an ISO 8601 string")
    if "internal" in obj or "depth" in obj or "ts" in obj:
        obj = {k: v for k, v in obj.items() if k not in ("internal", "depth", "ts")}
    try:
        event = Event.model_validate(obj)
    except ValidationError as err:
        reason, message = _reason_for(err)
        raise EventError(reason, message) from None
    if event.at.tzinfo is None:
        raise EventError("bad_time", "`at` must carry a UTC offset (Z or ±HH:MM)")
    if not _TYPE_RE.match(event.type):
        raise EventError("bad_event_type", f"`type` {event.type!r} is not a dotted lower-case name")
    return event


def parse_event(line: bytes | str) -> Event:
    """Parse one JSON Lines record into an :class:`Event`."""
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
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise EventError("bad_json", f"invalid JSON: {err}") from None
    return event_from_obj(obj)


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
    """Build an engine-raised event without re-validating it (its fields are trusted)."""
    return Event.model_construct(
        id=id,
        type=type,
        at=at,
        ts=at.timestamp(),
        community=community,
        platform=platform,
        channel=channel,
        member=member,
        data=data,
        internal=True,
        depth=depth,
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
        out["member"] = event.member.model_dump(mode="json", exclude_none=True)
    if event.data:
        out["data"] = event.data
    return out
