"""Flows: multi-step journeys for one member (docs/reference.md §5.7).

A flow runs its steps in order until a ``wait`` or ``wait_for``; the position is kept in
``MemberState.flows[name]`` and a persisted timer brings the flow back, so nothing waits
in memory and a restart resumes exactly where the flow stood:

``{"run": 2, "status": "active", "step": [3], "started_at": ..., "waiting": {"until":
..., "event": "message.posted"}}`` — ``run`` counts the member's runs of the flow (it is
part of every timer id and action key of the run), ``step`` is the path of the current
step (``[2, "then", 0]`` inside an ``if``), ``status`` becomes ``completed`` or
``exited`` when the run ends (with ``ended_at`` and ``reason``).

Actions in steps are emitted with ``rule: flows.<name>`` and the cause that moved the
flow (the event, or the timer id after a wait); their keys hash the flow, the run, the
step path and the cause.  A failing action or condition records an error and ends the
run as exited (reason ``error``); a refused action (a short ``spend``) has no effect and
the flow goes on.  Ending a run raises ``flow.completed`` (reason ``goal`` or ``end``)
or ``flow.exited`` (reason ``exit_on``, ``exit``, ``exit_flow``, ``restart`` or
``error``), with ``data: {flow, run, reason}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

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
from ..errors import ActionError, ActionRefused, InternalLoopError
from ..i18n import N_, _
from ..lang import flow_steps
from ..lang.action_params import ActionSpec, ExitFlowParams, StartFlowParams
from ..lang.loader import ActionCall
from ..model import rule_problems as rp
from ..model.decision import ActionRecord, RuleFailure, action_key
from ..model.events import Event, internal_event, member_ref
from ..model.state import MemberState, Timer

if TYPE_CHECKING:
    from collections import deque

    from ..engine.effects import Effects
    from ..model.decision import Decision

#: How many flow starts may nest inside one another (a flow starting a flow...).
MAX_FLOW_NESTING = 8

StepPath = list[Any]  # [3] or [3, "then", 0]: JSON-able


@dataclass(slots=True)
class ActionStep:
    """A flow step that runs one action."""

    action: CompiledAction


@dataclass(slots=True)
class WaitStep:
    """A flow step that pauses the flow."""

    seconds: float


@dataclass(slots=True)
class WaitForStep:
    """A flow step that waits for an event, running ``on_timeout`` if it does not come."""

    event: str
    seconds: float
    on_timeout: list[Any]


@dataclass(slots=True)
class IfStep:
    """A flow step that branches on a condition."""

    cond: Callable[[Any], Any]
    then: list[Any]
    else_: list[Any]


@dataclass(slots=True)
class ExitStep:
    """A flow step that ends the flow."""

    reason: str


@dataclass(slots=True)
class CompiledFlow:
    """A compiled flow of the `flows:` section."""

    name: str
    rule: str  # "flows.<name>": the `rule` of what the flow emits
    steps: list[Any]
    exit_on: frozenset[str] = frozenset()
    goal_event: str | None = None
    goal_cond: Callable[[Any], Any] | None = None
    waits_for: frozenset[str] = field(default_factory=frozenset)


def label(path: StepPath) -> str:
    """A step path as text (``3.then.0``)."""
    return ".".join(str(p) for p in path)


def _branch(step: Any, name: str) -> list[Any]:
    if name == "then":
        return step.then  # type: ignore[no-any-return]
    if name == "else":
        return step.else_  # type: ignore[no-any-return]
    return step.on_timeout  # type: ignore[no-any-return]


def _resolve(flow: CompiledFlow, path: StepPath) -> tuple[Any, StepPath] | None:
    """The step at ``path`` or, past the end of a nested list, the step after its
    parent; None at the end of the flow.  Returns (step, its path)."""
    path = list(path)
    while True:
        steps = flow.steps
        try:
            for i in range(0, len(path) - 1, 2):
                steps = _branch(steps[path[i]], path[i + 1])
            if path[-1] < len(steps):
                return steps[path[-1]], path
        except (IndexError, AttributeError, TypeError) as err:
            # A stored position that the playbook's flow no longer has.
            raise ActionError(rp.english(rp.FLOW_STEP_GONE, step=label(path))) from err
        if len(path) == 1:
            return None
        path = [*path[:-3], path[-3] + 1]


def _after(path: StepPath) -> StepPath:
    return [*path[:-1], path[-1] + 1]


# -- running ---------------------------------------------------------------------------
def _scope(
    engine: Effects, d: Decision, queue: deque[Event], ev: Event, m: MemberState, flow: CompiledFlow
) -> ActionScope:
    """A scope for the flow's steps, as ``ev`` caused them, for ``m``."""
    d.touched.add((m.community, m.id))
    return engine.scope(d, ev, m, flow.rule, queue)


def _child(run: ActionScope, m: MemberState, flow: CompiledFlow) -> ActionScope:
    """The flow's own scope for a run started (or ended) by an action in ``run``."""
    run.d.touched.add((m.community, m.id))
    scope = run.effects.scope(run.d, run.event, m, flow.rule, run.queue)
    scope.depth = run.depth
    return scope


def _flows(run: ActionScope) -> dict[str, CompiledFlow]:
    return run.playbook.data(FLOWS) or {}


def _steps(
    run: ActionScope, m: MemberState, flow: CompiledFlow, fs: dict[str, Any], path: StepPath
) -> None:
    """Run the flow's steps from ``path`` until it waits or ends."""
    pb = run.playbook
    run_no = fs["run"]
    fs["last_event"] = run.event.id
    while True:
        if m.flows.get(flow.name) is not fs or fs["status"] != "active":
            return  # an action ended or restarted this run
        try:
            found = _resolve(flow, path)
        except ActionError as err:
            _fail(run, m, flow, fs, str(err))
            return
        if found is None:
            _end(run, m, flow, fs, "completed", "end")
            return
        step, path = found
        fs["step"] = path
        if isinstance(step, ActionStep):
            action = replace(step.action, key_source=(pb.name, f"{run_no}:{label(path)}"))
            try:
                action.execute(run, action)
            except ActionRefused:
                pass
            except Exception as err:
                _fail(run, m, flow, fs, f"{action.name}: {err}")
                return
            path = _after(path)
        elif isinstance(step, IfStep):
            try:
                ok = step.cond(run)
            except Exception as err:
                _fail(run, m, flow, fs, f"if: {err}")
                return
            name = "then" if ok else "else"
            path = [*path, name, 0] if _branch(step, name) else _after(path)
        elif isinstance(step, WaitStep | WaitForStep):
            _wait(run, m, flow, fs, path, step)
            return
        else:
            _end(run, m, flow, fs, "exited", step.reason)
            return


def _wait(
    run: ActionScope,
    m: MemberState,
    flow: CompiledFlow,
    fs: dict[str, Any],
    path: StepPath,
    step: WaitStep | WaitForStep,
) -> None:
    due = run.now_ts + step.seconds
    until = datetime.fromtimestamp(due, run.playbook.timezone)
    waiting: dict[str, Any] = {"until": until.isoformat()}
    if isinstance(step, WaitForStep):
        waiting["event"] = step.event
    fs["waiting"] = waiting
    where = label(path)
    run.effects.add_timer(
        run.d,
        Timer(
            due,
            0,
            f"flow:{m.community}:{m.id}:{flow.name}:{fs['run']}:{where}",
            "flow",
            m.community,
            m.id,
            flow.rule,
            {"flow": flow.name, "run": fs["run"], "step": where},
        ),
    )


def _fail(
    run: ActionScope, m: MemberState, flow: CompiledFlow, fs: dict[str, Any], message: str
) -> None:
    ev = run.event
    text = message if len(message) <= 500 else message[:497] + "..."
    run.d.add_error(RuleFailure(flow.rule, ev.id, text, ev.at))
    _end(run, m, flow, fs, "exited", "error")


def _end(
    run: ActionScope,
    m: MemberState,
    flow: CompiledFlow,
    fs: dict[str, Any],
    status: str,
    reason: str,
    *,
    record: bool = True,
) -> None:
    """End the run: state, an engine action (unless an action ended it) and the event."""
    fs["status"] = status
    fs["reason"] = reason
    fs["ended_at"] = run.now.isoformat()
    fs.pop("waiting", None)
    run.d.touched.add((m.community, m.id))
    data = {"flow": flow.name, "run": fs["run"], "reason": reason}
    if record:
        kind = "complete_flow" if status == "completed" else "exit_flow"
        cause = run.event.id
        run.d.actions.append(
            ActionRecord(
                action_key(run.playbook.name, flow.rule, cause, f"{fs['run']}:end"),
                kind,
                m.id,
                flow.rule,
                cause,
                run.now,
                dict(data),
                m.community,
            )
        )
    event = "flow.completed" if status == "completed" else "flow.exited"
    run.raise_event(event, m, data, f"{event}:{flow.name}:{fs['run']}")


def start(
    run: ActionScope,
    m: MemberState,
    flow: CompiledFlow,
    restart: bool,
    action: CompiledAction | None,
) -> None:
    """`start_flow`: begin a run (or, with ``restart``, end the active one and begin)."""
    fs = m.flows.get(flow.name)
    if fs is not None and fs.get("status") == "active":
        if not restart:
            return
        _end(_child(run, m, flow), m, flow, fs, "exited", "restart")
    if run.depth >= MAX_FLOW_NESTING:
        raise ActionError(
            str(InternalLoopError(rp.english(rp.FLOWS_TOO_DEEP, depth=MAX_FLOW_NESTING)))
        )
    run_no = (fs["run"] if fs is not None else 0) + 1
    fs = m.flows[flow.name] = {
        "run": run_no,
        "status": "active",
        "step": [0],
        "started_at": run.now.isoformat(),
    }
    run.d.touched.add((m.community, m.id))
    if action is not None:
        run.emit(action, m.id, {"flow": flow.name, "run": run_no})
    scope = _child(run, m, flow)
    scope.depth = run.depth + 1
    _steps(scope, m, flow, fs, [0])


# -- actions -----------------------------------------------------------------------------
def do_start_flow(run: ActionScope, action: CompiledAction) -> None:
    """The ``start_flow`` action."""
    m = run.require_target(action)
    flow = _flows(run)[action.params.flow]  # type: ignore[attr-defined]
    start(run, m, flow, bool(action.params.restart), action)  # type: ignore[attr-defined]


def do_exit_flow(run: ActionScope, action: CompiledAction) -> None:
    """The ``exit_flow`` action."""
    m = run.require_target(action)
    flow = _flows(run)[action.params.flow]  # type: ignore[attr-defined]
    fs = m.flows.get(flow.name)
    if fs is None or fs.get("status") != "active":
        return
    run.emit(action, m.id, {"flow": flow.name, "run": fs["run"]})
    _end(_child(run, m, flow), m, flow, fs, "exited", "exit_flow", record=False)


# -- events and timers ---------------------------------------------------------------------
def make_observer(flows: dict[str, CompiledFlow]) -> Callable[..., None]:
    """What an event does to the member's active flows: ``exit_on`` ends them, the
    ``goal`` completes them, a ``wait_for`` of that type resumes them."""

    def observe(
        engine: Effects, ev: Event, m: MemberState | None, d: Decision, queue: deque[Event]
    ) -> None:
        if m is None or not m.flows:
            return
        t = ev.type
        for name in list(m.flows):
            flow = flows.get(name)
            fs = m.flows[name]
            if flow is None or fs.get("status") != "active" or fs.get("last_event") == ev.id:
                continue
            if t in flow.exit_on:
                _end(_scope(engine, d, queue, ev, m, flow), m, flow, fs, "exited", "exit_on")
            elif t == flow.goal_event:
                run = _scope(engine, d, queue, ev, m, flow)
                try:
                    reached = flow.goal_cond is None or flow.goal_cond(run)
                except Exception as err:
                    d.add_error(RuleFailure(flow.rule, ev.id, f"goal.if: {err}", ev.at))
                    reached = False
                if reached:
                    _end(run, m, flow, fs, "completed", "goal")
                elif fs.get("waiting", {}).get("event") == t:
                    _resume(run, m, flow, fs, _after(fs["step"]))
            elif fs.get("waiting", {}).get("event") == t:
                _resume(_scope(engine, d, queue, ev, m, flow), m, flow, fs, _after(fs["step"]))

    return observe


def _resume(
    run: ActionScope, m: MemberState, flow: CompiledFlow, fs: dict[str, Any], path: StepPath
) -> None:
    fs.pop("waiting", None)
    run.depth += 1
    try:
        _steps(run, m, flow, fs, path)
    finally:
        run.depth -= 1


def flow_due(
    engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
) -> None:
    """A flow's wait is over: go on with the member's run (stale timers do nothing)."""
    p = timer.payload
    flow = (engine.playbook.data(FLOWS) or {}).get(p.get("flow", ""))
    if m is None or flow is None:
        return
    fs = m.flows.get(flow.name)
    if (
        fs is None
        or fs.get("status") != "active"
        or fs.get("run") != p.get("run")
        or "waiting" not in fs
        or label(fs["step"]) != p.get("step")
    ):
        return  # stale: the run ended, or the wait_for was satisfied
    try:
        found = _resolve(flow, fs["step"])
    except ActionError:
        found = None
    if found is None or not isinstance(found[0], WaitStep | WaitForStep):
        # The playbook's flow changed shape since this run waited here: go on from
        # the stored position (which fails the run cleanly if it no longer exists).
        found = (None, fs["step"])
    step, path = found
    timed_out = isinstance(step, WaitForStep)
    if isinstance(step, WaitForStep) and step.on_timeout:
        after = [*path, "on_timeout", 0]
    else:
        after = _after(path)
    ev = internal_event(
        id=timer.id,
        type="flow.resumed",
        at=at,
        community=m.community,
        member=member_ref(m),
        data={"flow": flow.name, "run": fs["run"], "reason": "timeout" if timed_out else "wait"},
        depth=1,
    )
    d.touched.add((m.community, m.id))
    _resume(engine.scope(d, ev, m, flow.rule), m, flow, fs, after)


# -- compiling ---------------------------------------------------------------------------
def _never(c: Any) -> bool:
    return False


def compile_flow(compiler: CompileContext, name: str, spec: Any) -> CompiledFlow:
    """Compile one flow of the loaded spec (its steps come from flow_steps)."""
    waits: set[str] = set()

    def steps(items: list[Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if isinstance(item, ActionCall):
                action = compiler.action(item, label(list(item.path[3:])))
                out.append(ActionStep(action) if action is not None else None)
            elif isinstance(item, flow_steps.WaitStep):
                out.append(WaitStep(item.seconds))
            elif isinstance(item, flow_steps.WaitForStep):
                waits.add(item.event)
                out.append(WaitForStep(item.event, item.seconds, steps(item.on_timeout)))
            elif isinstance(item, flow_steps.IfStep):
                cond = compiler.condition(item.condition, (*item.path, "if"))
                # A condition that did not compile was reported: the playbook won't load.
                out.append(IfStep(cond or _never, steps(item.then), steps(item.else_)))
            else:
                out.append(ExitStep(item.reason))
        return out

    goal_event = goal_cond = None
    if spec.goal is not None:
        goal_event = spec.goal.event
        if spec.goal.if_ is not None:
            goal_cond = compiler.condition(spec.goal.if_, ("flows", name, "goal", "if"))
    return CompiledFlow(
        name,
        f"flows.{name}",
        steps(spec.steps),
        frozenset(spec.exit_on),
        goal_event,
        goal_cond,
        frozenset(waits),
    )


FLOWS: FeatureKey[dict[str, CompiledFlow]] = FeatureKey("flows")


def check_flow(ctx: CompileContext, call: ActionCall, label: str, consts: dict[str, Any]) -> None:
    """`start_flow` and `exit_flow` name one of the playbook's flows."""
    name = getattr(call.params, "flow", None)
    if name not in ctx.spec.flows:
        ctx.problem(
            (*call.path, call.name, "flow"),
            _("unknown flow {name!r}{hint}").format(
                name=name, hint=did_you_mean(name, ctx.spec.flows)
            ),
        )


class FlowsFeature(BaseFeature):
    """Flows: `start_flow`, `exit_flow`, their steps, waits and goals."""

    name = "flows"

    def actions(self) -> list[ActionDef]:
        literal = frozenset({"flow", "restart"})
        return [
            ActionDef(
                ActionSpec(
                    "start_flow",
                    StartFlowParams,
                    "flow",
                    N_("start a flow for the member"),
                    title=N_("Start flow"),
                ),
                do_start_flow,
                literal,
                check_flow,
            ),
            ActionDef(
                ActionSpec(
                    "exit_flow",
                    ExitFlowParams,
                    "flow",
                    N_("end the member's run of a flow"),
                    title=N_("Exit flow"),
                ),
                do_exit_flow,
                literal,
                check_flow,
            ),
        ]

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {"flow": flow_due}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        flows = {name: compile_flow(ctx, name, f) for name, f in ctx.spec.flows.items()}
        if not flows:
            return None
        types: set[str] = set()
        for flow in flows.values():
            types |= flow.exit_on | flow.waits_for
            if flow.goal_event is not None:
                types.add(flow.goal_event)
        observer = make_observer(flows)
        return FeaturePlan(data=flows, observers={t: (observer,) for t in sorted(types)})
