"""What a due timer does when it fires (DESIGN.md §2: time is data).

Timers are never cancelled in place: a timer checks, when it fires, that the state it was
set for still holds (the mute it would lift is still the one that ends now; the tag it
would remove still expires now).  A re-mute or a re-tag simply sets a new timer, and the
stale one fires as a no-op.  This keeps timers cancellation-free and crash-safe.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .decision import ActionRecord, Decision, action_key
from .state import MemberState, Timer

if TYPE_CHECKING:
    from .engine import Engine


def _emit(engine: Engine, d: Decision, timer: Timer, type_: str, at: datetime,
          params: dict[str, Any]) -> None:
    d.actions.append(ActionRecord(
        key=action_key(engine.playbook.name, timer.rule, timer.id, type_),
        type=type_,
        member=timer.member,
        rule=timer.rule,
        cause=timer.id,
        at=at,
        params=params,
        community=timer.community,
    ))


def _audit(d: Decision, timer: Timer, action: str, at: datetime) -> None:
    d.add_audit({
        "at": at.isoformat(), "rule": timer.rule, "event": timer.id, "member": timer.member,
        "community": timer.community, "action": action, "reason": "expired", "actor": "engine",
    })


TimerHandler = Callable[["Engine", Decision, Timer, MemberState, datetime], None]


def _same(a: datetime | None, b: datetime) -> bool:
    return a is not None and abs((a - b).total_seconds()) < 0.001


def _expire(status: str, until_attr: str, action: str, reason: str) -> TimerHandler:
    """A handler lifting a mute or ban when it ends (if it is still the one that ends now)."""

    def handler(engine: Engine, d: Decision, timer: Timer, m: MemberState, at: datetime) -> None:
        if m.status != status or not _same(getattr(m, until_attr), at):
            return
        m.status = "active"
        setattr(m, until_attr, None)
        d.touched.add((m.community, m.id))
        _emit(engine, d, timer, action, at, {"reason": reason})
        _audit(d, timer, action, at)

    return handler


def _untag(engine: Engine, d: Decision, timer: Timer, m: MemberState, at: datetime) -> None:
    name = timer.payload.get("name", "")
    if name not in m.tags or not _same(m.tags[name], at):
        return
    del m.tags[name]
    d.touched.add((m.community, m.id))
    _emit(engine, d, timer, "untag", at, {"name": name, "reason": "tag expired"})


TIMER_KINDS: dict[str, TimerHandler] = {
    "unmute": _expire("muted", "muted_until", "unmute", "mute expired"),
    "unban": _expire("banned", "banned_until", "unban", "ban expired"),
    "untag": _untag,
}


def fire_timer(engine: Engine, d: Decision, timer: Timer, at: datetime) -> None:
    handler = TIMER_KINDS.get(timer.kind)
    if handler is None or timer.member is None:
        return
    community = engine.state.community(timer.community)
    m = community.members.get(timer.member)
    if m is not None:
        handler(engine, d, timer, m, at.astimezone(engine.playbook.timezone))
