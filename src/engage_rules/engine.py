"""The pure engine core: (playbook, state, event, time) → decisions (DESIGN.md §2, §3, §5.1).

No I/O, no wall clock, no global state, no unseeded randomness.  The engine mutates the
:class:`~engage_rules.state.State` it is given and returns, for every event and every
timer that fired, a :class:`~engage_rules.decision.Decision` naming what it touched, so a
store can commit exactly that.  Duplicate detection is the caller's job (the runner asks
the store), which keeps this module free of I/O.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Any

from .compiler import CompiledAction, CompiledPlaybook, CompiledRule
from .context import EvalContext
from .decision import Decision, RuleError
from .engine_actions import ACTION_EXECUTORS, ActionRefused, Run
from .errors import InternalLoopError
from .events import Event, MemberRef, internal_event
from .state import MemberState, State, Timer, from_ts, ts
from .textnorm import fingerprint
from .timers import fire_timer

#: How many hops of internal events (a rule's `emit` causing another rule's `emit`...)
#: one external event may cause before the chain is stopped as a loop.
MAX_INTERNAL_DEPTH = 8


class Engine:
    """Evaluates one compiled playbook over a stream of events."""

    def __init__(self, playbook: CompiledPlaybook, state: State | None = None) -> None:
        self.playbook = playbook
        self.state = state if state is not None else State()
        self._community_vars: dict[str, dict[str, Any]] = {}

    # -- time ---------------------------------------------------------------------------
    def advance_to(self, at: datetime) -> list[Decision]:
        """Move the clock forward to ``at``, firing every timer due by then, in order."""
        out: list[Decision] = []
        state = self.state
        until = ts(at)
        while True:
            timer = state.pop_due(until)
            if timer is None:
                break
            due = from_ts(timer.due)
            if state.clock is None or due > state.clock:
                state.clock = due
            out.append(self._fire(timer))
        if state.clock is None or at > state.clock:
            state.clock = at
        return out

    def _fire(self, timer: Timer) -> Decision:
        at = from_ts(timer.due)
        d = Decision(cause=timer.id, at=at, is_timer=True)
        d.timers_fired.append(timer.id)
        fire_timer(self, d, timer, at)
        return d

    # -- events -------------------------------------------------------------------------
    def process(self, event: Event) -> list[Decision]:
        """Decide one event.  Returns the decisions of timers that fired first, then its own."""
        out = self.advance_to(event.at) if (
            self.state.clock is None or event.at > self.state.clock
        ) else []
        d = Decision(cause=event.id, at=event.at, event=event)
        queue: deque[Event] = deque([event])
        while queue:
            ev = queue.popleft()
            if ev.depth > MAX_INTERNAL_DEPTH:
                d.errors.append(RuleError(
                    "engine", ev.id,
                    str(InternalLoopError(
                        f"internal event {ev.type!r} nested deeper than {MAX_INTERNAL_DEPTH} "
                        "hops; rules that emit events are triggering each other in a loop"
                    )),
                    event.at,
                ))
                continue
            self._decide(ev, d, queue)
        out.append(d)
        return out

    def community_vars(self, name: str) -> dict[str, Any]:
        cv = self._community_vars.get(name)
        if cv is None:
            pb = self.playbook
            cv = self._community_vars[name] = {
                "id": name, "name": pb.community_name, "timezone": pb.timezone.key,
            }
        return cv

    def context(self, ev: Event, member: MemberState | None) -> EvalContext:
        pb = self.playbook
        return EvalContext(
            ev, member, ev.at, ts(ev.at), self.community_vars(ev.community), pb.vars,
            pb.default_currency, pb.timezone,
        )

    def _apply_member_event(self, ev: Event, m: MemberState, at_ts: float) -> None:
        ref = ev.member
        if ref is not None and not ev.internal:
            if ref.name is not None:
                m.name = ref.name
            if ref.roles:
                m.roles = ref.roles
            if ref.created_at is not None:
                m.created_at = ref.created_at
        t = ev.type
        if t == "member.joined":
            if m.status == "left":
                m.status = "active"
            if m.joined_at is None:
                m.joined_at = ev.at
        elif t == "member.left":
            m.status = "left"
        elif t == "member.opted_out":
            m.opted_out = True
        elif t == "member.opted_in":
            m.opted_out = False
        if ev.internal:
            return
        pb = self.playbook
        if t in pb.activity_events and (m.last_active_at is None or ev.at > m.last_active_at):
            m.last_active_at = ev.at
        window = pb.count_windows.get(t)
        m.record(t, at_ts, window)
        if pb.duplicates_window is not None and t == "message.posted":
            text = ev.data.get("text")
            if isinstance(text, str):
                m.texts.append((at_ts, fingerprint(text)))
                horizon = at_ts - pb.duplicates_window
                if m.texts[0][0] < horizon:
                    m.texts = [x for x in m.texts if x[0] >= horizon]

    def _decide(self, ev: Event, d: Decision, queue: deque[Event]) -> None:
        community = self.state.community(ev.community)
        mid = ev.member.id if ev.member is not None else None
        m = community.member(mid) if mid is not None else None
        at_ts = ts(ev.at)
        if m is not None:
            self._apply_member_event(ev, m, at_ts)
            d.touched.add((ev.community, m.id))
        rules = self.playbook.by_type.get(ev.type)
        if not rules:
            return
        c = self.context(ev, m)
        roles = m.roles if m is not None else ()
        for rule in rules:
            exempt = rule.exempt
            if exempt is not None and exempt.applies(mid, roles, ev.channel):
                continue
            if m is not None:
                if rule.once and rule.id in m.spent:
                    continue
                if rule.cooldown is not None:
                    last = m.cooldowns.get(rule.id)
                    if last is not None and at_ts - last < rule.cooldown:
                        continue
            c.match = ""
            if rule.cond is not None:
                try:
                    ok = rule.cond(c)
                except Exception as err:  # a failing rule never stops the stream
                    d.errors.append(RuleError(rule.id, ev.id, _describe(err), ev.at))
                    continue
            else:
                ok = True
            if not ok:
                if rule.else_:
                    self._run_actions(rule, rule.else_, ev, m, c, d, queue)
                continue
            if rule.threshold is not None and m is not None:
                count, within = rule.threshold
                window = m.windows.setdefault(rule.id, [])
                window.append(at_ts)
                horizon = at_ts - within
                if window[0] <= horizon:
                    window[:] = [t for t in window if t > horizon]
                if len(window) < count:
                    continue
                window.clear()
            if m is not None:
                if rule.once:
                    m.spent.add(rule.id)
                if rule.cooldown is not None:
                    m.cooldowns[rule.id] = at_ts
            completed = self._run_actions(rule, rule.do, ev, m, c, d, queue)
            if not completed and rule.else_:
                self._run_actions(rule, rule.else_, ev, m, c, d, queue)
            if rule.stop:
                break

    def _run_actions(
        self,
        rule: CompiledRule | str,
        actions: list[CompiledAction],
        ev: Event,
        m: MemberState | None,
        c: EvalContext,
        d: Decision,
        queue: deque[Event],
    ) -> bool:
        """Run actions in order.  False if one was refused (e.g. a short `spend`)."""
        rule_id = rule if isinstance(rule, str) else rule.id
        run = Run(self, d, ev, m, c, rule_id, queue)
        for action in actions:
            try:
                ACTION_EXECUTORS[action.name](run, action)
            except ActionRefused:
                return False
            except Exception as err:
                d.errors.append(RuleError(rule_id, ev.id, f"{action.name}: {_describe(err)}",
                                          ev.at))
                return True
        return True

    def raise_event(
        self, run: Run, type_: str, member: MemberState | None, data: dict[str, Any], tag: str
    ) -> None:
        """Queue an internal event caused by ``run`` (processed after the current event)."""
        parent = run.event
        ref = MemberRef(id=member.id, name=member.name, roles=member.roles) if member else None
        run.queue.append(internal_event(
            id=f"{parent.id}/{tag}",
            type=type_,
            at=parent.at,
            community=parent.community,
            member=ref,
            data=data,
            depth=parent.depth + 1,
            channel=parent.channel,
            platform=parent.platform,
        ))


def _describe(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) <= 500 else text[:497] + "..."
