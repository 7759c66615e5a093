"""Segments: named member conditions (docs/reference.md §5.10).

``segments: {core: "member.level >= 3 and ..."}`` compiles each condition once, at load
time, with the same grammar as a rule's ``if:`` (an expression, a list that must all
hold, or ``all``/``any``/``not``).  Expressions use them as ``segment('core')`` — a name
that is not defined is rejected at load with a suggestion (the playbook's segment names
are in its expression environment, ``ExprEnv.segment_names``) — and schedules use them
as their ``audience``.  A segment may refer to other segments; a cycle is an error.
The compiled segments are kept in the expression environment (``ExprEnv.segments``),
where ``segment()`` finds them at run time.  Every declared segment's size is recorded
each local midnight for reports (:mod:`.segment_snapshot`).
"""

from __future__ import annotations

from .._util.cron import CronSchedule
from ..compile.feature import BaseFeature, CompileContext, FeaturePlan, TimerHandler
from ..expr.env import SegmentFn
from ..expr.expressions import ConditionErrors, compile_condition
from ..i18n import _
from .segment_snapshot import (
    MIDNIGHT,
    TIMER_KIND,
    SnapshotPlan,
    arm_community,
    resume,
    start,
    take_snapshot,
)


class SegmentsFeature(BaseFeature):
    """Named member conditions: ``segment('name')`` and schedule audiences."""

    name = "segments"

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {TIMER_KIND: take_snapshot}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        segments = ctx.spec.segments
        if not segments:
            return None
        compiled: dict[str, SegmentFn] = {}
        refers: dict[str, set[str]] = {}
        for name, cond in segments.items():
            try:
                expr = compile_condition(cond, vars=ctx.vars, env=ctx.env)
            except ConditionErrors as errs:
                for rel, message in errs.errors:
                    ctx.problem(("segments", name, *rel), message)
                continue
            ctx.merge_uses(expr.uses, ("segments", name))
            compiled[name] = expr.fn
            refers[name] = set(expr.uses.segments)
        for name in refers:
            cycle = _cycle(name, refers)
            if cycle is not None:
                ctx.problem(
                    ("segments", name),
                    _("segment {name!r} refers to itself through {names}").format(
                        name=name, names=" -> ".join(repr(n) for n in cycle)
                    ),
                )
        ctx.env.segments.update(compiled)
        if not compiled:
            return None
        plan = SnapshotPlan(tuple(compiled), CronSchedule(MIDNIGHT, ctx.timezone))
        return FeaturePlan(
            data=plan, on_start=start, on_resume=resume, on_new_community=arm_community
        )


def _cycle(start: str, refers: dict[str, set[str]]) -> list[str] | None:
    """A path of segment references from ``start`` back to itself, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for ref in sorted(refers.get(name, ())):
            if ref == start:
                return [*path, ref]
            if ref not in seen:
                seen.add(ref)
                stack.append((ref, [*path, ref]))
    return None
