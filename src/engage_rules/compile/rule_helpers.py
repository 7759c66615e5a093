"""What generated dispatch code calls at run time: the one implementation of a rule's
steps, shared by the generated dispatch functions (:mod:`.dispatch`) and the traced ones
(:mod:`engage_rules.engine.tracing`), so the two cannot drift apart.

They live with the compiler that generates the calls; they touch only the scope they are
given (an :class:`~engage_rules.engine.scope.ActionScope`), the decision and the member.
"""

from __future__ import annotations

from typing import Any

from ..errors import ActionRefused
from ..model.decision import Decision, RuleFailure
from ..model.events import Event
from ..model.state import MemberState
from .playbook import CompiledAction, CompiledRule


def describe(err: BaseException) -> str:
    """An exception as a rule error's message (at most 500 characters)."""
    text = str(err) or type(err).__name__
    return text if len(text) <= 500 else text[:497] + "..."


def run_actions(
    rule: CompiledRule, actions: tuple[CompiledAction, ...] | list[CompiledAction], scope: Any
) -> bool:
    """Run a rule's actions in order.  False if one was refused (e.g. a short `spend`).

    An action that fails records an error and ends the rule's actions for this event;
    the effects of the actions before it stand.
    """
    scope.rule = rule.id
    for action in actions:
        try:
            action.execute(scope, action)
        except ActionRefused:
            return False
        except Exception as err:
            action_failed(scope, rule.id, action, err)
            return True
    return True


def action_failed(scope: Any, rule_id: str, action: CompiledAction, err: BaseException) -> None:
    """Record that an action of a rule failed for this event (its later actions do not
    run; the stream goes on).  Generated dispatch code inlines :func:`run_actions` for a
    rule of one action and calls this on its failure path."""
    ev = scope.event
    scope.d.add_error(RuleFailure(rule_id, ev.id, f"{action.name}: {describe(err)}", ev.at))


def rule_error(d: Decision, rule: CompiledRule, ev: Event, err: BaseException) -> None:
    """Record that a rule's condition failed for this event (the stream goes on)."""
    d.add_error(RuleFailure(rule.id, ev.id, describe(err), ev.at))


def condition_error(d: Decision, rule: CompiledRule, ev: Event, c: Any) -> Any:
    """An inlined condition raised: evaluate it through its compiled function, which
    names the failing expression, and record that error (None: the rule does not run).

    Should the compiled function not raise, it was the truth of the condition's value
    that raised (dispatch code tests it inside its ``try``): the value is returned, for
    the rule's ``if ok:`` to raise as it would have for the value itself.
    """
    assert rule.cond is not None
    try:
        return rule.cond(c)
    except Exception as err:
        rule_error(d, rule, ev, err)
        return None


def threshold(rule: CompiledRule, m: MemberState, at_ts: float) -> bool:
    """Count a matching event in the rule's window; True when the count is reached
    (the window then starts afresh, so a burst fires the rule once)."""
    assert rule.threshold is not None
    count, within = rule.threshold
    window = m.windows.get(rule.id)
    if window is None:
        window = m.windows[rule.id] = []
    window.append(at_ts)
    horizon = at_ts - within
    if window[0] <= horizon:
        window[:] = [t for t in window if t > horizon]
    if len(window) < count:
        return False
    window.clear()
    return True


#: The helpers generated dispatch code calls, by the names it calls them.
#: Where the cooldowns of rules with `cooldown_per: channel | community` live in
#: ``CommunityState.data``: ``{rule id: {channel or "*": last firing (epoch s)}}``.
COOLDOWNS_KEY = "cooldowns"


def _slot(rule: CompiledRule, scope: Any) -> str:
    if rule.cooldown_per == "community":
        return "*"
    channel = scope.event.channel
    return f"#{channel}" if channel is not None else "-"


def shared_cooling(rule: CompiledRule, scope: Any, at_ts: float) -> float | None:
    """When a rule with a channel or community cooldown last fired, while that cooldown
    runs (None: it may fire)."""
    community = scope.effects.state.communities.get(scope.event.community)
    if community is None:
        return None
    slots = community.data.get(COOLDOWNS_KEY, {}).get(rule.id)
    last: float | None = slots.get(_slot(rule, scope)) if slots else None
    if last is not None and rule.cooldown is not None and at_ts - last < rule.cooldown:
        return last
    return None


def shared_cooldown_start(rule: CompiledRule, scope: Any, at_ts: float) -> None:
    """A rule with a channel or community cooldown fires: its cooldown starts (the
    slots whose cooldown is over are forgotten, so they stay few)."""
    name = scope.event.community
    data = scope.effects.state.community(name).data
    slots = data.setdefault(COOLDOWNS_KEY, {}).setdefault(rule.id, {})
    cooldown = rule.cooldown or 0.0
    for key in [k for k, t in slots.items() if at_ts - t >= cooldown]:
        del slots[key]
    slots[_slot(rule, scope)] = at_ts
    scope.d.touch_community(name)


HELPERS: dict[str, Any] = {
    "shared_cooling": shared_cooling,
    "shared_cooldown_start": shared_cooldown_start,
    "run_actions": run_actions,
    "action_failed": action_failed,
    "ActionRefused": ActionRefused,
    "rule_error": rule_error,
    "condition_error": condition_error,
    "threshold": threshold,
}
