"""What a store can keep: checks of the values actions compute before they reach state.

Events are bounded when they are read (docs/language.md, "Events"); values a playbook
computes are checked here, where an action takes them: integers in 64 bits, finite
floats, at most :data:`MAX_VALUE_DEPTH` levels of lists and mappings.  An out-of-range
value fails its action with :class:`~engage_rules.errors.ActionError` (a rule error for
that event), never a commit.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from ..errors import ActionError
from . import rule_problems as rp
from .events import MAX_EVENT_DEPTH, MAX_INT, MIN_INT

__all__ = ["MAX_VALUE_DEPTH", "in_range", "json_value", "too_big"]

#: The deepest structure (objects and lists within one another) a value an action
#: computes may have: the bound of events (docs/language.md, "Events").
MAX_VALUE_DEPTH = MAX_EVENT_DEPTH


def too_big(value: int) -> str:
    """An out-of-range integer, shortened for a message."""
    bits = value.bit_length()
    text = str(value) if bits <= 200 else f"an integer of {bits} bits"
    return text if len(text) <= 40 else text[:40] + "..."


def _too_deep(path: str) -> ActionError:
    return ActionError(rp.english(rp.VALUE_TOO_DEEP, path=path, depth=MAX_VALUE_DEPTH))


def _items(value: Any, path: str) -> Any:
    """``(path of the item, item)`` for the items of a list or mapping."""
    if isinstance(value, dict):
        return ((f"{path}.{k}", v) for k, v in value.items())
    return ((f"{path}[{i}]", v) for i, v in enumerate(value))


_CONTAINERS = (dict, list, tuple, set, frozenset)


def in_range(value: Any, path: str, depth: int = 1) -> Any:
    """``value`` unchanged, if a store can keep the numbers it holds: integers in 64 bits,
    finite floats, at most MAX_VALUE_DEPTH levels of lists and mappings.  Values of other
    types pass (the action decides what it accepts).  Raises ActionError naming ``path``
    (the parameter, and where in it) otherwise."""
    t = type(value)
    if t is int:
        if not MIN_INT <= value <= MAX_INT:
            raise ActionError(
                rp.english(rp.VALUE_INTEGER_OUT_OF_RANGE, path=path, number=too_big(value))
            )
    elif t is float:
        if not math.isfinite(value):
            raise ActionError(rp.english(rp.VALUE_NOT_FINITE, path=path, value=value))
    elif t in _CONTAINERS:
        if depth > MAX_VALUE_DEPTH:
            raise _too_deep(path)
        for where, item in _items(value, path):
            in_range(item, where, depth + 1)
    return value


def json_value(value: Any, path: str, depth: int = 1) -> Any:
    """``value`` as JSON data a store keeps: within the bounds of :func:`in_range`, text
    valid Unicode, times as ISO 8601 text, durations as seconds, mapping keys as text.
    Raises ActionError naming ``path`` for anything else."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise ActionError(rp.english(rp.VALUE_LONE_SURROGATE, path=path)) from None
        return str(value)
    if isinstance(value, int):
        return in_range(int(value), path)
    if isinstance(value, float):
        return in_range(float(value), path)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, list | tuple | dict):
        if depth > MAX_VALUE_DEPTH:
            raise _too_deep(path)
        if isinstance(value, list | tuple):
            return [json_value(v, where, depth + 1) for where, v in _items(value, path)]
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = json_value(k, path, depth + 1)
            if isinstance(key, list | dict):
                raise ActionError(rp.english(rp.VALUE_BAD_KEY, path=path, kind=type(k).__name__))
            out[key if isinstance(key, str) else str(key)] = json_value(
                v, f"{path}.{key}", depth + 1
            )
        return out
    raise ActionError(rp.english(rp.VALUE_CANNOT_STORE, path=path, kind=type(value).__name__))
