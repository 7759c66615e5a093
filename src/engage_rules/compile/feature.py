"""The Feature protocol: how a playbook section joins the compiled playbook.

Every section of the playbook language beyond rules — currencies, levels, badges,
leaderboards, flows, messaging, moderation, schedules... — is a :class:`Feature`.  The
built-in ones are registered by the built-in plugin through the ``register_features``
hook, exactly as a third-party plugin registers its own (docs/plugins.md), and the
compiler (:mod:`.compiler`) is a loop over the registered features.  A feature
contributes through narrow interfaces only:

* **actions** (:class:`ActionDef`): the parameter model (loaded and validated by the
  language layer), the executor that carries the action out, its load-time checks next
  to it, and an optional fast path;
* **timer kinds**: what a due timer of each kind does (``handler(effects, decision,
  timer, member, at)``);
* **compile**: given a :class:`CompileContext` (the playbook spec, problem reporting,
  condition/value/action compilers), return a :class:`FeaturePlan`: member checks run
  after every decision, observers of event types, start/resume/new-community hooks, and
  the feature's own compiled data, which executors and handlers read back with
  :meth:`CompiledPlaybook.data <engage_rules.compile.playbook.CompiledPlaybook.data>`.

At run time a feature reaches the engine only through the effects interface
(:class:`engage_rules.engine.effects.Effects`) and the action scope
(:class:`engage_rules.engine.scope.ActionScope`): they are typed ``Any`` here, because
the compile layer sits below the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel

from ..lang.action_params import ActionSpec

# The shapes of the hooks a feature contributes (and the key of its compiled data) are
# defined next to the compiled playbook that holds them; they are part of this module's
# interface too.
from .playbook import CommunityHook as CommunityHook
from .playbook import Executor as Executor
from .playbook import FeatureKey as FeatureKey
from .playbook import MemberCheck as MemberCheck
from .playbook import Observer as Observer
from .playbook import ResumeHook as ResumeHook
from .playbook import StartHook as StartHook
from .playbook import TimerHandler as TimerHandler

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from ..errors import Path
    from ..expr.env import ExprEnv
    from ..expr.expressions import CompiledExpr
    from ..expr.templates import ValueFn
    from ..expr.uses import Uses
    from ..lang.loader import ActionCall
    from ..lang.spec import PlaybookSpec
    from .playbook import CompiledAction, CompiledRule

T = TypeVar("T")

#: ``check(ctx, call, label, consts)``: an action's load-time checks (problems go to
#: ``ctx.problem``); may add prepared values to ``consts`` (the action's parameters known
#: at load time) — nested actions compiled with ``ctx.actions(calls, f"{label}...")``.
ActionCheck = Callable[["CompileContext", "ActionCall", str, dict[str, Any]], None]
#: ``specialise(action, timezone)``: a faster executor for this use of the action, with
#: exactly the effects of the general one (a property test holds them equal), or None.
Specialiser = Callable[["CompiledAction", "ZoneInfo"], Executor | None]


@dataclass(frozen=True)
class ActionDef:
    """An action: its parameters, its executor and its load-time checks, together."""

    spec: ActionSpec
    execute: Executor
    #: Parameters compiled as they are, never as templates (names, nested actions...).
    literal: frozenset[str] = frozenset()
    check: ActionCheck | None = None
    specialise: Specialiser | None = None
    #: A moderation action: rules taking it are exempt for `moderation.exempt`.
    moderation: bool = False

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class FeaturePlan:
    """What a feature adds to one compiled playbook."""

    #: The feature's compiled data (read back with ``playbook.data(key)``).
    data: Any = None
    member_checks: Sequence[MemberCheck] = ()
    #: Event type -> observers run after that event's rules.
    observers: Mapping[str, Sequence[Observer]] = field(default_factory=dict)
    #: Event type -> observers run before that event's rules (internal events too).
    before: Mapping[str, Sequence[Observer]] = field(default_factory=dict)
    on_start: StartHook | None = None
    on_resume: ResumeHook | None = None
    on_new_community: CommunityHook | None = None
    #: Keep each member's recent activity gaps (the feature reads ``typical_gap``).
    track_gaps: bool = False


class CompileContext(Protocol):
    """What a feature may ask of the compiler (implemented by :mod:`.compiler`)."""

    @property
    def spec(self) -> PlaybookSpec: ...
    @property
    def name(self) -> str: ...
    @property
    def vars(self) -> Mapping[str, Any]: ...
    @property
    def env(self) -> ExprEnv: ...
    @property
    def timezone(self) -> ZoneInfo: ...
    @property
    def currencies(self) -> tuple[str, ...]: ...
    @property
    def used(self) -> Uses:
        """What the playbook's expressions compiled so far read of community-level
        state: ``group`` (the windows of ``community.count()``...) and ``posts``."""
        ...

    @property
    def rules(self) -> list[CompiledRule]:
        """The playbook's compiled rules so far (a feature may adjust them, or add)."""
        ...

    def section(self, name: str) -> BaseModel | None:
        """A plugin feature's validated section (``sections:`` of the spec), if given."""
        ...

    def problem(self, path: Path, message: str) -> None:
        """Report a problem at ``path`` (file:line:col); the playbook will not load."""
        ...

    def note(self, path: Path, message: str) -> None:
        """Tell the operator something about a valid playbook (`validate` prints it)."""
        ...

    def warn(self, path: Path, message: str) -> None:
        """Warn about something that loads but probably does not do what the operator
        means (``file:line:col: warning: ...``; `validate` prints it and exits 0)."""
        ...

    def where(self, path: Path) -> tuple[str, int, int]:
        """Where ``path`` is written: (file, line, column)."""
        ...

    def condition(self, raw: Any, path: Path) -> Callable[[Any], Any] | None:
        """Compile a condition written at ``path`` (None after reporting problems)."""
        ...

    def value(self, raw: Any, path: Path, *, allow_match: bool = True) -> ValueFn | None:
        """Compile a templated value (None after reporting problems)."""
        ...

    def expression(self, text: str, path: Path) -> CompiledExpr | None:
        """Compile one expression (None after reporting problems)."""
        ...

    def merge_uses(self, uses: Uses, path: Path = ()) -> None:
        """Record what an expression compiled by other means needs the engine to keep
        (windowed counts, streak days...); every compiled expression's must pass here."""
        ...

    def action(self, call: ActionCall, label: str) -> CompiledAction | None:
        """Compile one validated action call; ``label`` is its key path."""
        ...

    def actions(self, calls: Iterable[ActionCall], label: str) -> list[CompiledAction]:
        """Compile validated action calls; ``label`` prefixes their key paths."""
        ...

    def raw_actions(self, items: Any, path: Path, label: str) -> list[CompiledAction]:
        """Validate raw action mappings written at ``path`` (a plugin section's ``do:``)
        and compile them; problems are reported at their places."""
        ...

    def add_rule(self, rule: CompiledRule) -> None:
        """Add a built-in rule (after the playbook's own)."""
        ...


class Feature(Protocol):
    """A playbook section: see the module docs."""

    #: The feature's name (unique among registered features).
    name: str
    #: The top-level playbook key a plugin feature owns (None: none, or built in).
    section: str | None
    #: The pydantic model its section is validated with (for ``section``).
    section_model: type[BaseModel] | None

    def actions(self) -> Iterable[ActionDef]: ...

    def timer_kinds(self) -> Mapping[str, TimerHandler]: ...

    def compile(self, ctx: CompileContext) -> FeaturePlan | None: ...


class BaseFeature:
    """A feature with nothing to contribute: subclass it and override what you need."""

    name = "feature"
    section: str | None = None
    section_model: type[BaseModel] | None = None

    def actions(self) -> Iterable[ActionDef]:
        return ()

    def timer_kinds(self) -> Mapping[str, TimerHandler]:
        return {}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        return None
