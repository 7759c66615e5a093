"""The pure engine core: (playbook, state, event, time) → decisions (docs/reference.md
§2, §3, §5.1).

No I/O, no wall clock, no global state, no unseeded randomness.  The engine mutates the
:class:`~engage_rules.model.state.State` it is given and returns, for every event and every
timer that fired, a :class:`~engage_rules.model.decision.Decision` naming what it touched, so a
store can commit exactly that.  Duplicate detection is the caller's job (the runner asks
the store), which keeps this module free of I/O.

The engine knows no feature: what timers, member checks, observers and start/resume
hooks do was compiled into the playbook by the features, which reach the engine back
only through :class:`~engage_rules.engine.effects.Effects` (implemented here).
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import engage_rules.i18n as i18n

from ..compile.playbook import CompiledAction, CompiledPlaybook, CompiledRule
from ..compile.rule_helpers import run_actions
from ..errors import InternalLoopError
from ..i18n import DEFAULT_LANGUAGE, current_language, use_language
from ..model import rule_problems as rp
from ..model.decision import ActionRecord, Decision, RuleFailure
from ..model.events import Event, MemberRef, internal_event, member_ref
from ..model.persons import PERSONS
from ..model.state import EPOCH, MemberState, State, Timer, from_ts
from ..text.normalise import NO_TEXT, fingerprint
from .scope import ActionScope
from .timers import fire_timer

#: How many hops of internal events (a rule's `emit` causing another rule's `emit`...)
#: one external event may cause before the chain is stopped as a loop.
MAX_INTERNAL_DEPTH = 8


class Engine:
    """Evaluates one compiled playbook over a stream of events."""

    def __init__(
        self, playbook: CompiledPlaybook, state: State | None = None, *, trace: bool = False
    ) -> None:
        """``trace``: record what every rule made of every event in the decisions
        (``Decision.traces``, for `explain`); slower, and off by default."""
        self.playbook = playbook
        self.state = state if state is not None else State()
        self._community_vars: dict[str, dict[str, Any]] = {}
        self.trace = trace
        self._dispatch: Any
        if trace:
            from .tracing import build_traced_dispatch  # noqa: PLC0415 (loaded only when tracing)

            self._dispatch = build_traced_dispatch(
                {**playbook.by_type, **playbook.routes}, playbook
            )
        else:
            self._dispatch = playbook.dispatch
        #: Observers of events (silence, delays, flows), or None when the playbook has none.
        self._observers = playbook.observers or None
        #: Observers run before an event's rules (posts, group signals), or None.
        self._before = playbook.before or None
        #: The whole playbook runs in shadow mode: every action is marked shadow.
        self._shadow = playbook.shadow
        #: The internal-event queue of the timer or check being decided (raise_event).
        self._queue: deque[Event] | None = None
        #: The internal-event queue of external events: one deque serves every event in
        #: turn (it is empty once an event is decided).
        self._event_queue: deque[Event] = deque()
        #: Event types whose observation (_observe) is at most the activity time, from a
        #: member reference without profile fields: True if they count as activity.
        self._light = _light_types(playbook)
        self._vars = dict(playbook.vars)
        # The scope every event reuses reaches the engine through a weak proxy: a strong
        # reference would make a cycle (engine -> scope -> engine), and the state, the
        # last decision and everything they hold would wait for the cyclic garbage
        # collector (slow to free at exit, never freed once frozen by interpreter.tune_gc).
        self._run = ActionScope(
            internal_event(
                id="",
                type="engine.idle",
                at=EPOCH,
                community="default",
                member=None,
                data={},
                depth=0,
            ),
            None,
            EPOCH,
            0.0,
            self.community_vars("default"),
            self._vars,
            playbook.default_currency,
            playbook.timezone,
            playbook.env,
            weakref.proxy(self),
            Decision("", EPOCH),
            deque(),
        )

    # -- time ---------------------------------------------------------------------------
    def advance_to(self, at: datetime) -> list[Decision]:
        """Move the clock forward to ``at``, firing every timer due by then, in order."""
        return list(self.advance_iter(at))

    def advance_iter(self, at: datetime) -> Iterator[Decision]:
        """:meth:`advance_to`, one decision at a time: each timer fires when the next
        decision is asked for, so a caller that commits as it goes holds a bounded number
        of decisions however many schedule slots lie before ``at`` (a clock moved years
        ahead fires every slot in between).  The state after each decision is consistent
        (the clock is at that timer's due time); consume the iterator to the end to reach
        ``at``."""
        state = self.state
        until = at.timestamp()
        while True:
            timer = state.pop_due(until)
            if timer is None:
                break
            due = from_ts(timer.due)
            if state.clock is None or due > state.clock:
                state.clock = due
            yield self._fire(timer)
        if state.clock is None or at > state.clock:
            state.clock = at

    def fire(self, timer: Timer) -> Decision:
        """Fire ``timer`` now, whether or not it is pending (schedule catch-up)."""
        return self._fire(timer)

    def start(self) -> list[Decision]:
        """Arm what a stored state lacks for this playbook (schedules added since the
        state was written).  Runners call it once, before the first event."""
        if i18n.other_language_used and current_language() != DEFAULT_LANGUAGE:  # see process_into
            with use_language(DEFAULT_LANGUAGE):
                return self.start()
        out: list[Decision] = []
        for hook in self.playbook.start_hooks:
            out.extend(hook(self))
        return out

    def resume(self, now: datetime) -> list[Decision]:
        """Resume a stored engine after real downtime: advance to ``now``, firing due
        timers, and apply each schedule's ``catch_up`` to the slots missed meanwhile
        (docs/reference.md §5.6).  For a live runtime, with the wall clock; replays just
        advance the clock, which fires every slot."""
        if i18n.other_language_used and current_language() != DEFAULT_LANGUAGE:  # see process_into
            with use_language(DEFAULT_LANGUAGE):
                return self.resume(now)
        out = self.start()
        afterwards = []
        for hook in self.playbook.resume_hooks:
            now_decisions, later = hook(self, now)
            out.extend(now_decisions)
            afterwards.append(later)
        out.extend(self.advance_to(now))
        for later in afterwards:
            out.extend(later())
        return out

    def _fire(self, timer: Timer) -> Decision:
        if i18n.other_language_used and current_language() != DEFAULT_LANGUAGE:  # see process_into
            with use_language(DEFAULT_LANGUAGE):
                return self._fire(timer)
        # The due time in the community time zone: what the timer's actions and the
        # internal events it raises carry as `at` (docs/reference.md §6).
        at = from_ts(timer.due).astimezone(self.playbook.timezone)
        d = Decision(cause=timer.id, at=at, is_timer=True)
        d.add_fired(timer.id)
        queue: deque[Event] = deque()
        self._queue = queue
        try:
            fire_timer(self, d, timer, at)
            self._drain(d, queue, at)
            if self.playbook.member_checks:
                self._settle(d, queue, at)
        finally:
            self._queue = None
        if self._shadow:
            _mark_shadow(d)
        return d

    # -- the Effects features use ----------------------------------------------------------
    def raise_event(
        self,
        d: Decision,
        type_: str,
        member: MemberState | None,
        data: dict[str, Any],
        tag: str = "",
        *,
        community: str | None = None,
    ) -> Event:
        """Raise an internal event on behalf of the engine itself (a timer handler or a
        member check) while ``d`` is being decided; rules see it after the current
        event.  Its id is the decision's cause (plus ``/tag``)."""
        queue = self.current_queue()
        ref = member_ref(member)
        ev = internal_event(
            id=f"{d.cause}/{tag}" if tag else d.cause,
            type=type_,
            at=d.at,
            community=community or (member.community if member else "default"),
            member=ref,
            data=data,
            depth=1,
        )
        queue.append(ev)
        return ev

    def scope(
        self,
        d: Decision,
        event: Event,
        member: MemberState | None,
        rule: str,
        queue: deque[Event] | None = None,
    ) -> ActionScope:
        """A scope in which compiled actions run on the engine's behalf while ``d`` is
        decided (a leaderboard's ``on_close`` prizes, a flow's steps), as if ``event``
        had caused them; internal events they raise join ``queue`` (default: the
        current queue)."""
        if queue is None:
            queue = self.current_queue()
        pb = self.playbook
        return ActionScope(
            event,
            member,
            event.at,
            event.ts,
            self.community_vars(event.community),
            self._vars,
            pb.default_currency,
            pb.timezone,
            pb.env,
            self,
            d,
            queue,
            rule,
        )

    def current_queue(self) -> deque[Event]:
        """The internal-event queue of the timer, member check or engine-run actions
        being decided; outside of those, a RuntimeError."""
        if self._queue is None:
            raise RuntimeError(
                "only timer handlers, member checks and actions the engine "
                "runs on its own can raise events or act in its scope"
            )
        return self._queue

    def run_rule(
        self, d: Decision, rule_id: str, ev: Event, queue: deque[Event] | None = None
    ) -> None:
        """Run one trigger rule (``on:`` a trigger map) for ``ev``, from a timer handler
        (or an observer, passing its ``queue``): the rule's `if`, `once`, `cooldown` and
        `exempt` apply; no other rule sees ``ev`` and it changes no member state by
        itself."""
        self._decide(ev, d, queue if queue is not None else self.current_queue(), f"@{rule_id}")

    def add_timer(self, d: Decision, timer: Timer) -> bool:
        """Schedule ``timer`` in the state and record it in ``d``, so the store commits
        it with the decision — unless one with its id is pending.  True if added."""
        if self.state.add_timer(timer):
            d.add_timer(timer)
            return True
        return False

    def engine_action(
        self,
        d: Decision,
        type_: str,
        community: str,
        member: str | None,
        rule: str,
        params: dict[str, Any],
        path: str,
        at: datetime | None = None,
    ) -> ActionRecord:
        """Record an action the engine takes on its own (an automatic level change, a
        badge upgrade, an expiry).  ``rule`` names the rule or playbook section
        responsible (``levels``, ``badges.helper``); ``path`` makes the key unique
        among the engine's actions for this cause."""
        record = ActionRecord(
            key=None,
            key_source=(self.playbook.name, path),
            type=type_,
            member=member,
            rule=rule,
            cause=d.cause,
            at=at or d.at,
            params=params,
            community=community,
        )
        d.actions.append(record)
        return record

    def act(
        self,
        d: Decision,
        event: Event,
        member: MemberState | None,
        rule: CompiledRule,
        actions: list[CompiledAction],
        match: str = "",
    ) -> None:
        """Run ``actions`` of ``rule`` for ``member`` in the scope of ``event``, into ``d``,
        then decide the internal events they raise and run the member checks (used to
        apply the actions of an approved review item)."""
        queue: deque[Event] = deque()
        pb = self.playbook
        run = ActionScope(
            event,
            member,
            event.at,
            event.at.timestamp(),
            self.community_vars(event.community),
            self._vars,
            pb.default_currency,
            pb.timezone,
            pb.env,
            self,
            d,
            queue,
            rule.id,
        )
        run.match = match
        if member is not None:
            d.touched.add((member.community, member.id))
        self._queue = queue
        try:
            run_actions(rule, actions, run)
            self._drain(d, queue, event.at)
            if self.playbook.member_checks:
                self._settle(d, queue, event.at)
        finally:
            self._queue = None
        if self._shadow:
            _mark_shadow(d)

    # -- events -------------------------------------------------------------------------
    def process(self, event: Event) -> list[Decision]:
        """Decide one event.  Returns the decisions of timers that fired first, then its own."""
        out: list[Decision] = []
        self.process_into(event, out)
        return out

    def process_into(self, event: Event, out: list[Decision]) -> None:
        """Like :meth:`process`, appending the decisions to ``out`` (saves a list per
        event on the hot path of runners).

        The engine speaks English whatever the operator's language: the texts it writes
        into decisions (a failed rule's message, a refusal) are data, the same for the
        same playbook and events (docs/reference.md §7); a community's own texts follow
        its ``community.language``."""
        # (a module attribute first: the thread's language is asked only once another
        # language than English was ever chosen in the process)
        if i18n.other_language_used and current_language() != DEFAULT_LANGUAGE:
            with use_language(DEFAULT_LANGUAGE):
                return self.process_into(event, out)
        state = self.state
        clock = state.clock
        if clock is None or event.at > clock:
            timers = state.timers
            if timers and timers[0].due <= event.ts:
                out.extend(self.advance_iter(event.at))
            else:
                state.clock = event.at
        self._decide_all((event,), out, False)

    def process_run(self, events: Sequence[Event], out: list[Decision]) -> None:
        """Decide ``events`` in turn, appending one decision each to ``out``, while each
        is dated at or after the clock and no timer is due by its time; stop before the
        first that is not (late, or timers to fire first), which the caller decides
        with :meth:`process_into`.  A replay's events, in time order, mostly go through
        here: the clock and timers are checked with no call per event."""
        if i18n.other_language_used and current_language() != DEFAULT_LANGUAGE:
            with use_language(DEFAULT_LANGUAGE):
                return self.process_run(events, out)
        self._decide_all(events, out, True)

    def _decide_all(self, events: Iterable[Event], out: list[Decision], in_order: bool) -> None:
        """Decide each event into ``out``; ``in_order``: as :meth:`process_run` says (the
        clock moves to each event's time), else the caller moved the clock."""
        state = self.state
        decide = self._decide
        queue = self._event_queue
        checks = self.playbook.member_checks
        shadow = self._shadow
        append = out.append
        for event in events:
            at = event.at
            if in_order:
                clock = state.clock
                if clock is not None and at < clock:
                    return
                timers = state.timers
                if timers and timers[0].due <= event.ts:
                    return
                state.clock = at
            d = Decision(event.id, at, event)
            if queue:  # left over by an event whose decision raised: not this event's
                queue.clear()
            decide(event, d, queue)
            if queue:
                self._drain(d, queue, at)
            if checks:
                self._queue = queue
                try:
                    self._settle(d, queue, at)
                finally:
                    self._queue = None
            if shadow:
                _mark_shadow(d)
            append(d)

    def _settle(self, d: Decision, queue: deque[Event], at: datetime) -> None:
        """Run the playbook's member checks (level ladder, tiered badges...) on every
        member the decision touched, then decide the events they raised; repeat until
        nothing more is raised (bounded, like chains of internal events)."""
        checks = self.playbook.member_checks
        communities = self.state.communities
        for _ in range(MAX_INTERNAL_DEPTH):
            touched = d.touched
            for community, mid in sorted(touched) if len(touched) > 1 else tuple(touched):
                if community == PERSONS:  # a person: its accounts have the levels, badges
                    continue
                m = communities[community].find(mid)
                if m is not None:
                    for check in checks:
                        check(self, d, m, at)
            if not queue:
                return
            self._drain(d, queue, at)
        d.add_error(
            RuleFailure(
                "engine",
                d.cause,
                str(InternalLoopError(rp.english(rp.MEMBER_CHECKS_LOOP))),
                at,
            )
        )

    def _drain(self, d: Decision, queue: deque[Event], at: datetime) -> None:
        """Decide the internal events rules (or a timer) raised, in order."""
        while queue:
            ev = queue.popleft()
            if ev.depth > MAX_INTERNAL_DEPTH:
                loop = InternalLoopError(
                    rp.english(rp.INTERNAL_EVENTS_LOOP, type=repr(ev.type), hops=MAX_INTERNAL_DEPTH)
                )
                d.add_error(RuleFailure("engine", ev.id, str(loop), at))
                continue
            self._decide(ev, d, queue)

    def community_vars(self, name: str) -> dict[str, Any]:
        """What expressions see as ``community`` for a community of the stream."""
        cv = self._community_vars.get(name)
        if cv is None:
            pb = self.playbook
            cv = self._community_vars[name] = {
                "id": name,
                "name": pb.community_name,
                "timezone": pb.timezone.key,
            }
        return cv

    def _observe(self, ev: Event, ref: MemberRef, m: MemberState, at_ts: float) -> None:
        """Apply what an external event says about its member (docs/reference.md §3): profile
        fields, canonical member events, activity time and the counters expressions use."""
        if ref.name is not None:
            m.name = ref.name
        if ref.roles:
            m.roles = ref.roles
        if ref.created_at is not None:
            m.created_at = ref.created_at
        t = ev.type
        if t in _LIFECYCLE:
            _apply_lifecycle(t, ev, m)
        pb = self.playbook
        if t in pb.activity_events:
            last = m.last_active_at
            if last is None or ev.at > last:
                if pb.track_gaps and last is not None:
                    m.note_gap(at_ts - last.timestamp())
                m.last_active_at = ev.at
        # Only the histories the playbook's expressions count are kept (docs/reference.md §5.2).
        counted = pb.count_windows
        if t in counted:
            counts = m.counts
            counts[t] = counts.get(t, 0) + 1
            window = counted[t]
            if window is not None:
                m.remember(t, at_ts, window)
        if t in pb.streak_types:
            m.note_day(t, ev.at.astimezone(pb.timezone).toordinal())
        if t == "message.posted" and pb.duplicates_window is not None:
            text = ev.data.get("text")
            if isinstance(text, str) and (fp := fingerprint(text)) != NO_TEXT:
                texts = m.texts
                texts.append((at_ts, fp))
                horizon = at_ts - pb.duplicates_window
                if texts[0][0] < horizon:
                    m.texts = [x for x in texts if x[0] >= horizon]

    def _decide(
        self, ev: Event, d: Decision, queue: deque[Event], route: str | None = None
    ) -> None:
        community = self.state.communities.get(ev.community)
        if community is None:
            community = self.state.community(ev.community)
            for hook in self.playbook.community_hooks:  # a new community: schedules start
                hook(self, d, community, self.state.clock or ev.at)
        ref = ev.member
        m = None
        mid = None
        if ref is not None:
            mid = ref.id
            m = community.members.get(mid)
            if m is None:
                m = community.member(mid)
            if ev.internal:
                if ev.type in _LIFECYCLE and route is None:
                    _apply_lifecycle(ev.type, ev, m)
            else:
                light = self._light.get(ev.type)
                if light is None or ref.name is not None or ref.roles or ref.created_at is not None:
                    self._observe(ev, ref, m, ev.ts)
                elif light:  # _observe's activity time, written out
                    last = m.last_active_at
                    if last is None or ev.at > last:
                        m.last_active_at = ev.at
            d.touched.add((ev.community, mid))
        before = self._before
        if before is not None and route is None and ev.type in before:
            self._notify(before, ev, m, d, queue)
        dispatch = self._dispatch.get(route or ev.type)
        observers = self._observers
        # (observed types only: most events have no observer, and no call for it)
        if dispatch is None:
            if observers is not None and route is None and ev.type in observers:
                self._notify(observers, ev, m, d, queue)
            return
        # One scope object serves every event in turn: events are decided one after
        # another, and nothing keeps the scope once an event is decided.
        run = self._run
        run.event = ev
        run.m = m
        run.now = ev.at
        run.now_ts = ev.ts
        if run.community["id"] != ev.community:
            run.community = self.community_vars(ev.community)
        run.d = d
        run.queue = queue
        run.match = ""
        run.refusal = None
        dispatch(self, ev, m, run, d, ev.ts, mid, m.roles if m is not None else (), ev.channel)
        if observers is not None and route is None and ev.type in observers:
            self._notify(observers, ev, m, d, queue)

    def _notify(
        self,
        observers: Mapping[str, tuple[Any, ...]],
        ev: Event,
        m: MemberState | None,
        d: Decision,
        queue: deque[Event],
    ) -> None:
        """Run the observers of ``ev``'s type (after its rules; or before them)."""
        hooks = observers.get(ev.type)
        if hooks:
            for hook in hooks:
                hook(self, ev, m, d, queue)

    def raise_event_from(
        self,
        run: ActionScope,
        type_: str,
        member: MemberState | None,
        data: dict[str, Any],
        tag: str,
    ) -> None:
        """Queue an internal event caused by ``run`` (processed after the current event)."""
        parent = run.event
        ref = member_ref(member)
        run.queue.append(
            internal_event(
                id=f"{parent.id}/{tag}",
                type=type_,
                at=parent.at,
                community=parent.community,
                member=ref,
                data=data,
                depth=parent.depth + 1,
                channel=parent.channel,
                platform=parent.platform,
            )
        )


_LIFECYCLE = frozenset({"member.joined", "member.left", "member.opted_out", "member.opted_in"})


def _light_types(pb: CompiledPlaybook) -> dict[str, bool]:
    """The event types of which :meth:`Engine._observe` does at most set the member's
    activity time (no lifecycle, counts, streak days, texts or gaps), with whether it
    does: what ``_decide`` writes out.  Other types (and members with profile fields)
    take ``_observe``."""
    heavy = _LIFECYCLE | set(pb.count_windows) | pb.streak_types
    if pb.duplicates_window is not None:
        heavy = heavy | {"message.posted"}
    types = set(pb.by_type) | set(pb.activity_events) | set(pb.observers)
    return {
        t: t in pb.activity_events
        for t in types - heavy
        if not (pb.track_gaps and t in pb.activity_events)
    }


def _apply_lifecycle(t: str, ev: Event, m: MemberState) -> None:
    """The canonical member events the engine applies to state before rules run."""
    if t == "member.joined":
        if m.status == "left":
            m.status = "active"
        if m.joined_at is None:
            m.joined_at = ev.at  # a member who rejoins keeps their first join time
    elif t == "member.left":
        m.status = "left"
    elif t == "member.opted_out":
        m.opted_out = True
    else:
        m.opted_out = False


def _mark_shadow(d: Decision) -> None:
    """Mark every action of a decision of a playbook in shadow mode."""
    for record in d.actions:
        record.shadow = True
