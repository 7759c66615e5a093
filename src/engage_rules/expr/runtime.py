"""Run-time support shared by compiled expressions and sandboxed templates.

Everything an operator's expression or template can do to a value at run time goes
through this module: attribute and item access (dictionary keys and a short list of
whitelisted attributes, never an arbitrary ``getattr``), method calls (a whitelist per
type), the operators that can allocate (``+ * ** % ~``, checked *before* allocating), and
the filters and tests of the expression language.  Limits are module constants.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from functools import partial
from numbers import Number
from typing import Any, NoReturn

from jinja2 import Undefined
from jinja2.exceptions import TemplateError
from jinja2.filters import do_round, do_title
from jinja2.runtime import LoopContext

from .._util.reprs import ADDRESS as _ADDRESS
from .._util.reprs import shown as shown
from ..errors import CompileErrors as CompileErrors
from ..errors import ExprCompileError as ExprCompileError
from ..errors import ExpressionError, ResourceLimitError
from ..i18n import _, ngettext
from .context import EVENT_FIELDS, MEMBER_FIELDS, EventView, MemberView
from .uses import Uses as Uses

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
#: Largest precision, either way, the ``round`` filter accepts (digits).
MAX_ROUND_DIGITS = 100
#: Longest set of characters ``trim`` / ``strip()`` may be asked to remove.
MAX_STRIP_CHARS = 256
#: Longest ``strftime()`` format (characters).
MAX_STRFTIME_FORMAT = 200
#: Longest text the ``int`` filter converts (characters): 4,096 binary digits.
MAX_INT_TEXT = MAX_INT_BITS + 2

RelPath = tuple[str | int, ...]


# -- errors ----------------------------------------------------------------------------------


def too_long(size: int) -> NoReturn:
    """Raise the ResourceLimitError for a string of ``size`` characters."""
    raise ResourceLimitError(
        _("a string of {size} characters is longer than the limit of {limit}").format(
            size=size, limit=MAX_STR
        )
    )


def too_many(size: int) -> NoReturn:
    """Raise the ResourceLimitError for a list of ``size`` items."""
    raise ResourceLimitError(
        _("a list of {size} items is longer than the limit of {limit}").format(
            size=size, limit=MAX_ITEMS
        )
    )


def too_big() -> NoReturn:
    """Raise the ResourceLimitError for a number that is too large."""
    raise ResourceLimitError(_("a number larger than {limit} bits").format(limit=MAX_INT_BITS))


def fail(err: BaseException, source: str) -> ExpressionError:
    """The ExpressionError reported for ``err`` raised while evaluating ``source``."""
    if isinstance(err, TemplateError):
        what = err.message or type(err).__name__
    else:
        what = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return ExpressionError(_ADDRESS.sub("", f"{source}: {what}"))


def missing(obj: Any, key: Any) -> Undefined:
    """The undefined value of ``obj[key]`` / ``obj.key`` (Jinja's message)."""
    return Undefined(obj=obj, name=key)


def undefined_fail(value: Undefined) -> NoReturn:
    """Raise the error an undefined value carries (Jinja2's message)."""
    value._fail_with_undefined_error()
    raise AssertionError("unreachable")  # pragma: no cover


# -- sizes and strings ---------------------------------------------------------------------

#: Deepest nesting a value may have when it is printed (or copied into an action).
MAX_NESTING = 32

_ITEMS_VIEW: type[Any] = type({}.items())
_SEQUENCES: tuple[type[Any], ...] = (list, tuple, range, type({}.keys()), type({}.values()))


def cannot_print(value: Any) -> NoReturn:
    """Refuse to turn ``value`` into text: it is not data (a function, a loop...)."""
    if isinstance(value, LoopContext):
        raise ExpressionError(
            _("`loop` cannot be printed; print one of its fields, e.g. `loop.index`")
        )
    if callable(value):
        raise ExpressionError(
            _(
                "a function or method cannot be printed or used as a value; call it, "
                "e.g. `count('checkin')` or `name.upper()`"
            )
        )
    raise ExpressionError(
        _("a value of type {type} cannot be printed").format(type=type(value).__name__)
    )


def _json_scalar(value: Any) -> str | None:
    """The JSON text of a scalar, or None when ``value`` is not one."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None or isinstance(value, Undefined):
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value.bit_length() > 2 * MAX_INT_BITS:
            too_big()
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)  # NaN and Infinity are spelt as JavaScript does
    if isinstance(value, datetime | date | timedelta | MemberView):
        return json.dumps(to_str(value), ensure_ascii=False)
    return None


def event_data(view: EventView) -> dict[str, Any]:
    """The fields of an event view, in :data:`EVENT_FIELDS` order."""
    return {name: getattr(view, name) for name in EVENT_FIELDS}


class _Json:
    """Renders data as JSON text, refusing output longer than :data:`MAX_STR`."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_STR:
            too_long(self.size)
        self.parts.append(text)

    def value(self, value: Any, depth: int) -> None:
        scalar = _json_scalar(value)
        if scalar is not None:
            self.add(scalar)
            return
        if depth > MAX_NESTING:
            raise ResourceLimitError(
                _("a value nested more than {limit} levels deep").format(limit=MAX_NESTING)
            )
        if isinstance(value, EventView):
            value = event_data(value)
        if isinstance(value, dict):
            self.add("{")
            for i, (k, v) in enumerate(value.items()):
                if i:
                    self.add(", ")
                self.add(json.dumps(k if isinstance(k, str) else to_str(k), ensure_ascii=False))
                self.add(": ")
                self.value(v, depth + 1)
            self.add("}")
            return
        if isinstance(value, set | frozenset):
            value = sorted(value, key=lambda v: (type(v).__name__, to_str(v)))
        elif isinstance(value, _ITEMS_VIEW):
            value = [list(pair) for pair in value]
        if isinstance(value, _SEQUENCES):
            self.add("[")
            for i, item in enumerate(value):
                if i:
                    self.add(", ")
                self.value(item, depth + 1)
            self.add("]")
            return
        cannot_print(value)


def to_json(value: Any) -> str:
    """``value`` as JSON text (how containers and events are printed), at most
    :data:`MAX_STR` characters."""
    out = _Json()
    out.value(value, 0)
    return "".join(out.parts)


def to_str(value: Any) -> str:
    """``value`` as a template prints it (docs/language.md, "How values are printed").

    Text as is; undefined as ``""``; numbers, ``True``/``False`` and ``None`` as Jinja2
    prints them; date-times and dates in ISO 8601; durations as ``3 days, 4:00:00``;
    the member as their display name; lists, mappings and the event as JSON.  Nothing
    is printed as a Python ``repr`` (no memory addresses, no ``datetime.datetime(...)``),
    and anything that is not data (a function, a loop object) is an error.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, Undefined):
        return ""
    if value is None or isinstance(value, bool | float):
        return str(value)
    if isinstance(value, int):
        if value.bit_length() > 2 * MAX_INT_BITS:
            too_big()
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, MemberView):
        return str(value)
    return to_json(value)


def text_arg(value: Any) -> str:
    """A text argument of a function as a string (undefined and None as "")."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, Undefined):
        return ""
    return to_str(value)


def check_str(value: str) -> str:
    """``value``, unless it is longer than :data:`MAX_STR`."""
    if len(value) > MAX_STR:
        too_long(len(value))
    return value


# -- operators -------------------------------------------------------------------------------


def op_add(a: Any, b: Any) -> Any:
    """``a + b``, refusing a result over the size limits."""
    if isinstance(a, str) and isinstance(b, str):
        if len(a) + len(b) > MAX_STR:
            too_long(len(a) + len(b))
    elif (
        isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) + len(b) > MAX_ITEMS
    ):
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
    """``a * b``, refusing a result over the size limits."""
    if isinstance(a, int) and isinstance(b, int):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
            too_big()
    elif isinstance(b, int) and isinstance(a, str | list | tuple):
        _check_repeat(a, b)
    elif isinstance(a, int) and isinstance(b, str | list | tuple):
        _check_repeat(b, a)
    return a * b


def op_pow(a: Any, b: Any) -> Any:
    """``a ** b``, refusing an integer over :data:`MAX_INT_BITS`."""
    if (
        isinstance(a, int)
        and isinstance(b, int)
        and b > 0
        and abs(a) > 1
        and (b > MAX_INT_BITS or b * math.log2(abs(a)) > MAX_INT_BITS)
    ):
        too_big()
    return a**b


# One conversion of a %-format: flags, width, precision, conversion type.
_PERCENT = re.compile(r"%(?:\([^)]*\))?([#0 +\-]*)(\*|[0-9]+)?(?:\.(\*|[0-9]*))?[hlL]?(.?)", re.S)
_PERCENT_TYPES = frozenset("sdifFeEgGxXoc%")


def check_format(fmt: str) -> None:
    """Refuse a ``%`` format whose conversions are unsupported or too wide."""
    for m in _PERCENT.finditer(fmt):
        width, precision, kind = m.group(2), m.group(3), m.group(4)
        if kind not in _PERCENT_TYPES:
            raise ExpressionError(
                _("unsupported format conversion {group!r}").format(group=m.group(0))
            )
        for number in (width, precision):
            if number == "*" or (number and (len(number) > 3 or int(number) > MAX_FORMAT_WIDTH)):
                raise ResourceLimitError(
                    _("format widths and precisions are limited to {limit}").format(
                        limit=MAX_FORMAT_WIDTH
                    )
                )


def _format_arg(value: Any) -> Any:
    """A ``%`` argument: numbers as they are (for ``%d``, ``%f``), anything else as
    :func:`to_str` prints it (so ``%s`` prints values exactly as ``{{ }}`` does)."""
    if isinstance(value, int | float):
        if isinstance(value, int) and value.bit_length() > 2 * MAX_INT_BITS:
            too_big()
        return value
    return to_str(value)


def op_mod(a: Any, b: Any) -> Any:
    """``a % b``: the remainder, or ``%`` formatting of text with checked formats."""
    if not isinstance(a, str):
        return a % b
    check_format(a)
    if isinstance(b, tuple):
        args: Any = tuple(_format_arg(x) for x in b)
    elif isinstance(b, dict) and "%(" in a:
        args = {k: _format_arg(v) for k, v in b.items()}
    else:
        args = _format_arg(b)
    return check_str(a % args)


def op_concat(*parts: Any) -> str:
    """The ``~`` operator: the parts as text, joined (at most :data:`MAX_STR`)."""
    strs = [to_str(p) for p in parts]
    total = sum(map(len, strs))
    if total > MAX_STR:
        too_long(total)
    return "".join(strs)


def bounded_range(*args: Any) -> range:
    """``range()`` limited to :data:`MAX_RANGE` items."""
    for a in args:
        if not isinstance(a, int):
            raise ExpressionError(
                _("range() needs whole numbers, got {type}").format(type=type(a).__name__)
            )
    try:
        r = range(*args)
    except (TypeError, ValueError) as err:  # a zero step, too many arguments
        if len(args) == 3 and args[2] == 0:  # (Python's own words, translated)
            raise ExpressionError(_("range() arg 3 must not be zero")) from None
        raise ExpressionError(str(err)) from None
    try:
        n = len(r)
    except OverflowError:
        n = MAX_RANGE + 1
    if n > MAX_RANGE:
        raise ResourceLimitError(_("range() of more than {limit} items").format(limit=MAX_RANGE))
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
        raise ExpressionError(_("access to attribute {name!r} is not allowed").format(name=name))
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
        raise ExpressionError(_("access to attribute {key!r} is not allowed").format(key=key))
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
    """``obj[start:stop:step]`` of a list, tuple, string or range."""
    if isinstance(obj, Undefined):
        undefined_fail(obj)
    if not isinstance(obj, list | tuple | str | range):
        raise ExpressionError(_("a {type} cannot be sliced").format(type=type(obj).__name__))
    return obj[start:stop:step]


def bounded_replace(s: Any, old: Any, new: Any, count: Any = -1) -> str:
    """``s.replace(old, new, count)``, refusing a result over :data:`MAX_STR`."""
    text, before, after = to_str(s), to_str(old), to_str(new)
    _check_count(count)
    limit = -1 if count is None else count
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


def check_strip_chars(chars: Any) -> None:
    """``chars`` of ``trim`` / ``strip()``: None or a short text."""
    if chars is None or isinstance(chars, Undefined):
        return
    if not isinstance(chars, str):
        raise ExpressionError(
            _("the characters to strip must be text, got {type}").format(type=type(chars).__name__)
        )
    if len(chars) > MAX_STRIP_CHARS:
        raise ResourceLimitError(
            _("trim and strip() take at most {limit} characters to remove, got {n}").format(
                limit=MAX_STRIP_CHARS, n=len(chars)
            )
        )


def _stripper(fn: Callable[[str, str | None], str]) -> Callable[..., str]:
    def strip(s: str, chars: Any = None) -> str:
        check_strip_chars(chars)
        return fn(s, None if isinstance(chars, Undefined) else chars)

    return strip


# -- strftime, the same on every machine ---------------------------------------------------

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
#: The directives ``strftime()`` understands (no flags, widths or locale modifiers).
STRFTIME_DIRECTIVES = "aAbBcCdDeFfGgHhIjmMnpRStTuUVwWxXyYzZ%"


def _utc_offset(value: date) -> str:
    """``%z``: ``+HHMM`` (with seconds and microseconds when there are some), or ``""``."""
    offset = value.utcoffset() if isinstance(value, datetime) else None
    if offset is None:
        return ""
    sign = "-" if offset < timedelta(0) else "+"
    hours, rest = divmod(abs(offset), timedelta(hours=1))
    minutes, rest = divmod(rest, timedelta(minutes=1))
    text = f"{sign}{hours:02d}{minutes:02d}"
    if rest:
        text += f"{rest.seconds:02d}" + (f".{rest.microseconds:06d}" if rest.microseconds else "")
    return text


def _strftime_fields(value: date) -> dict[str, str]:
    """What each directive of :data:`STRFTIME_DIRECTIVES` gives for ``value``."""
    hour, minute, second, micro = (
        (value.hour, value.minute, value.second, value.microsecond)
        if isinstance(value, datetime)
        else (0, 0, 0, 0)
    )
    weekday, yday = value.weekday(), value.timetuple().tm_yday
    iso_year, iso_week, iso_day = value.isocalendar()
    day, month = _DAY_NAMES[weekday], _MONTH_NAMES[value.month - 1]
    mdy = f"{value.month:02d}/{value.day:02d}/{value.year % 100:02d}"
    hms = f"{hour:02d}:{minute:02d}:{second:02d}"
    return {
        "a": day[:3],
        "A": day,
        "b": month[:3],
        "h": month[:3],
        "B": month,
        "c": f"{day[:3]} {month[:3]} {value.day:2d} {hms} {value.year}",
        "C": f"{value.year // 100:02d}",
        "d": f"{value.day:02d}",
        "D": mdy,
        "x": mdy,
        "e": f"{value.day:2d}",
        "F": f"{value.year:04d}-{value.month:02d}-{value.day:02d}",
        "f": f"{micro:06d}",
        "G": f"{iso_year:04d}",
        "g": f"{iso_year % 100:02d}",
        "H": f"{hour:02d}",
        "I": f"{hour % 12 or 12:02d}",
        "j": f"{yday:03d}",
        "m": f"{value.month:02d}",
        "M": f"{minute:02d}",
        "n": "\n",
        "p": "AM" if hour < 12 else "PM",
        "R": f"{hour:02d}:{minute:02d}",
        "S": f"{second:02d}",
        "t": "\t",
        "T": hms,
        "X": hms,
        "u": str(iso_day),
        "U": f"{(yday - 1 + 7 - (weekday + 1) % 7) // 7:02d}",
        "V": f"{iso_week:02d}",
        "w": str((weekday + 1) % 7),
        "W": f"{(yday - 1 + 7 - weekday) // 7:02d}",
        "y": f"{value.year % 100:02d}",
        "Y": f"{value.year:04d}",
        "z": _utc_offset(value),
        "Z": (value.tzname() or "") if isinstance(value, datetime) else "",
        "%": "%",
    }


def check_strftime_format(fmt: Any) -> None:
    """Refuse a ``strftime()`` format that is not text, too long, or uses a directive
    outside :data:`STRFTIME_DIRECTIVES` (flags and widths such as ``%-d`` or ``%10Y``
    included)."""
    if not isinstance(fmt, str):
        raise ExpressionError(
            _("strftime() takes a text format, got {type}").format(type=type(fmt).__name__)
        )
    if len(fmt) > MAX_STRFTIME_FORMAT:
        raise ResourceLimitError(
            _("strftime() formats are limited to {limit} characters").format(
                limit=MAX_STRFTIME_FORMAT
            )
        )
    i = fmt.find("%")
    while i >= 0:
        code = fmt[i + 1 : i + 2]
        if not code or code not in STRFTIME_DIRECTIVES:
            shown = fmt[i : i + 2] or "%"
            raise ExpressionError(
                _("strftime(): unsupported directive {shown!r} (the directives are {all})").format(
                    shown=shown, all=", ".join(f"%{c}" for c in STRFTIME_DIRECTIVES)
                )
            )
        i = fmt.find("%", i + 2)


def strftime(value: date, fmt: Any) -> str:
    """``value.strftime(fmt)``, computed here rather than by the C library so that it
    is the same on every machine: English names (as in the C locale), four-digit
    years, no flags or widths."""
    check_strftime_format(fmt)
    fields = _strftime_fields(value)
    out: list[str] = []
    i = 0
    while True:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            return "".join(out)
        out.append(fmt[i:j])
        out.append(fields[fmt[j + 1]])
        i = j + 2


def _timestamp(value: datetime) -> float:
    if value.tzinfo is None:  # would read the machine's time zone
        raise ExpressionError(_("timestamp() needs a date-time with a time zone"))
    return value.timestamp()


_STR_METHODS: dict[str, Callable[..., Any]] = {
    name: getattr(str, name)
    for name in (
        "lower",
        "upper",
        "startswith",
        "endswith",
        "split",
        "rsplit",
        "splitlines",
        "count",
        "find",
        "rfind",
        "title",
        "capitalize",
        "isdigit",
        "isalpha",
        "isalnum",
        "isspace",
        "islower",
        "isupper",
    )
}
# Case mappings can lengthen text ("ß".upper() == "SS").
for _name in ("lower", "upper", "title", "capitalize"):
    _STR_METHODS[_name] = (lambda f: lambda s: check_str(f(s)))(getattr(str, _name))
_STR_METHODS["strip"] = _stripper(str.strip)
_STR_METHODS["lstrip"] = _stripper(str.lstrip)
_STR_METHODS["rstrip"] = _stripper(str.rstrip)
_STR_METHODS["replace"] = bounded_replace
_STR_METHODS["join"] = lambda sep, items: _bounded_join(sep, items)
_DICT_METHODS: dict[str, Callable[..., Any]] = {
    name: getattr(dict, name) for name in ("get", "keys", "values", "items")
}
_LIST_METHODS: dict[str, Callable[..., Any]] = {"count": list.count, "index": list.index}
_TUPLE_METHODS: dict[str, Callable[..., Any]] = {"count": tuple.count, "index": tuple.index}
_DATETIME_METHODS: dict[str, Callable[..., Any]] = {
    "weekday": datetime.weekday,
    "isoweekday": datetime.isoweekday,
    "isoformat": datetime.isoformat,
    "timestamp": _timestamp,
    "date": datetime.date,
    "strftime": strftime,
}
_DATE_METHODS: dict[str, Callable[..., Any]] = {
    "weekday": date.weekday,
    "isoweekday": date.isoweekday,
    "isoformat": date.isoformat,
    "strftime": strftime,
}
_TIMEDELTA_METHODS: dict[str, Callable[..., Any]] = {"total_seconds": timedelta.total_seconds}

#: Checks of the arguments of methods, run before the call (and at load time on the
#: arguments known then): method name -> (parameter index -> check).
METHOD_ARG_CHECKS: dict[str, dict[int, Callable[[Any], None]]] = {
    "strftime": {0: check_strftime_format},
    "strip": {0: check_strip_chars},
    "lstrip": {0: check_strip_chars},
    "rstrip": {0: check_strip_chars},
}

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
        raise ExpressionError(
            _("a {type} value has no method {name}()").format(type=type(obj).__name__, name=name)
        )
    return impl(obj, *args, **kwargs)


# -- filters -----------------------------------------------------------------------------------


def check_attribute(attribute: Any) -> None:
    """``attribute=`` of ``join``, ``sort``, ``sum``...: a dotted path of at most
    :data:`MAX_NESTING` keys, or an index."""
    if attribute is None or isinstance(attribute, Undefined):
        return
    if isinstance(attribute, bool) or not isinstance(attribute, str | int):
        raise ExpressionError(
            _("attribute= takes a key such as 'name' or 'user.name', got {type}").format(
                type=type(attribute).__name__
            )
        )
    if isinstance(attribute, str) and attribute.count(".") >= MAX_NESTING:
        raise ResourceLimitError(
            _("attribute= paths are limited to {limit} keys").format(limit=MAX_NESTING)
        )


def _getter(attribute: Any) -> Callable[[Any], Any]:
    check_attribute(attribute)
    if attribute is None or isinstance(attribute, Undefined):
        return lambda x: x
    parts: list[str | int] = [
        int(p) if p.isascii() and p.isdigit() and len(p) < 19 else p
        for p in str(attribute).split(".")
    ]

    def get(value: Any) -> Any:
        for part in parts:
            value = get_item(value, part)
        return value

    return get


def _sort_key(attribute: Any, case_sensitive: bool) -> Callable[[Any], Any]:
    get = _getter(attribute)
    if case_sensitive:
        return get
    return lambda x: v.lower() if isinstance(v := get(x), str) else v


def f_default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """The ``default`` filter."""
    if isinstance(value, Undefined) or (boolean and not value):
        return default_value
    return value


def check_int_base(base: Any) -> None:
    """Check the base of the ``int`` filter (0, or 2 to 36)."""
    if isinstance(base, bool) or not isinstance(base, int) or not (base == 0 or 2 <= base <= 36):
        raise ExpressionError(
            _("the base of `int` is 0 or from 2 to 36, got {got}").format(got=shown(base))
        )


def f_int(value: Any, default: Any = 0, base: int = 10) -> Any:
    """The ``int`` filter, refusing text too long to convert."""
    check_int_base(base)
    # (converting text to a number takes time that grows with the square of its length)
    if isinstance(value, str) and len(value) > MAX_INT_TEXT and len(value.strip()) > MAX_INT_TEXT:
        too_big()
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
    """The ``float`` filter."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return default


def f_first(seq: Any) -> Any:
    """The ``first`` filter (undefined for an empty sequence)."""
    for item in seq:
        return item
    return Undefined(hint="no first item: the sequence is empty")


def f_last(seq: Any) -> Any:
    """The ``last`` filter (undefined for an empty sequence)."""
    try:
        return next(iter(reversed(seq)))
    except StopIteration:
        return Undefined(hint="no last item: the sequence is empty")
    except TypeError:
        items = list(seq)
        return items[-1] if items else Undefined(hint="no last item: the sequence is empty")


def f_join(value: Any, d: Any = "", attribute: Any = None) -> str:
    """The ``join`` filter, refusing a result over :data:`MAX_STR`."""
    get = _getter(attribute)
    return _bounded_join(to_str(d), (get(x) for x in value))


def f_sort(
    value: Any, reverse: bool = False, case_sensitive: bool = False, attribute: Any = None
) -> list[Any]:
    """The ``sort`` filter."""
    return sorted(value, key=_sort_key(attribute, case_sensitive), reverse=reverse)


def f_unique(value: Any, case_sensitive: bool = False, attribute: Any = None) -> list[Any]:
    """The ``unique`` filter: the first of each item, in order."""
    key = _sort_key(attribute, case_sensitive)
    seen: set[Any] = set()
    out = []
    for item in value:
        k = key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


def _extreme(pick: Callable[..., Any], value: Any, case_sensitive: bool, attribute: Any) -> Any:
    items = list(value)
    if not items:
        return Undefined(hint="no items: the sequence is empty")
    return pick(items, key=_sort_key(attribute, case_sensitive))


def f_min(value: Any, case_sensitive: bool = False, attribute: Any = None) -> Any:
    """The ``min`` filter."""
    return _extreme(min, value, case_sensitive, attribute)


def f_max(value: Any, case_sensitive: bool = False, attribute: Any = None) -> Any:
    """The ``max`` filter."""
    return _extreme(max, value, case_sensitive, attribute)


def f_sum(iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    """The ``sum`` filter (numbers only)."""
    get = _getter(attribute)
    items = [get(x) for x in iterable]
    for item in (start, *items):
        if not isinstance(item, Number):
            raise ExpressionError(
                _("sum() adds numbers, got {type}").format(type=type(item).__name__)
            )
    total = start
    for item in items:
        total = op_add(total, item)
    return total


def f_truncate(
    s: Any, length: int = 255, killwords: bool = False, end: str = "...", leeway: int | None = None
) -> str:
    """The ``truncate`` filter, with checked lengths."""
    text, tail = to_str(s), to_str(end)
    _check_length("length")(length)
    _check_length("leeway")(leeway)
    leeway = 5 if leeway is None else leeway
    if length < len(tail) or leeway < 0:
        raise ExpressionError(
            _("truncate() needs length >= {n} and leeway >= 0").format(n=len(tail))
        )
    if len(text) <= length + leeway:
        return text
    if killwords:
        return text[: length - len(tail)] + tail
    return text[: length - len(tail)].rsplit(" ", 1)[0] + tail


def check_round_precision(precision: Any) -> None:
    """Check the precision of the ``round`` filter."""
    if isinstance(precision, bool) or not isinstance(precision, int):
        raise ExpressionError(
            _("the precision of `round` must be a whole number, got {type}").format(
                type=type(precision).__name__
            )
        )
    if abs(precision) > MAX_ROUND_DIGITS:
        raise ResourceLimitError(
            _(
                "the precision of `round` is {precision}, beyond the limit of ±{limit} digits"
            ).format(precision=precision, limit=MAX_ROUND_DIGITS)
        )


def check_round_method(method: Any) -> None:
    """Check the method of the ``round`` filter (common, ceil or floor)."""
    if method not in ("common", "ceil", "floor"):
        raise ExpressionError(
            _("the method of `round` is common, ceil or floor, got {got}").format(got=shown(method))
        )


def f_round(value: Any, precision: Any = 0, method: Any = "common") -> Any:
    """The ``round`` filter (numbers only)."""
    check_round_precision(precision)
    check_round_method(method)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(
            _("`round` needs a number, got {type}").format(type=type(value).__name__)
        )
    return do_round(value, precision, method)


def f_trim(s: Any, chars: Any = None) -> str:
    """The ``trim`` filter."""
    check_strip_chars(chars)
    return to_str(s).strip(None if isinstance(chars, Undefined) else chars)


def _check_length(what: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value is None and what == "leeway":
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ExpressionError(
                _("the {what} of `truncate` must be a whole number >= 0, got {got}").format(
                    what=what, got=shown(value)
                )
            )

    return check


def _check_count(value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ExpressionError(
            _("the count of `replace` must be a whole number, got {got}").format(got=shown(value))
        )


_WORD = re.compile(r"\w+")

#: The filters of the expression language.
FILTERS: dict[str, Callable[..., Any]] = {
    "length": len,
    "count": len,
    "lower": lambda s: check_str(to_str(s).lower()),
    "upper": lambda s: check_str(to_str(s).upper()),
    "trim": f_trim,
    "capitalize": lambda s: check_str(to_str(s).capitalize()),
    "title": lambda s: check_str(do_title(to_str(s))),
    "default": f_default,
    "d": f_default,
    "int": f_int,
    "float": f_float,
    "string": to_str,
    "abs": abs,
    "round": f_round,
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

#: The parameters of each filter after the value filtered, in order.
FILTER_PARAMS: dict[str, tuple[str, ...]] = {
    "length": (),
    "count": (),
    "lower": (),
    "upper": (),
    "trim": ("chars",),
    "capitalize": (),
    "title": (),
    "default": ("default_value", "boolean"),
    "d": ("default_value", "boolean"),
    "int": ("default", "base"),
    "float": ("default",),
    "string": (),
    "abs": (),
    "round": ("precision", "method"),
    "first": (),
    "last": (),
    "join": ("d", "attribute"),
    "list": (),
    "sort": ("reverse", "case_sensitive", "attribute"),
    "unique": ("case_sensitive", "attribute"),
    "min": ("case_sensitive", "attribute"),
    "max": ("case_sensitive", "attribute"),
    "sum": ("attribute", "start"),
    "replace": ("old", "new", "count"),
    "truncate": ("length", "killwords", "end", "leeway"),
    "wordcount": (),
}

#: Checks of filter arguments that bound the work a filter does, run by the filter
#: and, on the arguments known at load time, by the compiler: filter -> parameter -> check.
FILTER_ARG_CHECKS: dict[str, dict[str, Callable[[Any], None]]] = {
    "round": {"precision": check_round_precision, "method": check_round_method},
    "trim": {"chars": check_strip_chars},
    "int": {"base": check_int_base},
    "truncate": {"length": _check_length("length"), "leeway": _check_length("leeway")},
    "replace": {"count": _check_count},
    **{
        name: {"attribute": check_attribute}
        for name in ("join", "sort", "unique", "min", "max", "sum")
    },
}


def check_filter_call(
    name: str, args: list[tuple[bool, Any]], kwargs: dict[str, tuple[bool, Any]]
) -> None:
    """Check a call of filter ``name`` at load time: the number and names of its
    arguments, and the bounds of those known then (``(static, value)`` pairs).  Raises
    ExpressionError with a message for the operator."""
    params = FILTER_PARAMS[name]
    if len(args) > len(params):
        raise ExpressionError(
            ngettext(
                "the `{name}` filter takes at most {n} argument ({given} given)",
                "the `{name}` filter takes at most {n} arguments ({given} given)",
                len(params),
            ).format(name=name, n=len(params), given=len(args))
        )
    named = dict(zip(params, args, strict=False))
    for key, arg in kwargs.items():
        if key not in params:
            known = ", ".join(params) or "none"
            raise ExpressionError(
                _("the `{name}` filter has no parameter `{key}` (its parameters: {known})").format(
                    name=name, key=key, known=known
                )
            )
        if key in named:
            raise ExpressionError(
                _("the `{name}` filter got `{key}` twice").format(name=name, key=key)
            )
        named[key] = arg
    checks = FILTER_ARG_CHECKS.get(name, {})
    for key, (static, value) in named.items():
        if static and key in checks:
            checks[key](value)


def check_method_call(name: str, args: list[tuple[bool, Any]]) -> None:
    """Check the arguments known at load time of a call of method ``name``."""
    for index, check in METHOD_ARG_CHECKS.get(name, {}).items():
        if index < len(args) and args[index][0]:
            check(args[index][1])


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
    becomes None, the member their name, the event its id, ranges and dictionary views
    lists, containers are copied; date-times, dates and durations stay as they are.
    Anything else (a function, a loop object) is an ExpressionError."""
    if isinstance(value, Undefined):
        return None
    if isinstance(value, str | int | float | bool | datetime | date | timedelta) or value is None:
        return value
    if depth > MAX_NESTING:
        raise ResourceLimitError(
            _("a value nested more than {limit} levels deep").format(limit=MAX_NESTING)
        )
    if isinstance(value, dict):
        return {k: plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        value = sorted(value, key=lambda v: (type(v).__name__, to_str(v)))
    elif isinstance(value, _ITEMS_VIEW):
        value = [list(pair) for pair in value]
    if isinstance(value, _SEQUENCES):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, MemberView):
        return str(value)
    if isinstance(value, EventView):
        return value.id
    cannot_print(value)


def counted(items: Iterable[Any], tick: Callable[[], None]) -> Iterator[Any]:
    """Iterate ``items``, calling ``tick`` before each one (template loop budgets)."""
    for item in items:
        tick()
        yield item
