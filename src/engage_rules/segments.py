"""Segments: named member conditions (DESIGN.md §5.10).

``segments: {core: "member.level >= 3 and ..."}`` compiles each condition once, at load
time, with the same grammar as a rule's ``if:`` (an expression, a list that must all
hold, or ``all``/``any``/``not``).  Expressions use them as ``segment('core')`` — a name
that is not defined is rejected at load with a suggestion — and schedules use them as
their ``audience``.  A segment may refer to other segments; a cycle is an error.

While a playbook compiles, :data:`engage_rules.functions.SEGMENT_SCOPE` holds its segment
names, so that every expression compiled then (rules, templates, flows...) can check
``segment()`` calls against them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .errors import Problems
from .expr_runtime import Uses
from .expressions import ConditionErrors, compile_condition
from .functions import SEGMENT_SCOPE, SegmentScope

SegmentFn = Callable[[Any], Any]


@contextmanager
def segment_scope(names: set[str] | frozenset[str]) -> Iterator[SegmentScope]:
    """Make ``names`` the segments ``segment()`` may name while compiling."""
    scope = SegmentScope(frozenset(names))
    token = SEGMENT_SCOPE.set(scope)
    try:
        yield scope
    finally:
        SEGMENT_SCOPE.reset(token)


def compile_segments(
    segments: dict[str, Any], vars: dict[str, Any], scope: SegmentScope, problems: Problems,
    uses: Uses,
) -> dict[str, SegmentFn]:
    """Compile every segment; report problems at ``segments.<name>``; reject cycles."""
    compiled: dict[str, SegmentFn] = {}
    refers: dict[str, set[str]] = {}
    for name, cond in segments.items():
        scope.refs = set()
        try:
            expr = compile_condition(cond, vars=vars)
        except ConditionErrors as errs:
            for rel, message in errs.errors:
                problems.add(("segments", name, *rel), message)
            continue
        uses.merge(expr.uses)
        compiled[name] = expr.fn
        refers[name] = set(scope.refs)
    scope.refs = set()
    for name in refers:
        cycle = _cycle(name, refers)
        if cycle is not None:
            problems.add(("segments", name),
                         f"segment {name!r} refers to itself through "
                         f"{' -> '.join(repr(n) for n in cycle)}")
    return compiled


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
