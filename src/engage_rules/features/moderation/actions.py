"""What the moderation actions do (docs/reference.md §5.9): delete a message, warn,
mute and unmute, kick, ban and unban, strike (with the ladder), reset strikes, and flag
for review.  Every one of them is recorded in the audit log with its rule, event, reason
and time; mutes and bans with a duration end on a timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ...compile.feature import FeatureKey, TimerHandler
from ...compile.playbook import CompiledAction, Exempt
from ...engine.effects import Effects
from ...engine.scope import ActionScope
from ...engine.timers import same_instant, timer_action, timer_audit
from ...errors import ActionRefused
from ...expr.runtime import to_str
from ...i18n import N_
from ...lang.spec import MODERATOR_EVENTS
from ...model.decision import Decision
from ...model.events import event_to_json
from ...model.state import MemberState, Strike, Timer


@dataclass(frozen=True, slots=True)
class LadderStep:
    """One step of the strike ladder: what happens at ``at`` active strikes."""

    at: int
    do: tuple[CompiledAction, ...]


@dataclass(frozen=True)
class ModerationPlan:
    """A playbook's moderation: the strike ladder, when strikes expire (seconds), and
    who is exempt from moderation (``moderation.exempt``, by default admins and
    moderators)."""

    ladder: tuple[LadderStep, ...] = ()
    strike_expiry: float | None = None
    exempt: Exempt | None = None


MODERATION: FeatureKey[ModerationPlan] = FeatureKey("moderation")
_NO_PLAN = ModerationPlan()


def do_delete_message(run: ActionScope, action: CompiledAction) -> None:
    """The ``delete_message`` action."""
    message_id = run.event.data.get("message_id")
    reason = run.text(action, "reason")
    params: dict[str, Any] = {"message_id": message_id, "channel": run.event.channel}
    if reason:
        params["reason"] = reason
    member = run.member.id if run.member else None
    run.emit(action, member, params)
    run.audit("delete_message", member, reason)


def do_mute(run: ActionScope, action: CompiledAction) -> None:
    """The ``mute`` action."""
    m = run.require_target(action)
    until = run.at + action.consts["for__delta"]
    reason = run.text(action, "reason")
    if m.status == "banned" or (
        m.muted_until is not None and m.muted_until >= until and m.status == "muted"
    ):
        return
    m.status = "muted"
    m.muted_until = until
    run.d.touched.add((m.community, m.id))
    run.add_timer("unmute", until, m.id, {})
    written = action.consts["for__text"]
    run.emit(action, m.id, {"for": written, "until": until.isoformat(), "reason": reason})
    run.audit("mute", m.id, reason)


def _lift(run: ActionScope, action: CompiledAction, status: str, until_attr: str) -> None:
    """`unmute` / `unban`: back to active, if the member is muted / banned."""
    m = run.require_target(action)
    if m.status != status:
        return
    m.status = "active"
    setattr(m, until_attr, None)
    run.d.touched.add((m.community, m.id))
    reason = run.text(action, "reason")
    run.emit(action, m.id, {"reason": reason})
    run.audit(action.name, m.id, reason)


def do_unmute(run: ActionScope, action: CompiledAction) -> None:
    """The ``unmute`` action."""
    _lift(run, action, "muted", "muted_until")


def do_kick(run: ActionScope, action: CompiledAction) -> None:
    """The ``kick`` action."""
    m = run.require_target(action)
    reason = run.text(action, "reason")
    if m.status in ("left", "banned"):
        return
    m.status = "left"
    run.d.touched.add((m.community, m.id))
    run.emit(action, m.id, {"reason": reason})
    run.audit("kick", m.id, reason)


def do_ban(run: ActionScope, action: CompiledAction) -> None:
    """The ``ban`` action."""
    m = run.require_target(action)
    reason = run.text(action, "reason")
    delta = action.consts.get("for__delta")
    until = run.at + delta if delta is not None else None
    if m.status == "banned" and (m.banned_until is None or (until and m.banned_until >= until)):
        return
    m.status = "banned"
    m.banned_until = until
    m.muted_until = None
    run.d.touched.add((m.community, m.id))
    params: dict[str, Any] = {"reason": reason}
    if until is not None:
        params.update({"for": action.consts["for__text"], "until": until.isoformat()})
        run.add_timer("unban", until, m.id, {})
    run.emit(action, m.id, params)
    run.audit("ban", m.id, reason)


def do_unban(run: ActionScope, action: CompiledAction) -> None:
    """The ``unban`` action."""
    _lift(run, action, "banned", "banned_until")


def do_strike(run: ActionScope, action: CompiledAction) -> None:
    """The ``strike`` action: a strike, and the ladder step it reaches."""
    m = run.require_target(action)
    plan = run.playbook.data(MODERATION) or _NO_PLAN
    ev = run.event
    channel = None if ev.type in MODERATOR_EVENTS else ev.channel
    if plan.exempt is not None and plan.exempt.applies(m.id, m.roles, channel):
        return  # exempt members never receive strikes
    reason = run.text(action, "reason")
    expires = run.at + timedelta(seconds=plan.strike_expiry) if plan.strike_expiry else None
    m.strikes.append(Strike(run.at, reason, run.rule, expires))
    total = m.active_strikes(run.at)
    run.d.touched.add((m.community, m.id))
    record = run.emit(action, m.id, {"reason": reason, "total": total})
    run.audit("strike", m.id, reason)
    tag = f"strike:{record.key[:12]}"
    run.raise_event("strike.added", m, {"total": total, "reason": reason}, tag)
    step = None
    ladder = plan.ladder
    for s in ladder:
        if s.at == total or (s.at < total and s is ladder[-1]):
            step = s
    if step is not None:
        ladder_run = run.for_member(m, "moderation.strikes")
        for ladder_action in step.do:
            try:
                ladder_action.execute(ladder_run, ladder_action)
            except ActionRefused:
                break


def do_reset_strikes(run: ActionScope, action: CompiledAction) -> None:
    """Clear the member's active strikes: each ends now (kept in the member's history),
    so the ladder starts again from its first step."""
    m = run.require_target(action)
    now = run.at
    cleared = 0
    for strike in m.strikes:
        if strike.expires is None or strike.expires > now:
            strike.expires = now
            cleared += 1
    if not cleared:
        return
    run.d.touched.add((m.community, m.id))
    reason = run.text(action, "reason")
    run.emit(action, m.id, {"reason": reason, "cleared": cleared})
    run.audit("reset_strikes", m.id, reason)


def do_flag_for_review(run: ActionScope, action: CompiledAction) -> None:
    """The ``flag_for_review`` action: the event goes to the review queue."""
    reason = run.text(action, "reason")
    member = run.member.id if run.member else None
    record = run.emit(action, member, {"reason": reason})
    ev = run.event
    run.d.add_review(
        {
            "id": record.key,
            "at": run.at.isoformat(),
            "rule": run.rule,
            "action": action.path,
            "event": ev.id,
            "member": member,
            "community": ev.community,
            "reason": reason,
            "match": to_str(run.match) if run.match else "",
            "status": "open",
            "event_json": event_to_json(ev),
        }
    )
    run.audit("flag_for_review", member, reason)


def _lifter(status: str, until_attr: str, action: str, reason: str) -> TimerHandler:
    """A timer handler lifting a mute or ban when it ends (if it is still the one that
    ends now)."""

    def handler(
        engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
    ) -> None:
        if m is None or m.status != status or not same_instant(getattr(m, until_attr), at):
            return
        m.status = "active"
        setattr(m, until_attr, None)
        d.touched.add((m.community, m.id))
        timer_action(engine, d, timer, action, at, {"reason": engine.playbook.say(reason)})
        timer_audit(d, timer, action, at)

    return handler


#: The timers that end mutes and bans.
LIFT_MUTE = _lifter("muted", "muted_until", "unmute", N_("mute expired"))
LIFT_BAN = _lifter("banned", "banned_until", "unban", N_("ban expired"))
