"""Member measures: expressions that tiered badges and leaderboards evaluate per member.

A measure such as ``count('reaction.added')`` is an ordinary expression (docs/reference.md §5.2)
evaluated for one member outside any rule, after the member's event was decided.  To keep
the per-event cost low, the compiler works out which events can change it: a measure
built only from ``count()`` and ``streak()`` of given event types (with literals, `vars`
and the duration helpers) changes only when its member has an event of one of those
types; any other measure (reading ``member.points``, ``now``...) is re-evaluated for every
member a decision touches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jinja2 import nodes

from ..expr.context import EvalContext
from ..expr.expressions import parse_expression
from ..model.decision import Decision, RuleFailure
from ..model.events import MAX_INT, MIN_INT, internal_event
from ..model.state import MemberState, ts

if TYPE_CHECKING:
    from ..errors import Path
    from .feature import CompileContext

#: Functions whose value depends on the member's events of the type they name.
_EVENT_FUNCTIONS = frozenset({"count", "streak"})
#: Functions whose value depends on their arguments only.
_PURE_FUNCTIONS = frozenset({"days", "hours", "minutes"})


@dataclass(frozen=True, slots=True)
class Measure:
    """A compiled measure.  ``types`` is the set of event types that can change it, or
    None when any change of the member may (it is then evaluated for every touched
    member)."""

    source: str
    fn: Any
    types: frozenset[str] | None

    def due(self, d: Decision, m: MemberState) -> bool:
        """Whether the measure may have changed for ``m`` in decision ``d``."""
        types = self.types
        if types is None:
            return True
        ev = d.event
        if ev is None or ev.type not in types or ev.community != m.community:
            return False
        ref = ev.member
        return ref is not None and ref.id == m.id

    def value(
        self, engine: Any, d: Decision, m: MemberState, at: datetime, owner: str
    ) -> float | None:
        """The measure for ``m`` now; None (with a rule error naming ``owner``) when it
        fails or is not a number."""
        pb = engine.playbook
        event = d.event or internal_event(
            id=d.cause,
            type="engine.measure",
            at=at,
            community=m.community,
            member=None,
            data={},
            depth=1,
        )
        c = EvalContext(
            event,
            m,
            at,
            ts(at),
            engine.community_vars(m.community),
            dict(pb.vars),
            pb.default_currency,
            pb.timezone,
            pb.env,
        )
        try:
            value = self.fn(c)
        except Exception as err:
            d.add_error(RuleFailure(owner, d.cause, f"{self.source!r}: {err}", at))
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            d.add_error(
                RuleFailure(
                    owner,
                    d.cause,
                    f"{self.source!r} must give a number, got {type(value).__name__}",
                    at,
                )
            )
            return None
        if not (MIN_INT <= value <= MAX_INT if isinstance(value, int) else math.isfinite(value)):
            # A leaderboard stores the score: it must fit in 64 bits, and be finite.
            d.add_error(
                RuleFailure(
                    owner,
                    d.cause,
                    f"{self.source!r} gave {value if isinstance(value, float) else 'an integer'} "
                    "outside the range a score may take (a finite number in 64 bits)",
                    at,
                )
            )
            return None
        return value


def event_types(text: str) -> frozenset[str] | None:
    """The event types a measure depends on, if it depends on nothing else (see the
    module docstring); None otherwise.  ``text`` must be a valid expression."""
    tree = parse_expression(text)
    everything = [tree, *tree.find_all(nodes.Node)]  # find_all skips the root itself
    callees: set[int] = set()
    types: set[str] = set()
    for call in (n for n in everything if isinstance(n, nodes.Call)):
        callee = call.node
        if not isinstance(callee, nodes.Name):
            return None
        callees.add(id(callee))
        if callee.name in _EVENT_FUNCTIONS:
            first = call.args[0] if call.args else None
            if not isinstance(first, nodes.Const) or not isinstance(first.value, str):
                return None
            types.add(first.value)
        elif callee.name not in _PURE_FUNCTIONS:
            return None
    for name in (n for n in everything if isinstance(n, nodes.Name)):
        if id(name) not in callees and name.name != "vars":
            return None
    return frozenset(types)


def compile_measure(ctx: CompileContext, text: str, path: Path) -> Measure | None:
    """Compile a measure, recording what it needs the engine to keep (counted event
    types, streak days); None (with a problem at ``path``) if it does not compile."""
    compiled = ctx.expression(text, path)
    if compiled is None:
        return None
    return Measure(text, compiled.fn, event_types(text))
