"""Run-time support shared by compiled expressions and sandboxed templates.

Everything an operator's expression or template can do to a value at run time goes
through this module: attribute and item access (dictionary keys and a short list of
whitelisted attributes, never an arbitrary ``getattr``), method calls (a whitelist per
type), the operators that can allocate (``+ * ** % ~``, checked *before* allocating), and
the filters and tests of the expression language.  Limits are module constants.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from numbers import Number
from typing import Any, NoReturn

from jinja2 import Undefined
from jinja2.exceptions import TemplateError
from jinja2.filters import do_round, do_title

from .context import EVENT_FIELDS, MEMBER_FIELDS, EventView, MemberView
from .errors import EngageRulesError, ExpressionError, ResourceLimitError

#: Longest string an expression or template may build (characters).
MAX_STR = 64 * 1024
#: Most items a list built by an expression (``*``, ``+``, ``range``) may hold.
MAX_ITEMS = 10_000
#: Largest integer an expression may build (bits).
MAX_INT_BITS = 4096
#: Most items ``range()`` may produce.
MAX_RANGE = 10_000
#: Widest field a ``%`` format may ask for.
MAX_FORMAT_WIDTH = 100

RelPath = tuple[str | int, ...]


class ExprCompileError(EngageRulesError):
    """An expression or template is invalid (found at load time).

    ``col`` is the 1-based column within the expression text and ``line`` the 1-based
    line within a template, when known.
    """

    def __init__(self, message: str, *, col: int | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.col = col
        self.line = line

    def __str__(self) -> str:
        return self.message


class CompileErrors(EngageRulesError):
    """Several compile errors, each at a path relative to the compiled value."""

    def __init__(self, details: list[tuple[RelPath, ExprCompileError]]) -> None:
        self.details = details
        #: ``(relative path, message)`` pairs, in the order found.
        self.errors: list[tuple[RelPath, str]] = [(p, e.message) for p, e in details]
        super().__init__(
            "; ".join(
                (f"{'.'.join(map(str, p))}: " if p else "") + e.message for p, e in details
            )
        )


@dataclass
class Uses:
    """What a compiled expression or template needs the engine to keep."""

    #: Event type -> longest window (seconds) passed to ``count``; None: lifetime only.
    counts: dict[str, float | None] = field(default_factory=dict)
    #: Longest window (seconds) passed to ``duplicates``; None: not used.
    duplicates_window: float | None = None
    #: The expression reads ``match``.
    uses_match: bool = False
    #: The expression calls a detector function, which sets ``match``.
    sets_match: bool = False
    #: Event types passed to ``streak``: the engine keeps their calendar days.
    streaks: set[str] = field(default_factory=set)
    #: How many regular expressions ``matches()`` calls compiled (limited per playbook).
    patterns: int = 0

    def count(self, type_: str, window: float | None) -> None:
        if type_ not in self.counts:
            self.counts[type_] = window
        elif window is not None:
            have = self.counts[type_]
            self.counts[type_] = window if have is None else max(have, window)

    def duplicates(self, window: float) -> None:
        have = self.duplicates_window
        self.duplicates_window = window if have is None else max(have, window)

    def merge(self, other: Uses) -> None:
        for type_, window in other.counts.items():
            self.count(type_, window)
        if other.duplicates_window is not None:
            self.duplicates(other.duplicates_window)
        self.uses_match = self.uses_match or other.uses_match
        self.sets_match = self.sets_match or other.sets_match
        self.streaks |= other.streaks
        self.patterns += other.patterns


# -- errors ----------------------------------------------------------------------------------


def too_long(size: int) -> NoReturn:
    raise ResourceLimitError(f"a string of {size} characters is longer than the limit of {MAX_STR}")


def too_many(size: int) -> NoReturn:
    raise ResourceLimitError(f"a list of {size} items is longer than the limit of {MAX_ITEMS}")


def too_big() -> NoReturn:
    raise ResourceLimitError(f"a number larger than {MAX_INT_BITS} bits")


def fail(err: BaseException, source: str) -> ExpressionError:
    """The ExpressionError reported for ``err`` raised while evaluating ``source``."""
    if isinstance(err, TemplateError):
        what = err.message or type(err).__name__
    else:
        what = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return ExpressionError(f"{source}: {what}")


def missing(obj: Any, key: Any) -> Undefined:
    """The undefined value of ``obj[key]`` / ``obj.key`` (Jinja's message)."""
    return Undefined(obj=obj, name=key)


def undefined_fail(value: Undefined) -> NoReturn:
    value._fail_with_undefined_error()
    raise AssertionError("unreachable")  # pragma: no cover


# -- sizes and strings ---------------------------------------------------------------------

_CONTAINERS = (list, tuple, dict, set, frozenset)


def _rendered_size(value: Any, budget: int) -> int:
    """A lower bound of ``len(str(value))``, computed without building the string and
    abandoned once it passes ``budget``."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, dict):
        size = 2
        for k, v in value.items():
            size += _rendered_size(k, budget) + _rendered_size(v, budget) + 4
            if size > budget:
                break
        return size
    if isinstance(value, _CONTAINERS):
        size = 2
        for item in value:
            size += _rendered_size(item, budget) + 2
            if size > budget:
                break
        return size
    return 1


def to_str(value: Any) -> str:
    """``str(value)`` as Jinja renders it (undefined → ``""``), refusing huge results."""
    if isinstance(value, str):
        return value
    if isinstance(value, Undefined):
        return ""
    if isinstance(value, _CONTAINERS):
        size = _rendered_size(value, MAX_STR)
        if size > MAX_STR:
            too_long(size)
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 8192:
        too_big()
    return str(value)


def check_str(value: str) -> str:
    if len(value) > MAX_STR:
        too_long(len(value))
    return value


# -- operators -------------------------------------------------------------------------------


def op_add(a: Any, b: Any) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        if len(a) + len(b) > MAX_STR:
            too_long(len(a) + len(b))
    elif (isinstance(a, list | tuple) and isinstance(b, list | tuple)
          and len(a) + len(b) > MAX_ITEMS):
        too_many(len(a) + len(b))
    return a + b


def _check_repeat(seq: Any, n: int) -> None:
    if n <= 1:
        return
    if isinstance(seq, str):
        if len(seq) * n > MAX_STR:
            too_long(len(seq) * n)
    elif len(seq) * n > MAX_ITEMS:
        too_many(len(seq) * n)


def op_mul(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
            too_big()
    elif isinstance(b, int) and isinstance(a, str | list | tuple):
        _check_repeat(a, b)
    elif isinstance(a, int) and isinstance(b, str | list | tuple):
        _check_repeat(b, a)
    return a * b


def op_pow(a: Any, b: Any) -> Any:
    if (isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1
            and (b > MAX_INT_BITS or b * math.log2(abs(a)) > MAX_INT_BITS)):
        too_big()
    return a**b


# One conversion of a %-format: flags, width, precision, conversion type.
_PERCENT = re.compile(r"%(?:\([^)]*\))?([#0 +\-]*)(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.?)", re.S)
_PERCENT_TYPES = frozenset("sdifFeEgGxXoc%")


def op_mod(a: Any, b: Any) -> Any:
    if not isinstance(a, str):
        return a % b
    for m in _PERCENT.finditer(a):
        width, precision, kind = m.group(2), m.group(3), m.group(4)
        if kind not in _PERCENT_TYPES:
            raise ExpressionError(f"unsupported format conversion {m.group(0)!r}")
        for number in (width, precision):
            if number == "*" or (number and int(number) > MAX_FORMAT_WIDTH):
                raise ResourceLimitError(
                    f"format widths and precisions are limited to {MAX_FORMAT_WIDTH}"
                )
    for arg in b if isinstance(b, tuple) else (b,):
        to_str(arg)
    return check_str(a % b)


def op_concat(*parts: Any) -> str:
    strs = [to_str(p) for p in parts]
    total = sum(map(len, strs))
    if total > MAX_STR:
        too_long(total)
    return "".join(strs)


def bounded_range(*args: Any) -> range:
    """``range()`` limited to :data:`MAX_RANGE` items."""
    for a in args:
        if not isinstance(a, int):
            raise ExpressionError(f"range() needs whole numbers, got {type(a).__name__}")
    r = range(*args)
    try:
        n = len(r)
    except OverflowError:
        n = MAX_RANGE + 1
    if n > MAX_RANGE:
        raise ResourceLimitError(f"range() of more than {MAX_RANGE} items")
    return r


# -- attribute and item access ---------------------------------------------------------------

DATETIME_ATTRS = frozenset(("year", "month", "day", "hour", "minute", "second", "microsecond"))
DATE_ATTRS = frozenset(("year", "month", "day"))
TIMEDELTA_ATTRS = frozenset(("days", "seconds", "microseconds"))


def get_attr(obj: Any, name: str) -> Any:
    """``obj.name`` for operator code: a dictionary key, a field of the event/member
    views, or a whitelisted date/time attribute.  Anything else is undefined."""
    if isinstance(obj, dict):
        try:
            return obj[name]
        except KeyError:
            return missing(obj, name)
    if isinstance(obj, Undefined):
        undefined_fail(obj)
    if name.startswith("_"):
        raise ExpressionError(f"access to attribute {name!r} is not allowed")
    if isinstance(obj, MemberView):
        if name in MEMBER_FIELDS:
            return getattr(obj, name)
    elif isinstance(obj, EventView):
        if name in EVENT_FIELDS:
            return getattr(obj, name)
    elif isinstance(obj, datetime):
        if name in DATETIME_ATTRS:
            return getattr(obj, name)
    elif isinstance(obj, date):
        if name in DATE_ATTRS:
            return getattr(obj, name)
    elif isinstance(obj, timedelta) and name in TIMEDELTA_ATTRS:
        return getattr(obj, name)
    return missing(obj, name)


def get_item(obj: Any, key: Any) -> Any:
    """``obj[key]``: dictionary keys and sequence indexes only."""
    if isinstance(obj, dict):
        try:
            return obj[key]
        except (KeyError, TypeError):
            return missing(obj, key)
    if isinstance(key, str) and key.startswith("_"):
        if isinstance(obj, Undefined):
            undefined_fail(obj)
        raise ExpressionError(f"access to attribute {key!r} is not allowed")
    if isinstance(obj, list | tuple | str | range):
        if isinstance(key, int):
            try:
                return obj[key]
            except IndexError:
                pass
        return missing(obj, key)
    if isinstance(obj, Undefined):
        undefined_fail(obj)
    if isinstance(key, str):
        return get_attr(obj, key)
    return missing(obj, key)


def get_slice(obj: Any, start: Any, stop: Any, step: Any) -> Any:
    if isinstance(obj, Undefined):
        undefined_fail(obj)
    if not isinstance(obj, list | tuple | str | range):
        raise ExpressionError(f"a {type(obj).__name__} cannot be sliced")
    return obj[start:stop:step]


def bounded_replace(s: Any, old: Any, new: Any, count: Any = -1) -> str:
    text, before, after = to_str(s), to_str(old), to_str(new)
    limit = -1 if count is None else int(count)
    n = text.count(before) if before else len(text) + 1
    if limit >= 0:
        n = min(n, limit)
    size = len(text) + n * (len(after) - len(before))
    if size > MAX_STR:
        too_long(size)
    return text.replace(before, after, limit)


def _bounded_join(sep: str, items: Iterable[Any]) -> str:
    parts: list[str] = []
    total = 0
    for item in items:
        text = to_str(item)
        total += len(text) + len(sep)
        if total > MAX_STR + len(sep):
            too_long(total)
        parts.append(text)
    return sep.join(parts)


_STR_METHODS: dict[str, Callable[..., Any]] = {
    name: getattr(str, name)
    for name in (
        "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split",
        "rsplit", "splitlines", "count", "find", "rfind", "title", "capitalize",
        "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper",
    )
}
# Case mappings can lengthen text ("ß".upper() == "SS").
for _name in ("lower", "upper", "title", "capitalize"):
    _STR_METHODS[_name] = (lambda f: lambda s: check_str(f(s)))(getattr(str, _name))
_STR_METHODS["replace"] = bounded_replace
_STR_METHODS["join"] = lambda sep, items: _bounded_join(sep, items)
_DICT_METHODS: dict[str, Callable[..., Any]] = {
    name: getattr(dict, name) for name in ("get", "keys", "values", "items")
}
_LIST_METHODS: dict[str, Callable[..., Any]] = {"count": list.count, "index": list.index}
_TUPLE_METHODS: dict[str, Callable[..., Any]] = {"count": tuple.count, "index": tuple.index}
_DATETIME_METHODS: dict[str, Callable[..., Any]] = {
    name: getattr(datetime, name)
    for name in ("weekday", "isoweekday", "isoformat", "timestamp", "date", "strftime")
}
_DATE_METHODS: dict[str, Callable[..., Any]] = {
    name: getattr(date, name) for name in ("weekday", "isoweekday", "isoformat", "strftime")
}
_TIMEDELTA_METHODS: dict[str, Callable[..., Any]] = {"total_seconds": timedelta.total_seconds}

#: Every method name operator code may call, on some type.
METHOD_NAMES = frozenset(
    (*_STR_METHODS, *_DICT_METHODS, *_LIST_METHODS, *_DATETIME_METHODS, *_TIMEDELTA_METHODS)
)


def _methods_for(obj: Any) -> Mapping[str, Callable[..., Any]] | None:
    if isinstance(obj, str):
        return _STR_METHODS
    if isinstance(obj, dict):
        return _DICT_METHODS
    if isinstance(obj, list):
        return _LIST_METHODS
    if isinstance(obj, tuple):
        return _TUPLE_METHODS
    if isinstance(obj, datetime):
        return _DATETIME_METHODS
    if isinstance(obj, date):
        return _DATE_METHODS
    if isinstance(obj, timedelta):
        return _TIMEDELTA_METHODS
    return None


def method(obj: Any, name: str) -> Callable[..., Any] | None:
    """The whitelisted method ``name`` bound to ``obj``, or None."""
    table = _methods_for(obj)
    impl = table.get(name) if table is not None else None
    return partial(impl, obj) if impl is not None else None


def call_method(obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """``obj.name(*args, **kwargs)`` for whitelisted methods only."""
    table = _methods_for(obj)
    impl = table.get(name) if table is not None else None
    if impl is None:
        if isinstance(obj, Undefined):
            undefined_fail(obj)
        raise ExpressionError(f"a {type(obj).__name__} value has no method {name}()")
    if name == "strftime" and args and len(to_str(args[0])) > 200:
        raise ResourceLimitError("strftime() formats are limited to 200 characters")
    return impl(obj, *args, **kwargs)


# -- filters -----------------------------------------------------------------------------------


def _getter(attribute: Any) -> Callable[[Any], Any]:
    if attribute is None:
        return lambda x: x
    parts = [int(p) if p.isdigit() else p for p in str(attribute).split(".")]

    def get(value: Any) -> Any:
        for part in parts:
            value = get_item(value, part)
        return value

    return get


def _sort_key(attribute: Any, case_sensitive: bool) -> Callable[[Any], Any]:
    get = _getter(attribute)
    if case_sensitive:
        return get
    return lambda x: (v.lower() if isinstance(v := get(x), str) else v)


def f_default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    if isinstance(value, Undefined) or (boolean and not value):
        return default_value
    return value


def f_int(value: Any, default: Any = 0, base: int = 10) -> Any:
    try:
        result = int(value, base) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        try:
            result = int(float(value))
        except (TypeError, ValueError, OverflowError):
            return default
    if result.bit_length() > MAX_INT_BITS:
        too_big()
    return result


def f_float(value: Any, default: Any = 0.0) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return default


def f_first(seq: Any) -> Any:
    for item in seq:
        return item
    return Undefined(hint="no first item: the sequence is empty")


def f_last(seq: Any) -> Any:
    try:
        return next(iter(reversed(seq)))
    except StopIteration:
        return Undefined(hint="no last item: the sequence is empty")
    except TypeError:
        items = list(seq)
        return items[-1] if items else Undefined(hint="no last item: the sequence is empty")


def f_join(value: Any, d: Any = "", attribute: Any = None) -> str:
    get = _getter(attribute)
    return _bounded_join(to_str(d), (get(x) for x in value))


def f_sort(
    value: Any, reverse: bool = False, case_sensitive: bool = False, attribute: Any = None
) -> list[Any]:
    return sorted(value, key=_sort_key(attribute, case_sensitive), reverse=reverse)


def f_unique(value: Any, case_sensitive: bool = False, attribute: Any = None) -> list[Any]:
    key = _sort_key(attribute, case_sensitive)
    seen: set[Any] = set()
    out = []
    for item in value:
        k = key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


def _extreme(
    pick: Callable[..., Any], value: Any, case_sensitive: bool, attribute: Any
) -> Any:
    items = list(value)
    if not items:
        return Undefined(hint="no items: the sequence is empty")
    return pick(items, key=_sort_key(attribute, case_sensitive))


def f_min(value: Any, case_sensitive: bool = False, attribute: Any = None) -> Any:
    return _extreme(min, value, case_sensitive, attribute)


def f_max(value: Any, case_sensitive: bool = False, attribute: Any = None) -> Any:
    return _extreme(max, value, case_sensitive, attribute)


def f_sum(iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    get = _getter(attribute)
    items = [get(x) for x in iterable]
    for item in (start, *items):
        if not isinstance(item, Number):
            raise ExpressionError(f"sum() adds numbers, got {type(item).__name__}")
    total = start
    for item in items:
        total = op_add(total, item)
    return total


def f_truncate(
    s: Any, length: int = 255, killwords: bool = False, end: str = "...", leeway: int | None = None
) -> str:
    text, tail = to_str(s), to_str(end)
    leeway = 5 if leeway is None else leeway
    if length < len(tail) or leeway < 0:
        raise ExpressionError(f"truncate() needs length >= {len(tail)} and leeway >= 0")
    if len(text) <= length + leeway:
        return text
    if killwords:
        return text[: length - len(tail)] + tail
    return text[: length - len(tail)].rsplit(" ", 1)[0] + tail


_WORD = re.compile(r"\w+")

#: The filters of the expression language.
FILTERS: dict[str, Callable[..., Any]] = {
    "length": len,
    "count": len,
    "lower": lambda s: check_str(to_str(s).lower()),
    "upper": lambda s: check_str(to_str(s).upper()),
    "trim": lambda s, chars=None: to_str(s).strip(chars),
    "capitalize": lambda s: check_str(to_str(s).capitalize()),
    "title": lambda s: check_str(do_title(to_str(s))),
    "default": f_default,
    "d": f_default,
    "int": f_int,
    "float": f_float,
    "string": to_str,
    "abs": abs,
    "round": do_round,
    "first": f_first,
    "last": f_last,
    "join": f_join,
    "list": lambda value: list(value),
    "sort": f_sort,
    "unique": f_unique,
    "min": f_min,
    "max": f_max,
    "sum": f_sum,
    "replace": bounded_replace,
    "truncate": f_truncate,
    "wordcount": lambda s: len(_WORD.findall(to_str(s))),
}


# -- tests ---------------------------------------------------------------------------------------


def _iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


#: The tests of the expression language (``x is defined``, ``x is divisibleby 3``...).
TESTS: dict[str, Callable[..., bool]] = {
    "defined": lambda v: not isinstance(v, Undefined),
    "undefined": lambda v: isinstance(v, Undefined),
    "none": lambda v: v is None,
    "boolean": lambda v: v is True or v is False,
    "true": lambda v: v is True,
    "false": lambda v: v is False,
    "number": lambda v: isinstance(v, Number),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, float),
    "string": lambda v: isinstance(v, str),
    "mapping": lambda v: isinstance(v, Mapping),
    "sequence": lambda v: isinstance(v, list | tuple | str | range | dict),
    "iterable": _iterable,
    "lower": lambda v: to_str(v).islower(),
    "upper": lambda v: to_str(v).isupper(),
    "in": lambda v, seq: v in seq,
    "eq": lambda v, o: v == o,
    "equalto": lambda v, o: v == o,
    "ne": lambda v, o: v != o,
    "lt": lambda v, o: v < o,
    "lessthan": lambda v, o: v < o,
    "le": lambda v, o: v <= o,
    "gt": lambda v, o: v > o,
    "greaterthan": lambda v, o: v > o,
    "ge": lambda v, o: v >= o,
    "divisibleby": lambda v, n: v % n == 0,
    "even": lambda v: v % 2 == 0,
    "odd": lambda v: v % 2 == 1,
    "sameas": lambda v, o: v is o,
}


# -- results handed back to the engine ---------------------------------------------------------


def plain(value: Any, depth: int = 0) -> Any:
    """A detached, plain copy of an expression result for action parameters: undefined
    becomes None, views their text, ranges lists, containers are copied."""
    if isinstance(value, Undefined):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if depth > 32:
        raise ResourceLimitError("a value nested more than 32 levels deep")
    if isinstance(value, dict):
        return {k: plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | range):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, MemberView):
        return str(value)
    if isinstance(value, EventView):
        return value.id
    return value


def counted(items: Iterable[Any], tick: Callable[[], None]) -> Iterator[Any]:
    """Iterate ``items``, calling ``tick`` before each one (template loop budgets)."""
    for item in items:
        tick()
        yield item
