"""Rule traces: what every rule made of every event, for `explain` (docs/reference.md §7).

An engine built with ``trace=True`` decides events through the functions made here
instead of the generated dispatch code (dispatch.py).  They follow the same steps in the
same order — exemptions, `once`, `cooldown`, the condition, `threshold`, `do` / `else`,
`stop` — and call the same helpers, so a traced run decides exactly what an untraced one
does (a test replays every example playbook both ways and compares).  Along the way they
write one trace per event into the decision (``Decision.traces``), which the store keeps
with a retention (``Store.keep_traces``):

    {"event": "evt-1", "type": "message.posted", "community": "default", "member": "u3",
     "at": "...", "ts": 1772453700.0, "cause": "evt-1", "depth": 0,
     "rules": [{"rule": "quality-post", "file": "community.yaml", "line": 31,
                "outcome": "condition_false",
                "condition": {"text": "event.data.text | length >= 20", "value": false,
                              "parts": [{"text": "event.data.text | length", "value": 12}]}},
               ...]}

Outcomes: ``fired``, ``else`` (the condition was false and `else:` ran),
``refused_else`` (an action was refused, e.g. a short `spend`, and `else:` ran),
``refused`` (an action was refused and the rule has no `else:`),
``condition_false``, ``exempt``, ``once``, ``cooldown``, ``threshold`` (counted, not
reached yet), ``error`` (the condition failed) and ``not_reached`` (an earlier rule
had `stop: true`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..compile.rule_helpers import (
    rule_error,
    run_actions,
    shared_cooldown_start,
    shared_cooling,
    threshold,
)
from ..expr.condition_parts import Part, condition_parts, shown
from ..expr.expressions import render_condition
from ..model.decision import Decision
from ..model.events import Event

if TYPE_CHECKING:
    from ..compile.playbook import CompiledPlaybook, CompiledRule
    from ..model.state import MemberState
    from .scope import ActionScope as Run

TracedDispatch = Callable[..., None]


class _RuleTracer:
    """One rule, decided with a trace."""

    __slots__ = ("file", "parts", "parts_failed", "playbook", "rule")

    def __init__(self, rule: CompiledRule, playbook: CompiledPlaybook, file: str) -> None:
        self.rule = rule
        self.playbook = playbook
        self.file = file
        self.parts: Part | None = None
        self.parts_failed = False

    def condition(self, c: Run) -> dict[str, Any] | None:
        rule = self.rule
        if rule.cond_source is None or rule.cond is None:
            return None
        if self.parts is None and not self.parts_failed:
            try:
                self.parts = condition_parts(
                    rule.cond_source, self.playbook.vars, self.playbook.env
                )
            except Exception:
                # A condition the engine wrote itself (a moderator-event route) or one
                # that needs its load-time context: shown whole, with its value only.
                self.parts_failed = True
        if self.parts is None:
            return {"text": render_condition(rule.cond_source)}
        return self.parts.evaluate(c)

    def decide(
        self,
        eng: Any,
        ev: Event,
        m: MemberState | None,
        c: Run,
        d: Decision,
        at_ts: float,
        mid: str | None,
        roles: Any,
        channel: str | None,
        out: dict[str, Any],
    ) -> bool:
        """Decide the rule for ``ev`` into ``out``; True if it stops the event."""
        rule = self.rule
        if self.skipped(m, at_ts, mid, roles, channel, out):
            return False
        if rule.cooldown is not None and rule.cooldown_per != "member":
            last = shared_cooling(rule, c, at_ts)
            if last is not None:
                out.update(
                    outcome="cooldown",
                    cooldown=rule.cooldown,
                    cooldown_per=rule.cooldown_per,
                    last_fired_ts=last,
                    remaining=rule.cooldown - (at_ts - last),
                )
                return False
        ok: Any = True
        if rule.cond is not None:
            if rule.sets_match:
                c.match = ""
            explained = self.condition(c)
            try:
                ok = rule.cond(c)
            except Exception as err:
                rule_error(d, rule, ev, err)
                out.update(outcome="error", error=str(err) or type(err).__name__)
                if explained is not None:
                    out["condition"] = explained
                return False
            if explained is not None:
                explained["value"] = shown(ok) if not isinstance(ok, bool) else ok
                out["condition"] = explained
            if c.match:
                out["match"] = c.match
        n0 = len(d.actions)
        if ok:
            return self.fire(m, c, d, at_ts, n0, out)
        out["outcome"] = "condition_false"
        if rule.else_:
            errors = len(d.errors)
            run_actions(rule, rule.else_, c)
            out["outcome"] = "else"
            self.actions(d, n0, errors, out)
        return False

    def skipped(
        self,
        m: MemberState | None,
        at_ts: float,
        mid: str | None,
        roles: Any,
        channel: str | None,
        out: dict[str, Any],
    ) -> bool:
        """True (with the outcome in ``out``) if an exemption, `once` or `cooldown` keeps
        the rule from looking at the event."""
        rule = self.rule
        if rule.exempt is not None and rule.exempt.applies(mid, roles, channel):
            out["outcome"] = "exempt"
            out["roles"] = list(roles)
            return True
        if m is not None and rule.once and rule.id in m.spent:
            out["outcome"] = "once"
            return True
        if m is not None and rule.cooldown is not None and rule.cooldown_per == "member":
            last = m.cooldowns.get(rule.id, -1e18)
            if at_ts - last < rule.cooldown:
                out.update(
                    outcome="cooldown",
                    cooldown=rule.cooldown,
                    last_fired_ts=last,
                    remaining=rule.cooldown - (at_ts - last),
                )
                return True
        return False

    def fire(
        self,
        m: MemberState | None,
        c: Run,
        d: Decision,
        at_ts: float,
        n0: int,
        out: dict[str, Any],
    ) -> bool:
        """The condition held: count toward `threshold`, spend `once` and `cooldown`, run
        `do` (and `else` if an action was refused); True if the rule stops the event."""
        rule = self.rule
        if rule.threshold is not None and m is not None:
            count, within = rule.threshold
            if not threshold(rule, m, at_ts):
                out.update(
                    outcome="threshold",
                    count=len(m.windows.get(rule.id, ())),
                    needed=count,
                    within=within,
                )
                return False
            out.update(threshold_reached=count, within=within)
        if m is not None and rule.once:
            m.spent.add(rule.id)
        if rule.cooldown is not None and rule.cooldown_per != "member":
            shared_cooldown_start(rule, c, at_ts)
        elif m is not None and rule.cooldown is not None:
            m.cooldowns[rule.id] = at_ts
        errors = len(d.errors)
        if rule.else_:
            done = run_actions(rule, rule.do, c)
            if not done:
                run_actions(rule, rule.else_, c)
            out["outcome"] = "fired" if done else "refused_else"
        else:
            done = run_actions(rule, rule.do, c)
            out["outcome"] = "fired" if done else "refused"
        self.actions(d, n0, errors, out)
        return rule.stop

    @staticmethod
    def actions(d: Decision, n0: int, errors: int, out: dict[str, Any]) -> None:
        out["actions"] = [
            {
                "type": a.type,
                "member": a.member,
                "params": shown(a.params),
                **({"shadow": True} if a.shadow else {}),
            }
            for a in d.actions[n0:]
        ]
        if len(d.errors) > errors:
            out["action_errors"] = [e.message for e in d.errors[errors:]]


def build_traced_dispatch(
    rules_by_type: dict[str, tuple[CompiledRule, ...]], playbook: CompiledPlaybook
) -> dict[str, TracedDispatch]:
    """One traced dispatch function per event type (and trigger route)."""
    loaded = playbook.loaded

    def file_of(rule: CompiledRule) -> str:
        """The playbook file the rule is written in, as `validate` names it."""
        return loaded.source.pos(rule.source)[0] if loaded is not None else ""

    out: dict[str, TracedDispatch] = {}
    for type_, rules in rules_by_type.items():
        tracers = tuple(_RuleTracer(r, playbook, file_of(r)) for r in rules)
        out[type_] = _dispatcher(tracers)
    return out


def _dispatcher(tracers: tuple[_RuleTracer, ...]) -> TracedDispatch:
    def dispatch(
        eng: Any,
        ev: Event,
        m: MemberState | None,
        c: Run,
        d: Decision,
        at_ts: float,
        mid: str | None,
        roles: Any,
        channel: str | None,
    ) -> None:
        rules: list[dict[str, Any]] = []
        d.add_trace(
            {
                "event": ev.id,
                "type": ev.type,
                "community": ev.community,
                "member": mid,
                "at": ev.at.isoformat(),
                "ts": at_ts,
                "cause": d.cause,
                "depth": ev.depth,
                "data": shown(ev.data),
                "rules": rules,
            }
        )
        stopped_by = None
        for tracer in tracers:
            rule = tracer.rule
            out: dict[str, Any] = {"rule": rule.id, "file": tracer.file, "line": rule.line}
            if rule.shadow:
                out["shadow"] = True
            rules.append(out)
            if stopped_by is not None:
                out.update(outcome="not_reached", stopped_by=stopped_by)
                continue
            if tracer.decide(eng, ev, m, c, d, at_ts, mid, roles, channel, out):
                stopped_by = rule.id

    return dispatch
