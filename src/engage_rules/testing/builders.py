"""Builders of events and actions for tests of playbooks, adapters and plugins.

:func:`event` builds a parsed :class:`~engage_rules.events.Event` the way the engine would
receive it (validated by the same code path as a JSON Lines record), and
:func:`event_line` the JSON Lines form of the same event.  :func:`action` builds an
emitted action in the DESIGN.md §6 shape, the mapping an adapter's ``deliver`` receives.

Times default to a fixed instant (:data:`T0`), ids to ``evt-<n>`` from a counter that
only these builders use, so tests stay deterministic::

    e = event("message.posted", member="u1", at=T0 + timedelta(minutes=5), text="hi")
    assert e.data == {"text": "hi"}
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from ..events import Event, event_from_obj, event_to_json

#: The default instant of built events and actions: 2026-03-02 12:00 at UTC+8.
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone(timedelta(hours=8)))

_ids = itertools.count(1)


def _instant(at: datetime | float | int | str | None) -> str:
    if at is None:
        return T0.isoformat()
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("event times must carry a UTC offset")
        return at.isoformat()
    if isinstance(at, str):
        return at
    return (T0 + timedelta(seconds=at)).isoformat()


def event_obj(
    type: str,
    member: str | Mapping[str, Any] | None = "u1",
    *,
    at: datetime | float | int | str | None = None,
    id: str | None = None,
    community: str = "default",
    platform: str | None = None,
    channel: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    """The event as a JSON object (DESIGN.md §3).

    ``member`` is an id or a full member mapping (``{"id": "u1", "roles": [...]}``), or
    ``None`` for a community-level event.  ``at`` is a datetime with an offset, an ISO
    string, or seconds after :data:`T0`.  Keyword arguments become ``data``.
    """
    obj: dict[str, Any] = {
        "id": id if id is not None else f"evt-{next(_ids)}",
        "type": type,
        "at": _instant(at),
        "community": community,
    }
    if platform is not None:
        obj["platform"] = platform
    if channel is not None:
        obj["channel"] = channel
    if member is not None:
        obj["member"] = {"id": member} if isinstance(member, str) else dict(member)
    if data:
        obj["data"] = data
    return obj


def event(
    type: str,
    member: str | Mapping[str, Any] | None = "u1",
    *,
    at: datetime | float | int | str | None = None,
    id: str | None = None,
    community: str = "default",
    platform: str | None = None,
    channel: str | None = None,
    **data: Any,
) -> Event:
    """A parsed, validated :class:`Event` (arguments as :func:`event_obj`)."""
    return event_from_obj(event_obj(type, member, at=at, id=id, community=community,
                                    platform=platform, channel=channel, **data))


def event_line(
    type: str,
    member: str | Mapping[str, Any] | None = "u1",
    *,
    at: datetime | float | int | str | None = None,
    id: str | None = None,
    community: str = "default",
    platform: str | None = None,
    channel: str | None = None,
    **data: Any,
) -> str:
    """The event as one JSON Lines record (no trailing newline)."""
    return json.dumps(event_obj(type, member, at=at, id=id, community=community,
                                platform=platform, channel=channel, **data),
                      ensure_ascii=False)


def event_json(e: Event) -> dict[str, Any]:
    """An event back in its JSON shape, for comparing events in assertions."""
    return event_to_json(e)


#: Parameters :func:`action` fills in by default, per action type, so that an action of
#: any built-in type is complete enough for an adapter to deliver.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "send": {"text": "hello"},
    "reply": {"text": "hello", "channel": "general"},
    "broadcast": {"text": "hello everyone", "channel": "general"},
    "warn": {"text": "please keep it civil", "reason": "contract test"},
    "delete_message": {"message_id": "m-1", "channel": "general", "reason": "spam"},
    "mute": {"for": "1h", "until": (T0 + timedelta(hours=1)).isoformat(), "reason": "flood"},
    "unmute": {"reason": "mute expired"},
    "kick": {"reason": "spam"},
    "ban": {"for": "7d", "reason": "spam"},
    "unban": {"reason": "appeal accepted"},
    "award": {"currency": "points", "amount": 5, "reason": "quality post"},
    "spend": {"currency": "points", "amount": 5, "reason": "redeem"},
    "grant_badge": {"badge": "first-post"},
    "revoke_badge": {"badge": "first-post"},
    "tag": {"name": "newcomer"},
    "untag": {"name": "newcomer"},
    "level_changed": {"from": 1, "to": 2, "direction": "up"},
    "flag_for_review": {"reason": "reported"},
}


def action(
    type: str,
    member: str | None = "u1",
    *,
    params: Mapping[str, Any] | None = None,
    rule: str = "test-rule",
    cause: str = "evt-1",
    at: datetime | str | None = None,
    key: str | None = None,
    community: str = "default",
    channel: str | None = None,
    platform: str | None = None,
) -> dict[str, Any]:
    """An emitted action in the DESIGN.md §6 shape (the mapping ``Adapter.deliver`` gets).

    ``params`` defaults to :data:`DEFAULT_PARAMS` for the type.  ``community``,
    ``channel`` and ``platform`` describe where the cause happened, which adapters use to
    address a reply or a moderation call.
    """
    out: dict[str, Any] = {
        "key": key if key is not None else f"key-{type}-{member}-{cause}",
        "type": type,
        "member": member,
        "rule": rule,
        "cause": cause,
        "at": _instant(at),
        "params": dict(params) if params is not None else dict(DEFAULT_PARAMS.get(type, {})),
        "community": community,
    }
    if channel is not None:
        out["channel"] = channel
    if platform is not None:
        out["platform"] = platform
    return out
