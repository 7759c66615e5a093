"""The scope actions run in: what an executor may read and do for one event.

An :class:`ActionScope` is the :class:`~engage_rules.expr.context.EvalContext` that
conditions and templates read, plus what actions need to act: the engine's
:class:`~engage_rules.engine.effects.Effects` (state, timers, internal events), the
decision being built, the queue of internal events and the rule whose actions run.
Executors (``execute(scope, action)``, see :class:`engage_rules.compile.feature.ActionDef`)
take parameters with :meth:`value` and :meth:`text`, find their member with
:meth:`target`, and report what they did with :meth:`emit` and :meth:`audit`.

The :class:`Effects` protocol (its public home is :mod:`engage_rules.engine.effects`) is
defined here too, because the two refer to each other: a scope acts through the
effects, and the effects open scopes.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ActionError
from ..expr.context import EvalContext
from ..lang.spec import MODERATOR_EVENTS
from ..model import rule_problems as rp
from ..model.decision import ActionRecord, Decision
from ..model.events import Event
from ..model.state import MemberState, State, Timer, ts
from ..model.storable import in_range

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from ..compile.playbook import CompiledAction, CompiledPlaybook
    from ..expr.env import ExprEnv


class ActionScope(EvalContext):
    """The scope in which one event's rules evaluate and act (see the module docs).

    One object per event serves the conditions, the templates and the actions of every
    rule the event reaches.
    """

    __slots__ = ("d", "depth", "effects", "queue", "rule")

    def __init__(
        self,
        event: Event,
        member: MemberState | None,
        now: datetime,
        now_ts: float,
        community: dict[str, Any],
        vars: dict[str, Any],
        default_currency: str,
        tz: ZoneInfo,
        env: ExprEnv,
        effects: Effects,
        d: Decision,
        queue: deque[Event],
        rule: str = "",
    ) -> None:
        super().__init__(event, member, now, now_ts, community, vars, default_currency, tz, env)
        self.effects = effects
        #: The decision being built for the current event or timer.
        self.d = d
        #: Internal events raised while deciding it (decided after it, in order).
        self.queue = queue
        #: The rule (or playbook section) whose actions run.
        self.rule = rule
        #: How deeply engine-run action sequences nest here (a flow starting a flow).
        self.depth = 0
        if env.person_currencies or env.person_badges or env.person_levels:
            self.persons = effects.state

    # -- reading --------------------------------------------------------------------------
    # Executors read these once or more per action: at run time they are properties over
    # C getters (attrgetter), which cost no Python frame; the type checker sees them as
    # written below.
    if TYPE_CHECKING:

        @property
        def member(self) -> MemberState | None:
            """The member the rule acts for (the event's), or None."""

        @property
        def at(self) -> datetime:
            """The time of the event."""

        @property
        def playbook(self) -> CompiledPlaybook:
            """The playbook being run."""

        @property
        def state(self) -> State:
            """The engine's state."""

    else:
        member = property(attrgetter("m"), doc="The member the rule acts for, or None.")
        at = property(attrgetter("event.at"), doc="The time of the event.")
        playbook = property(attrgetter("effects.playbook"), doc="The playbook being run.")
        state = property(attrgetter("effects.state"), doc="The engine's state.")

    @property
    def c(self) -> EvalContext:
        """The evaluation context templates and conditions read (this scope itself)."""
        return self

    def for_member(self, member: MemberState, rule: str) -> ActionScope:
        """The same event's scope, acting for ``member`` under ``rule`` (strike ladders,
        lottery prizes)."""
        scope = ActionScope(
            self.event,
            member,
            self.now,
            self.now_ts,
            self.community,
            self.vars,
            self.default_currency,
            self.tz,
            self.env,
            self.effects,
            self.d,
            self.queue,
            rule,
        )
        scope.match = self.match  # what the rule's detectors found, for `{{ match }}`
        scope.refusal = self.refusal
        scope.depth = self.depth
        scope.persons = self.persons
        return scope

    def value(self, action: CompiledAction, name: str, default: Any = None) -> Any:
        """The parameter ``name`` for this event.  One computed from an expression is
        checked to be storable: an integer beyond 64 bits, a float that is not finite
        or a structure nested too deeply fails the action (ActionError)."""
        fn = action.values.get(name)
        if fn is not None:
            value = fn(self)
            if value is None or type(value) is str:
                return value
            return in_range(value, name)
        value = action.consts.get(name, default)
        return default if value is None else value

    def text(self, action: CompiledAction, name: str, default: str = "") -> str:
        """The parameter ``name`` as text (any value can be written as one)."""
        fn = action.values.get(name)
        value = fn(self) if fn is not None else action.consts.get(name)
        return default if value is None else str(value)

    def target(self, action: CompiledAction) -> MemberState | None:
        """The member an action applies to: its `to:`, else the event's member."""
        to = self.value(action, "to")
        if to is None or to == "":
            return self.member
        if not isinstance(to, str | int):
            raise ActionError(rp.english(rp.TO_NOT_A_MEMBER, kind=type(to).__name__))
        m: MemberState = self.effects.state.community(self.event.community).member(str(to))
        self.d.touched.add((m.community, m.id))
        return m

    def require_target(self, action: CompiledAction) -> MemberState:
        m = self.target(action)
        if m is None:
            raise ActionError(rp.english(rp.NEEDS_A_MEMBER, action=action.name))
        return m

    # -- acting ---------------------------------------------------------------------------
    def emit(
        self,
        action: CompiledAction,
        member: str | None,
        params: dict[str, Any],
        at: datetime | None = None,
        community: str | None = None,
    ) -> ActionRecord:
        """Record that ``action`` took effect for ``member`` (its output line), in the
        event's community unless ``community`` names another."""
        event = self.event
        record = ActionRecord(
            None,
            action.name,
            member,
            self.rule,
            event.id,
            at or event.at,
            params,
            community or event.community,
            action.key_source,
        )
        self.d.actions.append(record)
        return record

    def expose(self, experiment: str, variant: str) -> None:
        """Record the member's first exposure to ``experiment`` (``variant()``): the
        variant in its state and an ``exposed`` action (expr/experiments.py)."""
        m = self.m
        if m is None or experiment in m.variants:
            return
        m.variants[experiment] = variant
        self.d.touched.add((m.community, m.id))
        event = self.event
        # Recorded for the experiment (``experiments.<name>``), as the actions of other
        # playbook sections are: a condition may read the variant before any rule acts.
        self.d.actions.append(
            ActionRecord(
                None,
                "exposed",
                m.id,
                f"experiments.{experiment}",
                event.id,
                event.at,
                {"experiment": experiment, "variant": variant},
                m.community,
                (self.effects.playbook.name, "exposed"),
            )
        )

    def audit(self, action: str, member: str | None, reason: str) -> None:
        """Add a moderation audit-log entry for this event."""
        event = self.event
        # Moderators' own events (moderation.strike...) name the moderator as the actor.
        actor = "engine"
        if event.type in MODERATOR_EVENTS and event.member is not None:
            actor = event.member.id
        self.d.add_audit(
            {
                "at": self.at.isoformat(),
                "rule": self.rule,
                "event": event.id,
                "member": member,
                "community": event.community,
                "action": action,
                "reason": reason,
                "actor": actor,
            }
        )

    def add_timer(
        self, kind: str, due: datetime, member: str | None, payload: dict[str, Any]
    ) -> None:
        """Set a timer of ``kind`` (a registered timer kind) for ``due``; its id is made
        of the kind, the community, the member, ``payload["name"]`` and the due time."""
        community = self.event.community
        timer = Timer(
            due=ts(due),
            seq=0,
            id=f"{kind}:{community}:{member}:{payload.get('name', '')}:{due.isoformat()}",
            kind=kind,
            community=community,
            member=member,
            rule=self.rule,
            payload=payload,
        )
        self.effects.add_timer(self.d, timer)

    def raise_event(
        self, type_: str, member: MemberState | None, data: dict[str, Any], tag: str
    ) -> None:
        """Queue an internal event caused by this scope's event (decided after it); its
        id is the event's id plus ``/tag``."""
        self.effects.raise_event_from(self, type_, member, data, tag)


# -- the engine, as features see it ------------------------------------------------------


class Effects(Protocol):
    """The engine, as features see it (see the module docs)."""

    @property
    def playbook(self) -> CompiledPlaybook: ...

    @property
    def state(self) -> State: ...

    def add_timer(self, d: Decision, timer: Timer) -> bool:
        """Schedule ``timer`` with decision ``d`` (the store commits them together),
        unless one with its id is pending.  True if added."""
        ...

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
        """Raise an internal event on the engine's own behalf while ``d`` is decided
        (from a timer handler or a member check); rules see it after the current one.
        Its id is the decision's cause, plus ``/tag``."""
        ...

    def raise_event_from(
        self,
        scope: ActionScope,
        type_: str,
        member: MemberState | None,
        data: dict[str, Any],
        tag: str,
    ) -> None:
        """Queue an internal event caused by the event of ``scope`` (an action's)."""
        ...

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
        """Record an action the engine takes on its own (a level change, an expiry);
        ``rule`` names the section responsible, ``path`` makes its key unique."""
        ...

    def run_rule(
        self, d: Decision, rule_id: str, event: Event, queue: deque[Event] | None = None
    ) -> None:
        """Run one trigger rule for ``event`` (its `if`, `once`, `cooldown`, `exempt`);
        ``queue``: an observer's queue of internal events (default: the current one)."""
        ...

    def scope(
        self,
        d: Decision,
        event: Event,
        member: MemberState | None,
        rule: str,
        queue: deque[Event] | None = None,
    ) -> ActionScope:
        """A scope in which compiled actions run on the engine's behalf while ``d`` is
        decided, as if ``event`` had caused them; the internal events they raise join
        ``queue`` (default: the queue of the timer or check being decided)."""
        ...

    def fire(self, timer: Timer) -> Decision:
        """Fire ``timer`` now, whether or not it is pending (schedule catch-up)."""
        ...

    def advance_to(self, at: datetime) -> list[Decision]:
        """Move the clock forward to ``at``, firing every timer due by then."""
        ...

    def community_vars(self, name: str) -> dict[str, Any]:
        """What expressions see as ``community`` for the community ``name``."""
        ...
