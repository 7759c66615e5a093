"""Level ladders (docs/reference.md §5.4): promotion, demotion with hysteresis and grace, manual
`set_level` / `lock_level`, and demotion of silent members on time.

The measure is either a currency — what the member earned of it, less what was revoked
and, for an expiring currency, less the credits that expired (spending never lowers it)
— or an expression over the member's state, compiled once.  The ladder is a member check
(``FeaturePlan.member_checks``): after every decision it re-evaluates the members
the decision touched.  A member with no level yet starts at the lowest step, without a
level change.  The measure reaching a higher step's ``at`` promotes straight to the
highest step reached (one change); with ``demotion:``, falling under ``below`` × the
current step's ``at`` demotes, never within ``grace`` of the last promotion, straight to
the highest step whose own ``below`` × ``at`` the measure still meets.  Each change is
recorded as a ``level_changed`` action (rule ``levels``) and raises
``member.level_changed`` (``from``, ``to``, ``direction``, and the new level's ``name``).

Time alone can lower a measure: a windowed ``count()`` loses events as they age out, a
``streak()`` breaks at midnight, credits of an expiring currency expire.  Expiries touch
their member (their timer writes the ledger), so the check runs then anyway.  For the
others, a member who could be demoted gets ONE pending ``level_check`` timer at the next
instant the measure can fall (not before the grace ends), deterministic id
``level:<community>:<member>:<ISO time>``; when it fires the member is re-evaluated and the
next timer set.  Members at the lowest step, locked members and members whose measure
cannot fall get no timer, so the cost of time passing does not grow with them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jinja2 import nodes

from .._util.suggest import did_you_mean
from ..compile.feature import (
    ActionDef,
    BaseFeature,
    CompileContext,
    FeatureKey,
    FeaturePlan,
    TimerHandler,
)
from ..compile.playbook import CompiledAction
from ..engine.scope import ActionScope
from ..errors import ActionError
from ..expr.context import EvalContext
from ..expr.expressions import ExprCompileError, parse_expression
from ..expr.functions import window_seconds
from ..i18n import N_, _
from ..lang.action_params import ActionSpec, LockLevelParams, SetLevelParams
from ..lang.loader import ActionCall
from ..model import rule_problems as rp
from ..model.decision import Decision, RuleFailure
from ..model.events import internal_event
from ..model.persons import holder
from ..model.state import EPOCH, MemberState, Timer, from_ts, ts

if TYPE_CHECKING:
    from ..engine.effects import Effects

#: The timer kind that re-evaluates a member whose measure may have fallen.
LEVEL_CHECK = "level_check"
#: The rule named by automatic level changes and level-check timers.
SECTION = "levels"
#: Below the resolution of event times: evaluations at a timer's due instant see a
#: count's event leave its window exactly then, despite float rounding.
_EPS = 1e-6
#: What a level expression may not read: values that change with time alone without
#: the engine knowing when (the ladder could not demote on time).
_TIMED_MEMBER_FIELDS = {"silent_for", "account_age", "strikes"}
_TIMED_NAMES = {"now": "`now`", "event": "`event`", "match": "`match`"}
_TIMED_FUNCTIONS = {"duplicates"}


def _source(engine: Effects, m: MemberState, currency: str) -> MemberState:
    """Who holds what ``m`` earned of ``currency``: its person for a person-wide currency
    (docs/reference.md §4.3), else ``m``."""
    if m.person is None or currency not in engine.playbook.env.person_currencies:
        return m
    return holder(engine.state, m)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the level ladder."""

    level: int
    name: str
    at: float


@dataclass(slots=True)
class CompiledLevels:
    """The compiled `levels:` section: the ladder and its measure."""

    steps: tuple[Step, ...]
    #: The currency measured, or None for an expression.
    currency: str | None
    #: The compiled expression ``fn(c)`` when the measure is one.
    fn: Any
    source: str
    #: The share of a step's ``at`` under which a member is demoted; None: no demotion.
    below: float | None
    grace: float  # seconds
    #: (event type, window) of every windowed ``count()`` in the expression.
    windows: tuple[tuple[str, float], ...]
    #: Event types of every ``streak()`` in the expression.
    streaks: tuple[str, ...]
    tz: ZoneInfo
    _idle: Any = None
    #: The ladder position of each level number.
    positions: dict[int, int] = field(default_factory=dict)
    #: A person-wide ladder (``scope: person``): a linked account's level is its
    #: person's (docs/reference.md §4.3).
    person: bool = False

    def __post_init__(self) -> None:
        self.positions = {step.level: i for i, step in enumerate(self.steps)}

    # -- the member check ----------------------------------------------------------------
    def check(self, engine: Effects, d: Decision, m: MemberState, at: datetime) -> None:
        steps = self.steps
        acct = m  # the account decided: what a level change is announced for
        if self.person and m.person is not None:
            m = holder(engine.state, m)
        if m.level is None:
            m.level, m.level_name = steps[0].level, steps[0].name
            if m is not acct:
                d.touched.add((m.community, m.id))
        if m.level_locked:
            return
        currency = self.currency
        if currency is not None and not self.windows and not self.streaks:
            # A currency measure only changes with the member's ledger: the common case,
            # neither a promotion nor a demotion due, is settled with a few lookups.
            src = m if m.person is None else _source(engine, m, currency)
            held = src.earned.get(currency, 0) - src.forfeited.get(currency, 0)
            pos = self.positions.get(m.level)
            if pos is not None and (pos + 1 == len(steps) or held < steps[pos + 1].at):
                below = self.below
                if below is None or pos == 0 or held >= below * steps[pos].at:
                    return
        now = ts(at) + _EPS
        value = self.measure(engine, d, m, at, now)
        if value is None:
            return
        i = self.index(m.level)
        target = i
        top = i
        while top + 1 < len(steps) and steps[top + 1].at <= value:
            top += 1
        below = self.below
        if top > i:
            target = top
        elif (
            below is not None and i > 0 and value < below * steps[i].at and now >= self.grace_end(m)
        ):
            target = i - 1
            while target > 0 and value < below * steps[target].at:
                target -= 1
        if target != i:
            data = change_level(m, steps[target], at)
            tag = f"level:{acct.id}:{len(d.actions)}"
            engine.engine_action(
                d,
                "level_changed",
                acct.community,
                acct.id,
                SECTION,
                dict(data),
                tag,
                at=at.astimezone(self.tz),
            )
            engine.raise_event(d, "member.level_changed", acct, data, tag)
            d.touched.add((m.community, m.id))
            i = target
        if below is not None and i > 0:
            self.schedule(engine, d, m, value, below * steps[i].at, now)

    def index(self, level: int) -> int:
        """The ladder position of ``level`` (a level no longer in the ladder counts as
        the highest step below it)."""
        steps = self.steps
        k = 0
        for j, step in enumerate(steps):
            if step.level <= level:
                k = j
        return k

    def grace_end(self, m: MemberState) -> float:
        return ts(m.promoted_at) + self.grace if m.promoted_at is not None else 0.0

    def measure(
        self, engine: Effects, d: Decision, m: MemberState, at: datetime, now: float
    ) -> float | None:
        currency = self.currency
        if currency is not None:
            src = _source(engine, m, currency)
            return src.earned.get(currency, 0) - src.forfeited.get(currency, 0)
        pb = engine.playbook
        c = EvalContext(
            self.idle(),
            m,
            at,
            now,
            engine.community_vars(m.community),
            dict(pb.vars),
            pb.default_currency,
            pb.timezone,
            pb.env,
        )
        if pb.env.person_currencies or pb.env.person_badges or pb.env.person_levels:
            c.persons = engine.state
        try:
            value = self.fn(c)
        except Exception as err:
            d.add_error(RuleFailure(SECTION, d.cause, f"levels.by: {err}", at))
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            d.add_error(
                RuleFailure(
                    SECTION,
                    d.cause,
                    rp.english(
                        rp.LEVELS_BY_NOT_A_NUMBER,
                        source=repr(self.source),
                        kind=type(value).__name__,
                    ),
                    at,
                )
            )
            return None
        return value

    def idle(self) -> Any:
        if self._idle is None:
            self._idle = internal_event(
                id="",
                type="engine.levels",
                at=EPOCH,
                community="default",
                member=None,
                data={},
                depth=1,
            )
        return self._idle

    # -- timers --------------------------------------------------------------------------
    def schedule(
        self,
        engine: Effects,
        d: Decision,
        m: MemberState,
        value: float,
        threshold: float,
        now: float,
    ) -> None:
        """Make sure a level-check timer is pending for when ``m`` may next be demoted."""
        grace_end = self.grace_end(m)
        if value < threshold:
            due = grace_end  # only the grace keeps the member at this level
        else:
            drop = self.next_drop(m, now)
            if drop is None:
                return  # nothing ages out: only the member's own changes can demote
            due = max(drop, grace_end)
        if due <= now:
            return
        pending = m.level_due
        if pending is not None and now < pending <= due:
            return  # an earlier check is pending; it sets the next one
        m.level_due = due
        d.touched.add((m.community, m.id))
        timer = Timer(
            due=due,
            seq=0,
            id=f"level:{m.community}:{m.id}:{from_ts(due).isoformat()}",
            kind=LEVEL_CHECK,
            community=m.community,
            member=m.id,
            rule=SECTION,
            payload={},
        )
        engine.add_timer(d, timer)

    def next_drop(self, m: MemberState, now: float) -> float | None:
        """The next instant after ``now`` at which the measure can fall with no new
        event: a counted event leaving its window, or a streak breaking."""
        best: float | None = None
        history = m.history
        for type_, window in self.windows:
            hist = history.get(type_)
            if hist:
                k = bisect.bisect_right(hist, now - window)
                if k < len(hist):
                    due = hist[k] + window
                    if best is None or due < best:
                        best = due
        for type_ in self.streaks:
            days = m.streak_days.get(type_)
            if days:
                # The streak is kept through the day after its last day, then breaks.
                midnight = datetime.combine(date.fromordinal(days[-1] + 2), time(0), tzinfo=self.tz)
                due = ts(midnight)
                if due > now and (best is None or due < best):
                    best = due
        return best


def level_check(
    engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
) -> None:
    """A member's level-check timer: touch the member, so the ladder re-evaluates it
    (and sets its next timer); an outdated timer does nothing."""
    if m is None or m.level_due is None or abs(m.level_due - timer.due) > 0.001:
        return
    m.level_due = None
    d.touched.add((m.community, m.id))


def change_level(m: MemberState, step: Step, at: datetime) -> dict[str, Any]:
    """Move ``m`` to ``step``; the data of the `member.level_changed` event."""
    old = m.level
    direction = "up" if old is None or step.level > old else "down"
    m.level = step.level
    m.level_name = step.name
    if direction == "up":
        m.promoted_at = at
    return {"from": old, "to": step.level, "direction": direction, "name": step.name}


# -- actions -------------------------------------------------------------------------------
def _ladder(run: ActionScope) -> CompiledLevels:
    levels = run.playbook.data(LEVELS)
    if levels is None:  # pragma: no cover - rejected at load time
        raise ActionError(rp.english(rp.NO_LEVELS_SECTION))
    return levels


def do_set_level(run: ActionScope, action: CompiledAction) -> None:
    """The ``set_level`` action (of the member's person, on a person-wide ladder)."""
    acct = run.require_target(action)
    ladder = _ladder(run)
    m = run.level_holder(acct)
    raw = run.value(action, "level")
    try:
        level = int(raw)
        if isinstance(raw, bool) or level != float(raw):
            raise ValueError
    except (TypeError, ValueError):
        raise ActionError(rp.english(rp.NOT_A_LEVEL_NUMBER, value=repr(raw))) from None
    step = next((s for s in ladder.steps if s.level == level), None)
    if step is None:
        levels = ", ".join(str(s.level) for s in ladder.steps)
        raise ActionError(rp.english(rp.NOT_ON_THE_LADDER, level=level, levels=levels))
    if m.level is None:
        first = ladder.steps[0]
        m.level, m.level_name = first.level, first.name
    if m.level == level:
        return
    data = change_level(m, step, run.at)
    run.d.touched.add((m.community, m.id))
    run.emit(action, acct.id, dict(data))
    run.raise_event("member.level_changed", acct, data, f"level:{acct.id}:{len(run.d.actions)}")


def do_lock_level(run: ActionScope, action: CompiledAction) -> None:
    """The ``lock_level`` action (of the member's person, on a person-wide ladder)."""
    acct = run.require_target(action)
    ladder = _ladder(run)
    m = run.level_holder(acct)
    if m.level is None:
        first = ladder.steps[0]
        m.level, m.level_name = first.level, first.name
    locked = bool(getattr(action.params, "locked", True))
    if m.level_locked == locked:
        return
    m.level_locked = locked
    run.d.touched.add((m.community, m.id))
    run.emit(action, acct.id, {"locked": locked, "level": m.level})


# -- compiling -----------------------------------------------------------------------------
def check_set_level(
    ctx: CompileContext, call: ActionCall, label: str, consts: dict[str, Any]
) -> None:
    """`set_level` needs a ladder, and a constant level must be one of its levels."""
    spec = ctx.spec
    if spec.levels is None:
        ctx.problem(
            (*call.path, call.name), _("`set_level` needs a `levels:` section (a level ladder)")
        )
        return
    raw = getattr(call.params, "level", None)
    levels = [s.level for s in spec.levels.ladder]
    if isinstance(raw, int) and raw not in levels:
        ctx.problem(
            (*call.path, call.name),
            _("level {raw} is not in the ladder; its levels are {names}").format(
                raw=raw, names=", ".join(map(str, levels))
            ),
        )


def check_lock_level(
    ctx: CompileContext, call: ActionCall, label: str, consts: dict[str, Any]
) -> None:
    """Load-time check of ``lock_level``: the playbook needs a `levels:` section."""
    if ctx.spec.levels is None:
        ctx.problem(
            (*call.path, call.name), _("`lock_level` needs a `levels:` section (a level ladder)")
        )


def _ladder_problems(compiler: CompileContext) -> list[tuple[tuple[Any, ...], str]]:
    spec = compiler.spec.levels
    assert spec is not None
    out: list[tuple[tuple[Any, ...], str]] = []
    seen: dict[int, int] = {}
    for i, step in enumerate(spec.ladder):
        path = ("levels", "ladder", i)
        if step.level in seen:
            out.append(
                (
                    (*path, "level"),
                    _("level {level} is in the ladder twice (also step {value})").format(
                        level=step.level, value=seen[step.level] + 1
                    ),
                )
            )
        seen.setdefault(step.level, i)
        if i == 0:
            if step.at != 0:
                out.append(
                    (
                        (*path, "at"),
                        _(
                            "the first step is where every member starts: its `at` must be 0, not "
                            "{at}"
                        ).format(at=step.at),
                    )
                )
            continue
        prev = spec.ladder[i - 1]
        if step.at <= prev.at:
            out.append(
                (
                    (*path, "at"),
                    _(
                        "`at` must increase up the ladder: {at} is not above {at2} (level {level})"
                    ).format(at=step.at, at2=prev.at, level=prev.level),
                )
            )
        if step.level <= prev.level:
            out.append(
                (
                    (*path, "level"),
                    _("levels must increase up the ladder: {level} is not above {level2}").format(
                        level=step.level, level2=prev.level
                    ),
                )
            )
    return out


def _nodes(tree: nodes.Node, kinds: Any) -> list[Any]:
    """``tree`` and every node under it of the given kinds (``find_all`` skips the root)."""
    found: list[Any] = [tree] if isinstance(tree, kinds) else []
    found.extend(tree.find_all(kinds))
    return found


def _time_dependence(tree: nodes.Node) -> str | None:
    """Why a level expression cannot be used (it reads something that changes with time
    alone), or None."""
    for node in _nodes(tree, (nodes.Name, nodes.Getattr, nodes.Call)):
        if isinstance(node, nodes.Name) and node.name in _TIMED_NAMES:
            return _(
                "a level measure cannot read {name}: it is evaluated for members outside any event"
            ).format(name=_TIMED_NAMES[node.name])
        if (
            isinstance(node, nodes.Getattr)
            and isinstance(node.node, nodes.Name)
            and node.node.name == "member"
            and node.attr in _TIMED_MEMBER_FIELDS
        ):
            return _(
                "a level measure cannot read `member.{attr}`: it changes with time "
                "alone, so the ladder could not demote on time"
            ).format(attr=node.attr)
        if (
            isinstance(node, nodes.Call)
            and isinstance(node.node, nodes.Name)
            and node.node.name in _TIMED_FUNCTIONS
        ):
            return _("a level measure cannot call {name}(): it reads the event's text").format(
                name=node.node.name
            )
    return None


def _time_uses(tree: nodes.Node) -> tuple[tuple[tuple[str, float], ...], tuple[str, ...]]:
    """The windowed ``count()`` calls and ``streak()`` types of a level expression."""
    windows: set[tuple[str, float]] = set()
    streaks: set[str] = set()
    for call in _nodes(tree, nodes.Call):
        if (
            not isinstance(call, nodes.Call)
            or not isinstance(call.node, nodes.Name)
            or not call.args
        ):
            continue
        first = call.args[0]
        if not isinstance(first, nodes.Const) or not isinstance(first.value, str):
            continue
        if call.node.name == "streak":
            streaks.add(first.value)
        elif call.node.name == "count":
            window: Any = (
                call.args[1]
                if len(call.args) > 1
                else next((kw.value for kw in call.kwargs if kw.key == "within"), None)
            )
            if isinstance(window, nodes.Const) and window.value is not None:
                windows.add((first.value, window_seconds(window.value)))
    return tuple(sorted(windows)), tuple(sorted(streaks))


def compile_levels(compiler: CompileContext) -> CompiledLevels | None:
    """Compile the `levels:` section (problems go to the compiler); None without one."""
    spec = compiler.spec.levels
    if spec is None:
        return None
    for path, message in _ladder_problems(compiler):
        compiler.problem(path, message)
    names = compiler.spec.currency_names
    by = spec.by.strip()
    currency: str | None = None
    fn: Any = None
    windows: tuple[tuple[str, float], ...] = ()
    streaks: tuple[str, ...] = ()
    if by in names:
        currency = by
    elif by.isidentifier():  # a bare word (of any script): meant as a currency
        hint = did_you_mean(by, names)
        compiler.problem(
            ("levels", "by"),
            _(
                "unknown currency {by!r}{hint} (`by:` is one of the currencies {names}, "
                "or an expression such as \"count('message.posted', within='30d')\")"
            ).format(by=by, hint=hint, names=", ".join(names)),
        )
    else:
        try:
            tree = parse_expression(by)
            problem = _time_dependence(tree)
            if problem is not None:
                raise ExprCompileError(problem)
        except (ExprCompileError, ValueError) as err:
            compiler.problem(("levels", "by"), str(err))
        else:
            compiled = compiler.expression(by, ("levels", "by"))
            if compiled is not None:
                fn = compiled.fn
                windows, streaks = _time_uses(tree)
    demotion = spec.demotion
    below = demotion.below if demotion is not None else None
    grace = 0.0
    if demotion is not None and demotion.grace is not None:
        grace = demotion.grace.total_seconds()
    person = spec.scope == "person"
    if person and by not in compiler.spec.person_currencies():
        compiler.problem(
            ("levels", "by"),
            _(
                "a ladder with `scope: person` is measured by a currency with "
                "`scope: person`, not {by!r}"
            ).format(by=by),
        )
    steps = tuple(Step(s.level, s.name, float(s.at)) for s in spec.ladder)
    return CompiledLevels(
        steps, currency, fn, by, below, grace, windows, streaks, compiler.timezone, person=person
    )


LEVELS: FeatureKey[CompiledLevels] = FeatureKey("levels")


class LevelsFeature(BaseFeature):
    """The level ladder: promotion, demotion, `set_level` and `lock_level`."""

    name = "levels"

    def actions(self) -> list[ActionDef]:
        return [
            ActionDef(
                ActionSpec(
                    "set_level",
                    SetLevelParams,
                    "level",
                    N_("set the member's level by hand"),
                    title=N_("Set level"),
                ),
                do_set_level,
                check=check_set_level,
            ),
            ActionDef(
                ActionSpec(
                    "lock_level",
                    LockLevelParams,
                    "locked",
                    N_("freeze (or unfreeze) the member's level against automatic changes"),
                    title=N_("Lock level"),
                ),
                do_lock_level,
                check=check_lock_level,
            ),
        ]

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {LEVEL_CHECK: level_check}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        levels = compile_levels(ctx)
        if levels is None or not levels.steps:
            return None
        first = levels.steps[0]
        ctx.env.level_floor = (first.level, first.name)
        return FeaturePlan(data=levels, member_checks=(levels.check,))
