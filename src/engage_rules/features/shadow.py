"""Shadow mode: trial a rule, or a whole playbook, on live traffic without acting.

A rule with ``shadow: true`` is evaluated like any other — its conditions, `once`,
`cooldown` and `threshold` (the rule's own bookkeeping) — but its actions are not
carried out.  Each one is recorded as a *shadow action*: the action it would have
emitted, with its parameters resolved (message text rendered), marked ``shadow``.  It
changes no member state, raises no event and is never delivered: stores keep it in the
outbox with status ``shadow``, which the dispatcher skips, and `report` lists it.

A playbook with top-level ``shadow: true`` runs in full against its own state (points,
levels, flows and timers all advance, so the trial is faithful) and every action it
emits is marked ``shadow``: run it beside the live playbook with its own store to see
what it would do.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..compile.feature import BaseFeature, CompileContext, FeaturePlan
from ..compile.playbook import CompiledAction
from ..engine.scope import ActionScope
from ..errors import ActionRefused
from ..lang.action_params import MESSAGE_ACTIONS
from ..model.storable import json_value
from .currencies import to_minor
from .messaging import message_params

#: Parameters that hold nested actions or load-time data, not values to report.
_NESTED = frozenset({"prizes", "on_approve"})


def shadow_params(run: ActionScope, action: CompiledAction) -> dict[str, Any]:
    """The parameters the action would carry, resolved for this event."""
    params: dict[str, Any] = {
        k: v
        for k, v in action.params.model_dump(
            by_alias=True, exclude_none=True, exclude_defaults=True
        ).items()
        if k not in _NESTED
    }
    for name, fn in action.values.items():
        key = "for" if name == "for_" else name
        params[key] = json_value(fn(run), key)
    prizes = getattr(action.params, "prizes", None)
    if prizes:
        params["prizes"] = [p.name for p in prizes]
    if action.name in MESSAGE_ACTIONS:
        params.update(message_params(run, action))
    return params


def do_shadow(run: ActionScope, action: CompiledAction) -> None:
    """Record what ``action`` would do, and do nothing.

    A `spend` the member could not afford is refused as it would be (so the rule's
    `else:` is recorded instead); nothing else depends on state the shadow rule would
    have changed, since it changes none.
    """
    params = shadow_params(run, action)
    to = params.pop("to", None)
    member = str(to) if to not in (None, "") else (run.member.id if run.member else None)
    if action.name == "spend":
        amount = params.get("points", params.get("amount", 0))
        currency = params.get("currency") or run.default_currency
        m = run.state.community(run.event.community).find(member or "")
        balance = run.wallet(m, currency).balances.get(currency, 0) if m is not None else 0
        scale = run.env.scales.get(currency)  # balances hold minor units (currencies.py)
        if scale is not None and not isinstance(amount, bool):
            try:
                amount = to_minor(amount, scale)
            except ValueError:
                amount = None
        if not isinstance(amount, int) or balance < amount:
            raise ActionRefused("insufficient balance", "insufficient_balance")
    record = run.emit(action, member, params)
    record.shadow = True


class ShadowFeature(BaseFeature):
    """Rules in shadow mode (``shadow: true``): their actions are recorded, not done.

    (A whole playbook in shadow mode is the engine's business: it marks every action
    of every decision, see ``Engine``.)"""

    name = "shadow"

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        rules = ctx.rules
        for i, rule in enumerate(rules):
            if rule.shadow:
                rules[i] = replace(
                    rule,
                    do=_shadowed(rule.do),
                    else_=_shadowed(rule.else_),
                    refused=_shadowed(rule.refused),
                )
        return None


def _shadowed(actions: tuple[CompiledAction, ...]) -> tuple[CompiledAction, ...]:
    return tuple(replace(a, execute=do_shadow) for a in actions)
