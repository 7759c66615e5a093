"""What compiled expressions and templates may consult beyond the event and the member.

An :class:`ExprEnv` is built once per playbook, when it is compiled, from the plugin
registry (its expression functions and content classifiers) and from the playbook itself
(its segment names, later the compiled segments, and the lowest step of its level
ladder).  The compiler hands it to every expression, template and action parameter it
compiles: a function call is checked against ``env.functions`` and a ``segment('x')``
against ``env.segment_names`` at load time.  At run time the evaluation context carries
the same env (``c.env``), so ``score()`` finds its classifier and ``segment()`` its
compiled condition without any process-wide table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .function_spec import FunctionSpec

#: A content classifier: ``scorer(text, label) -> float in [0, 1]``.
Scorer = Callable[[str, str], float]
#: A compiled segment condition: ``fn(c) -> truthy``.
SegmentFn = Callable[[Any], Any]


@dataclass(eq=False)
class ExprEnv:
    """The environment of one playbook's expressions (see the module docs).  The
    compiler completes it (``segments``, ``level_floor``) while the playbook compiles;
    it is read-only afterwards."""

    #: Every function expressions and templates may call, by name.
    functions: Mapping[str, FunctionSpec]
    #: Content classifiers ``score()`` may name.
    classifiers: Mapping[str, Scorer] = field(default_factory=dict)
    #: The names ``segment()`` may be called with (the playbook's `segments:`).
    segment_names: frozenset[str] = frozenset()
    #: The compiled segments, by name: filled once by the segments feature while the
    #: playbook compiles, read-only afterwards.
    segments: dict[str, SegmentFn] = field(default_factory=dict)
    #: The lowest step of the level ladder, ``(level, name)``: what ``member.level``
    #: reads for a member not yet placed on the ladder (None without `levels:`).
    level_floor: tuple[int, str] | None = None
    #: The playbook's experiments: name -> its variants with the upper bound of each
    #: one's share of [0, 1) (``variant()``; features/experiments.py).
    experiments: Mapping[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)

    @property
    def experiment_names(self) -> frozenset[str]:
        """The names ``variant()`` may be called with (the playbook's `experiments:`)."""
        return frozenset(self.experiments)

    #: Minor units per unit of each currency with decimals (``10 ** decimals``): balances
    #: are kept in minor units and read in units (``member.points``, ``member.balances``).
    scales: Mapping[str, int] = field(default_factory=dict)
    #: The currencies declared ``scope: person``: held by the member's person, read
    #: through :meth:`EvalContext.wallet` (docs/reference.md §4.3).
    person_currencies: frozenset[str] = frozenset()
    #: The badges declared ``scope: person``: held by the member's person.
    person_badges: frozenset[str] = frozenset()
    #: The level ladder is person-wide (``levels: {scope: person}``).
    person_levels: bool = False

    def with_functions(self, extra: Mapping[str, FunctionSpec]) -> ExprEnv:
        """This environment with more functions (``extra`` wins over the same names)."""
        return ExprEnv(
            {**self.functions, **extra},
            self.classifiers,
            self.segment_names,
            self.segments,
            self.level_floor,
            self.experiments,
            self.scales,
            self.person_currencies,
            self.person_badges,
            self.person_levels,
        )
