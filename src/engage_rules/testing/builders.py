"""Builders of events and actions for tests of playbooks, adapters and plugins.

:func:`event` builds a parsed :class:`~engage_rules.model.events.Event` the way the engine would
receive it (validated by the same code path as a JSON Lines record), :func:`event_line`
the JSON Lines form of the same event and :func:`event_obj` its JSON object;
:func:`message` is a ``message.posted`` event with a fresh ``message_id``.  :func:`action`
builds an emitted action in the docs/reference.md §6.1 shape, the mapping an adapter's
``deliver`` receives.

Times default to one fixed instant, :data:`T0` (Monday 2026-03-02 10:00 at UTC+8), and are
given as a datetime with an offset, an ISO string, or seconds after :data:`T0`;
:func:`after` is ``T0`` plus a duration.  Ids default to ``evt-<n>`` from a counter that
only these builders use, so tests stay deterministic::

    e = event("message.posted", "u1", after(minutes=5), text="hi", channel="general")
    assert e.data == {"text": "hi"} and e.at == T0 + timedelta(minutes=5)

For a sequence of events on a moving clock, :class:`~engage_rules.testing.FrozenClock`
builds events at its current instant (``clock.event(...)``), and :func:`events` builds
several at regular steps.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from ..model.events import Event, event_from_obj, event_to_json

#: The default instant of built events and actions: Monday 2026-03-02 10:00 at UTC+8.
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=8)))

#: What ``at`` may be: a datetime with an offset, an ISO 8601 string, seconds after
#: :data:`T0`, or None for :data:`T0` itself.
At = datetime | float | int | str | None

_ids = itertools.count(1)


def after(
    seconds: float = 0,
    *,
    minutes: float = 0,
    hours: float = 0,
    days: float = 0,
    weeks: float = 0,
    start: datetime = T0,
) -> datetime:
    """The instant ``seconds`` (plus ``minutes``, ``hours``, ...) after ``start``
    (default :data:`T0`): ``after(minutes=5)``, ``after(days=1, hours=2)``."""
    return start + timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days, weeks=weeks)


def _instant(at: At) -> str:
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
    at: At = None,
    *,
    id: str | None = None,
    community: str = "default",
    platform: str | None = None,
    channel: str | None = None,
    roles: Iterable[str] | None = None,
    name: str | None = None,
    created_at: datetime | str | None = None,
    data: Mapping[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The event as a JSON object (docs/reference.md §3).

    ``member`` is an id or a full member mapping (``{"id": "u1", "roles": [...]}``), or
    ``None`` for a community-level event; ``roles``, ``name`` and ``created_at`` add to
    the member.  ``at`` is a datetime with an offset, an ISO string, or seconds after
    :data:`T0`.  ``data`` and the other keyword arguments become the event's ``data``
    (``data`` for keys that are names of this function's parameters, ``member`` say).
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
        who: dict[str, Any] = {"id": member} if isinstance(member, str) else dict(member)
        if roles is not None:
            who["roles"] = list(roles)
        if name is not None:
            who["name"] = name
        if created_at is not None:
            who["created_at"] = _instant(created_at)
        obj["member"] = who
    elif roles is not None or name is not None or created_at is not None:
        raise ValueError("roles, name and created_at describe a member: give one")
    payload = {**(data or {}), **fields}
    if payload:
        obj["data"] = payload
    return obj


def event(
    type: str,
    member: str | Mapping[str, Any] | None = "u1",
    at: At = None,
    *,
    id: str | None = None,
    community: str = "default",
    platform: str | None = None,
    channel: str | None = None,
    roles: Iterable[str] | None = None,
    name: str | None = None,
    created_at: datetime | str | None = None,
    data: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Event:
    """A parsed, validated :class:`Event` (arguments as :func:`event_obj`)."""
    return event_from_obj(
        event_obj(
            type,
            member,
            at,
            id=id,
            community=community,
            platform=platform,
            channel=channel,
            roles=roles,
            name=name,
            created_at=created_at,
            data=data,
            **fields,
        )
    )


def event_line(
    type: str,
    member: str | Mapping[str, Any] | None = "u1",
    at: At = None,
    *,
    id: str | None = None,
    community: str = "default",
    platform: str | None = None,
    channel: str | None = None,
    roles: Iterable[str] | None = None,
    name: str | None = None,
    created_at: datetime | str | None = None,
    data: Mapping[str, Any] | None = None,
    **fields: Any,
) -> str:
    """The event as one JSON Lines record (no trailing newline)."""
    return json.dumps(
        event_obj(
            type,
            member,
            at,
            id=id,
            community=community,
            platform=platform,
            channel=channel,
            roles=roles,
            name=name,
            created_at=created_at,
            data=data,
            **fields,
        ),
        ensure_ascii=False,
    )


def message(
    member: str | Mapping[str, Any] | None,
    text: str,
    at: At = None,
    *,
    message_id: str | None = None,
    **kw: Any,
) -> Event:
    """A ``message.posted`` event with ``text`` and a fresh ``message_id`` (``msg-<n>``)
    unless one is given; other arguments as :func:`event`."""
    return event(
        "message.posted",
        member,
        at,
        text=text,
        message_id=message_id if message_id is not None else f"msg-{next(_ids)}",
        **kw,
    )


def events(
    type: str,
    members: str | Iterable[str | None] = "u1",
    *,
    count: int | None = None,
    start: At = None,
    every: timedelta | float = 60,
    **kw: Any,
) -> list[Event]:
    """Events of one ``type`` at regular steps: the first at ``start`` (default
    :data:`T0`), the next ``every`` later (a timedelta or seconds), and so on.

    ``members`` is one member id (then ``count`` events, default 1) or a sequence of
    them, one event each (``None`` for a community-level event).  Other keyword
    arguments as :func:`event`::

        events("checkin", "u1", count=7, every=timedelta(days=1))
        events("member.joined", ["u1", "u2", "u3"], start=after(hours=1))
    """
    if isinstance(members, str):
        who: list[str | None] = [members] * (1 if count is None else count)
    else:
        who = list(members)
        if count is not None and count != len(who):
            raise ValueError(f"count={count} but {len(who)} members were given")
    first = datetime.fromisoformat(_instant(start))
    step = every if isinstance(every, timedelta) else timedelta(seconds=every)
    return [event(type, m, first + i * step, **kw) for i, m in enumerate(who)]


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
    "grant_role": {"role": "vip"},
    "remove_role": {"role": "vip"},
    "pin": {"message_id": "m-1", "channel": "general"},
    "unpin": {"message_id": "m-1", "channel": "general"},
    "approve_join": {},
    "decline_join": {"reason": "no introduction"},
    "poll": {"question": "Where next weekend?", "options": ["hiking", "museum"], "multiple": False},
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
    """An emitted action in the docs/reference.md §6.1 shape (the mapping ``Adapter.deliver`` gets).

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
