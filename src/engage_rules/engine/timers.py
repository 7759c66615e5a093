"""What a due timer does when it fires (docs/reference.md §2: time is data).

Timers are never cancelled in place: a timer checks, when it fires, that the state it was
set for still holds (the mute it would lift is still the one that ends now; the tag it
would remove still expires now).  A re-mute or a re-tag simply sets a new timer, and the
stale one fires as a no-op.  This keeps timers cancellation-free and crash-safe.

What each kind of timer does is registered by features (``Feature.timer_kinds``) and
compiled into the playbook (``CompiledPlaybook.timer_kinds``); the helpers below are
what handlers share.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..model.decision import ActionRecord, Decision, action_key
from ..model.state import Timer

if TYPE_CHECKING:
    from .effects import Effects


def timer_action(
    effects: Effects, d: Decision, timer: Timer, type_: str, at: datetime, params: dict[str, Any]
) -> ActionRecord:
    """Record the action a timer takes (an unmute, an untag...), named after its rule;
    its key hashes the playbook, the rule, the timer id and the action type."""
    record = ActionRecord(
        key=action_key(effects.playbook.name, timer.rule, timer.id, type_),
        type=type_,
        member=timer.member,
        rule=timer.rule,
        cause=timer.id,
        at=at,
        params=params,
        community=timer.community,
    )
    d.actions.append(record)
    return record


def timer_audit(d: Decision, timer: Timer, action: str, at: datetime) -> None:
    """An audit-log entry for a moderation state a timer ended ("expired")."""
    d.add_audit(
        {
            "at": at.isoformat(),
            "rule": timer.rule,
            "event": timer.id,
            "member": timer.member,
            "community": timer.community,
            "action": action,
            "reason": "expired",
            "actor": "engine",
        }
    )


def same_instant(a: datetime | None, b: datetime) -> bool:
    """Whether ``a`` is the instant ``b`` (to the millisecond: timers store floats)."""
    return a is not None and abs((a - b).total_seconds()) < 0.001


def fire_timer(effects: Effects, d: Decision, timer: Timer, at: datetime) -> None:
    """Run a due timer's handler.  A member timer whose member is unknown does nothing;
    a timer of an unknown kind (from a newer version's store) is skipped."""
    handler = effects.playbook.timer_kinds.get(timer.kind)
    if handler is None:
        return
    community = effects.state.community(timer.community)
    m = None
    if timer.member is not None:
        m = community.find(timer.member)
        if m is None:
            return
    handler(effects, d, timer, m, at.astimezone(effects.playbook.timezone))
