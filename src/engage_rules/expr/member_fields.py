"""The fields of ``member`` in expressions and templates: one table, two uses.

Each field is written once, as a Python expression over the names generated code binds
(``_m`` the member's state, never None here; ``_now`` the evaluation time; ``_cur`` the
default currency; ``c`` the evaluation context).  The expression compiler inlines that
text into the conditions it generates (:mod:`.codegen`), and the run-time accessor that
templates and :meth:`EvalContext.member_attr` use is compiled from the very same text
below, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol


def in_units(minor: int, scale: int) -> int | float:
    """An amount kept in minor units, in units: exact when whole (an int), else the
    float nearest the exact decimal (19990 at scale 100 is 199.9)."""
    if minor % scale == 0:
        return minor // scale
    return float(Decimal(minor) / scale)


def _unit(scales: Mapping[str, int], currency: str, minor: int) -> int | float:
    scale = scales.get(currency)
    return minor if scale is None else in_units(minor, scale)


def _units(scales: Mapping[str, int], balances: Mapping[str, int]) -> dict[str, int | float]:
    return {k: _unit(scales, k, v) for k, v in balances.items()}


def _badges(c: Any, m: Any) -> list[str]:
    """``m``'s badges: its own, and its person's person-wide ones (sorted)."""
    held = c.badge_holder(m)
    return sorted(set(m.badges) | set(held.badges)) if held is not m else sorted(m.badges)


def _titles(c: Any, m: Any) -> list[str]:
    """``m``'s titles in the order earned: its own, then its person's."""
    held = c.badge_holder(m)
    return (
        [*m.titles, *(t for t in held.titles if t not in m.titles)]
        if held is not m
        else list(m.titles)
    )


def _level(c: Any, m: Any, floor: tuple[Any, Any]) -> tuple[Any, Any]:
    """``(level, level_name)`` of ``m``'s person-wide level (its person's, once linked):
    the lowest step while not placed on the ladder."""
    held = c.level_holder(m)
    return (held.level, held.level_name) if held.level is not None else floor


def _balances(c: Any, m: Any) -> dict[str, int]:
    """Every balance of ``m``: its group currencies', and its person's person-wide ones."""
    person = c.env.person_currencies
    own = {k: v for k, v in m.balances.items() if k not in person}
    held = c.wallet(m, next(iter(person)))
    own.update((k, v) for k, v in held.balances.items() if k in person)
    return dict(sorted(own.items()))


#: Names the field expressions may use besides ``_m``, ``_now``, ``_cur`` and ``c``.
FIELD_GLOBALS: dict[str, Any] = {
    "__builtins__": {},
    "list": list,
    "dict": dict,
    "sorted": sorted,
    "_ZERO": timedelta(0),
    "_unit": _unit,
    "_units": _units,
    "_balances": _balances,
    "_badges": _badges,
    "_titles": _titles,
    "_level": _level,
}

_LEVEL_FLOOR = "(c.env.level_floor or (None, None))"

#: ``member.<name>`` -> its value, as a Python expression (see the module docs).
MEMBER_FIELDS: dict[str, str] = {
    "id": "_m.id",
    "name": "(_m.name or _m.id)",
    "roles": "list(_m.roles)",
    # Currencies with decimals are kept in minor units and read in units.
    # A person-wide currency (docs/reference.md §4.3) is held by the member's person.
    "points": "(_unit(c.env.scales, _cur, (c.wallet(_m, _cur) if c.env.person_currencies "
    "else _m).balances.get(_cur, 0)) if c.env.scales "
    "else (c.wallet(_m, _cur) if c.env.person_currencies else _m).balances.get(_cur, 0))",
    "balances": "(_units(c.env.scales, _balances(c, _m) if c.env.person_currencies "
    "else _m.balances) if c.env.scales "
    "else (_balances(c, _m) if c.env.person_currencies else dict(_m.balances)))",
    "person": "_m.person",
    # A member not placed on the ladder yet (that happens once its first event is
    # decided): the rules of that event see the lowest step.
    # A person-wide ladder (docs/reference.md §4.3): the level is the person's.
    "level": f"((_m.level if _m.level is not None else {_LEVEL_FLOOR}[0]) "
    f"if not c.env.person_levels else _level(c, _m, {_LEVEL_FLOOR})[0])",
    "level_name": f"((_m.level_name if _m.level is not None else {_LEVEL_FLOOR}[1]) "
    f"if not c.env.person_levels else _level(c, _m, {_LEVEL_FLOOR})[1])",
    # Person-wide badges (docs/reference.md §4.3) are held by the member's person.
    "badges": "(_badges(c, _m) if c.env.person_badges else sorted(_m.badges))",
    "titles": "(_titles(c, _m) if c.env.person_badges else list(_m.titles))",
    "tags": "_m.tag_names(_now)",
    "strikes": "_m.active_strikes(_now)",
    "status": "_m.status_at(_now)",
    "opted_out": "_m.opted_out",
    "joined_at": "_m.joined_at",
    "last_active_at": "_m.last_active_at",
    "account_age": "((_now - _m.created_at) if _m.created_at is not None else None)",
    "silent_for": (
        "((_now - (_m.last_active_at or _m.joined_at)) "
        "if (_m.last_active_at or _m.joined_at) is not None else _ZERO)"
    ),
    "typical_gap": "_m.typical_gap()",
    "attrs": "_m.attrs",
    "total_spent": "_m.total_spent()",
    "purchases": "_m.spending.get('count', 0)",
    "last_purchase_at": "_m.last_purchase_at()",
}

#: The names of the member fields, in the order the docs list them.
MEMBER_FIELD_NAMES: tuple[str, ...] = tuple(MEMBER_FIELDS)


class _Env(Protocol):
    @property
    def level_floor(self) -> tuple[int, str] | None: ...


class FieldScope(Protocol):
    """What a field expression reads of ``c``, the evaluation context
    (:class:`engage_rules.expr.context.EvalContext` provides it): ``c.env.level_floor``."""

    @property
    def env(self) -> _Env: ...


#: ``accessor(c, _m, _now, _cur)``: one field's value (see the module docs).
Accessor = Callable[[FieldScope, Any, Any, str], Any]


def _accessor(name: str, source: str) -> Accessor:
    code = compile(f"lambda c, _m, _now, _cur: {source}", f"<member.{name}>", "eval")
    fn: Accessor = eval(code, dict(FIELD_GLOBALS))
    return fn


#: The run-time accessor of each field, compiled from :data:`MEMBER_FIELDS`.
ACCESSORS: dict[str, Accessor] = {
    name: _accessor(name, source) for name, source in MEMBER_FIELDS.items()
}
