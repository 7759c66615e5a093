"""The compiled playbook: typed, immutable data the engine runs.

:func:`engage_rules.compile.compiler.compile_playbook` builds a :class:`CompiledPlaybook`
once per playbook; nothing in it changes afterwards, so one compiled playbook may serve
any number of engines (and threads).  Conditions are Python functions, templates are
compiled, durations are seconds, rules are indexed by event type and sorted by priority,
the dispatch code is generated, and every feature's compiled data sits in
:attr:`CompiledPlaybook.features` (read with :meth:`CompiledPlaybook.data`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from ..errors import Path, Problem
from ..i18n import _, translate
from ..lang.action_params import ActionSpec
from ..lang.spec import ExemptSpec, Trigger
from ..model.decision import Decision
from ..model.state import CommunityState, MemberState, Timer

if TYPE_CHECKING:
    from collections import deque

    from ..expr.context import EvalContext
    from ..expr.env import ExprEnv
    from ..expr.templates import TemplateSet, ValueFn
    from ..lang.loader import LoadedPlaybook
    from ..model.events import Event

T = TypeVar("T")
#: A compiled condition: true-ish when the rule applies to the context.
Condition = Callable[["EvalContext"], Any]

# -- what features contribute (see :mod:`.feature`): hooks, and the key of their data -----

#: ``execute(scope, action)``: carries an action out for one event (scope: ActionScope).
Executor = Callable[[Any, "CompiledAction"], None]
#: ``handler(effects, decision, timer, member_or_None, at)``: a due timer of one kind.
TimerHandler = Callable[[Any, Decision, Timer, "MemberState | None", datetime], None]
#: ``check(effects, decision, member, at)``: run on every member a decision touched.
MemberCheck = Callable[[Any, Decision, MemberState, datetime], None]
#: ``observe(effects, event, member_or_None, decision, queue)``: run after an event's rules.
Observer = Callable[[Any, "Event", "MemberState | None", Decision, "deque[Event]"], None]
#: ``start(effects)``: arm what a stored state lacks for this playbook (schedules).
StartHook = Callable[[Any], list[Decision]]
#: ``resume(effects, now)``: after real downtime, before the engine takes events: the
#: decisions to take now, and what to run once the clock has advanced to ``now``.
ResumeHook = Callable[[Any, datetime], tuple[list[Decision], Callable[[], list[Decision]]]]
#: ``arm(effects, decision, community, now)``: a community the stream had not seen yet.
CommunityHook = Callable[[Any, Decision, CommunityState, datetime], None]


class FeatureKey(Generic[T]):
    """The typed key of a feature's compiled data: ``playbook.data(LEVELS)`` is the
    :class:`CompiledLevels` the levels feature compiled, or None."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"FeatureKey({self.name!r})"


@dataclass(frozen=True, slots=True)
class Exempt:
    """Who a rule never applies to: roles, members, channels."""

    roles: frozenset[str] = frozenset()
    members: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *specs: ExemptSpec | Exempt | None) -> Exempt | None:
        roles: set[str] = set()
        members: set[str] = set()
        channels: set[str] = set()
        for s in specs:
            if s is not None:
                roles.update(s.roles)
                members.update(s.members)
                channels.update(s.channels)
        if not (roles or members or channels):
            return None
        return cls(frozenset(roles), frozenset(members), frozenset(channels))

    def applies(self, member_id: str | None, roles: tuple[str, ...], channel: str | None) -> bool:
        if member_id is not None and member_id in self.members:
            return True
        if channel is not None and channel in self.channels:
            return True
        return any(r in self.roles for r in roles)


def describe_exempt(spec: ExemptSpec | Exempt) -> str:
    """Who an exemption covers, in words (for `validate` notes)."""
    parts = []
    if spec.roles:
        parts.append(_("members with role {roles}").format(roles=", ".join(sorted(spec.roles))))
    if spec.members:
        parts.append(_("members {ids}").format(ids=", ".join(sorted(spec.members))))
    if spec.channels:
        parts.append(
            _("posts in channel {channels}").format(channels=", ".join(sorted(spec.channels)))
        )
    return _("; ").join(parts) or _("nobody")


@dataclass(frozen=True, slots=True)
class CompiledAction:
    """One action with its parameters compiled to value functions."""

    name: str
    path: str  # e.g. "do.0", "else.1", "ladder.2.0": part of the action key
    spec: ActionSpec
    params: BaseModel
    values: dict[str, ValueFn]  # templated parameters, by field name
    source: Path
    #: The function that carries the action out (its ActionDef's, or a fast path).
    execute: Executor
    #: Parameters whose value is known at load time (no template), by field name, and
    #: what the action's load-time check prepared.
    consts: dict[str, Any] = field(default_factory=dict)
    #: (playbook name, path): with the rule and the cause, what the action key hashes.
    key_source: tuple[str, str] = ("", "")
    #: A moderation action (moderation.exempt applies to rules that take one).
    moderation: bool = False


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One compiled rule: its triggers, checks and actions."""

    id: str
    index: int  # file order
    priority: int
    types: tuple[str, ...]
    cond: Condition | None
    cond_source: Any
    cooldown: float | None
    once: bool
    threshold: tuple[int, float] | None
    stop: bool
    exempt: Exempt | None
    do: tuple[CompiledAction, ...]
    else_: tuple[CompiledAction, ...]
    source: Path
    line: int = 0
    #: The condition as one Python expression to inline in dispatch code, if it has one.
    cond_inline: str | None = None
    #: The condition calls a detector function that sets `match`.
    sets_match: bool = False
    #: The trigger map of a rule whose `on:` is one (lang.spec TRIGGER_MODELS); types is ().
    trigger: Trigger | None = None
    #: Shadow mode (features/shadow.py): its actions are recorded, not carried out.
    shadow: bool = False
    #: Whose `cooldown` it is: "member", "channel" or "community" (rule_helpers.py).
    cooldown_per: str = "member"
    #: What runs when an action of `do` is refused (``refused:``); without it, `else_`.
    refused: tuple[CompiledAction, ...] = ()


@dataclass(frozen=True, eq=False)
class CompiledPlaybook:
    """A compiled playbook (see the module docs).  Build it with ``compile_playbook``."""

    name: str
    community_name: str
    timezone: ZoneInfo
    vars: Mapping[str, Any]
    currencies: tuple[str, ...]
    templates: TemplateSet
    #: The expression environment (functions, classifiers, compiled segments).
    env: ExprEnv
    rules: tuple[CompiledRule, ...]
    rule_by_id: Mapping[str, CompiledRule]
    #: Event type -> its rules, in the order they run.
    by_type: Mapping[str, tuple[CompiledRule, ...]]
    #: Trigger rules by their private dispatch route (``@<rule id>``), run by timers.
    routes: Mapping[str, tuple[CompiledRule, ...]]
    #: The generated dispatch functions, by event type or route, and their source.
    dispatch: Mapping[str, Callable[..., None]]
    dispatch_source: str
    #: Globals shared by the inlined conditions and the dispatch code.
    namespace: Mapping[str, Any]
    #: ``event.data`` keys inlined conditions read: key -> (local name, undefined).
    data_vars: Mapping[str, tuple[str, str]]
    #: Event types that count as activity (`activity_events:`).
    activity_events: frozenset[str]
    #: Event type -> the longest window (s) expressions count it in (None: lifetime).
    count_windows: Mapping[str, float | None]
    duplicates_window: float | None
    #: Event types whose calendar days the engine keeps, for ``streak()``.
    streak_types: frozenset[str]
    #: Keep each member's recent activity gaps (``member.typical_gap`` is used).
    track_gaps: bool
    #: Every compiled action of the playbook, wherever it is written.
    actions: tuple[CompiledAction, ...]
    #: Checks run on every member a decision touched (level ladder, tiered badges...).
    member_checks: tuple[MemberCheck, ...]
    #: Event type -> observers run after its rules (silence, delays, flows).
    observers: Mapping[str, tuple[Observer, ...]]
    #: Timer kind -> what a due timer of that kind does.
    timer_kinds: Mapping[str, TimerHandler]
    start_hooks: tuple[StartHook, ...]
    resume_hooks: tuple[ResumeHook, ...]
    community_hooks: tuple[CommunityHook, ...]
    #: Feature name -> its compiled data (see :meth:`data`).
    features: Mapping[str, Any]
    #: What `validate` tells about the valid playbook (``note:`` messages).
    notes: tuple[Problem, ...]
    #: Shadow mode for the whole playbook: every action it emits is marked ``shadow``.
    shadow: bool = False
    loaded: LoadedPlaybook | None = None
    #: Event type -> observers run before its rules (posts, group-wide signals): they
    #: keep what the rules read up to date, internal events included.
    before: Mapping[str, tuple[Observer, ...]] = field(default_factory=dict)
    #: The community's language (`community.language`): the texts the engine writes
    #: itself into actions (default reasons) are in it.
    language: str = "en"

    @property
    def default_currency(self) -> str:
        return self.currencies[0]

    def say(self, message: str) -> str:
        """``message`` (English, marked with ``N_()``) in the community's language: for
        the texts the engine writes when the operator gave none (docs/reference.md,
        "community")."""
        return translate(message, self.language)

    def data(self, key: FeatureKey[T]) -> T | None:
        """What the feature named by ``key`` compiled for this playbook, if anything."""
        value: T | None = self.features.get(key.name)
        return value
