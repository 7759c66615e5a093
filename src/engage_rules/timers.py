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


#: A timer handler: ``(engine, decision, timer, member, at)``.  ``member`` is the timer's
#: member (None for community-level timers such as leaderboard closes and schedules);
#: ``at`` is the due time in the community time zone.  A handler may raise internal
#: events with :meth:`Engine.timer_event`; rules see them after the handler returns.
TimerHandler = Callable[["Engine", Decision, Timer, "MemberState | None", datetime], None]


def _same(a: datetime | None, b: datetime) -> bool:
    return a is not None and abs((a - b).total_seconds()) < 0.001


def _expire(status: str, until_attr: str, action: str, reason: str) -> TimerHandler:
    """A handler lifting a mute or ban when it ends (if it is still the one that ends now)."""

    def handler(engine: Engine, d: Decision, timer: Timer, m: MemberState | None,
                at: datetime) -> None:
        if m is None or m.status != status or not _same(getattr(m, until_attr), at):
            return
        m.status = "active"
        setattr(m, until_attr, None)
        d.touched.add((m.community, m.id))
        _emit(engine, d, timer, action, at, {"reason": reason})
        _audit(d, timer, action, at)

    return handler


def _untag(engine: Engine, d: Decision, timer: Timer, m: MemberState | None,
           at: datetime) -> None:
    name = timer.payload.get("name", "")
    if m is None or name not in m.tags or not _same(m.tags[name], at):
        return
    del m.tags[name]
    d.touched.add((m.community, m.id))
    _emit(engine, d, timer, "untag", at, {"name": name, "reason": "tag expired"})


#: What each kind of timer does, by ``Timer.kind``.  Features add their kinds with
#: :func:`register_timer_kind` from their own modules.
TIMER_KINDS: dict[str, TimerHandler] = {}


def register_timer_kind(kind: str, handler: TimerHandler) -> None:
    if kind in TIMER_KINDS:
        raise ValueError(f"timer kind {kind!r} is registered twice")
    TIMER_KINDS[kind] = handler


register_timer_kind("unmute", _expire("muted", "muted_until", "unmute", "mute expired"))
register_timer_kind("unban", _expire("banned", "banned_until", "unban", "ban expired"))
register_timer_kind("untag", _untag)


def fire_timer(engine: Engine, d: Decision, timer: Timer, at: datetime) -> None:
    """Run a due timer's handler.  A member timer whose member is unknown does nothing;
    a timer of an unknown kind (from a newer version's store) is skipped."""
    handler = TIMER_KINDS.get(timer.kind)
    if handler is None:
        return
    community = engine.state.community(timer.community)
    m = None
    if timer.member is not None:
        m = community.members.get(timer.member)
        if m is None:
            return
    handler(engine, d, timer, m, at.astimezone(engine.playbook.timezone))
