"""The functions expressions and templates can call (DESIGN.md §5.2), and their registry.

A function is described by a :class:`FunctionSpec`: the Python callable (it receives the
:class:`~engage_rules.context.EvalContext` first, then the operator's arguments), the
names of its parameters, and an optional *checker* run at load time.  The checker sees
which arguments are known at load time (literals and ``vars.*``), may reject the call
with a ``ValueError`` (reported as a compile error), may record what the engine must
keep (:class:`~engage_rules.expr_runtime.Uses`), and may return prepared replacements
for arguments (a parsed window, a compiled RE2 pattern, a word matcher) that the
compiled expression passes instead of the original value.  Every function also accepts
the raw form of its arguments, because templates call them without that preparation.

:data:`BUILTIN_FUNCTIONS` are the core's functions; the built-in plugin registers them
through the ``register_functions`` hook, plugins register theirs the same way, and the
plugin manager fills :data:`FUNCTIONS`, the table every compiler looks calls up in
(:func:`function_registry`).  A compiler's ``functions=`` argument adds more for one
compilation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from difflib import get_close_matches
from functools import lru_cache
from typing import Any

import re2
from jinja2 import Undefined

from . import textnorm
from .context import ROOT_NAMES, EvalContext
from .durations import parse_duration
from .errors import ExpressionError, ResourceLimitError
from .expr_runtime import Uses, bounded_range, to_str

__all__ = [
    "BUILTIN_FUNCTIONS",
    "FUNCTIONS",
    "MAX_PATTERN_LENGTH",
    "ArgInfo",
    "CallSite",
    "FunctionSpec",
    "compile_pattern",
    "function_registry",
    "register_function",
]

#: Longest pattern ``matches()`` accepts.
MAX_PATTERN_LENGTH = 1000
#: Most words a word list built at run time (from event data) may hold.
MAX_RUNTIME_WORDS = 1000
#: Memory RE2 may use for one compiled pattern.
_PATTERN_MAX_MEM = 8 << 20


@dataclass(frozen=True)
class ArgInfo:
    """One argument of a call, as the compiler knows it at load time."""

    #: True when the value is known at load time (a literal, or a ``vars`` entry).
    static: bool
    #: The value, when ``static``.
    value: Any = None
    #: True when written as a literal in the expression (not taken from ``vars``).
    literal: bool = False


@dataclass
class CallSite:
    """A call being compiled, handed to a function's checker."""

    name: str
    args: list[ArgInfo]
    kwargs: dict[str, ArgInfo]
    uses: Uses
    vars: Mapping[str, Any] = field(default_factory=dict)

    def arg(self, index: int, name: str) -> tuple[int | str, ArgInfo] | None:
        """The argument for parameter ``name`` (position ``index``) and its key, if given."""
        if index < len(self.args):
            return index, self.args[index]
        if name in self.kwargs:
            return name, self.kwargs[name]
        return None


Checker = Callable[[CallSite], Mapping[int | str, Any] | None]


@dataclass(frozen=True)
class FunctionSpec:
    """A function of the expression language."""

    name: str
    #: ``fn(c, *args, **kwargs)``; ``c`` is the EvalContext (None when ``pure``).
    fn: Callable[..., Any]
    #: Parameter names in order, checked at load time; None accepts anything.
    params: tuple[str, ...] | None = None
    #: How many of ``params`` are required.
    required: int = 0
    #: Load-time checker (see the module docs).
    check: Checker | None = None
    #: The function sets ``c.match`` when it finds something (a detector).
    sets_match: bool = False
    #: The result depends only on the arguments: calls with literal arguments are
    #: evaluated once, at load time.
    pure: bool = False
    doc: str = ""

    def bind(self, site: CallSite) -> None:
        """Check the number and names of the arguments; raise ValueError if wrong."""
        params = self.params
        if params is None:
            return
        if len(site.args) > len(params):
            raise ValueError(
                f"{self.name}() takes at most {len(params)} argument"
                f"{'' if len(params) == 1 else 's'} ({len(site.args)} given)"
            )
        for key in site.kwargs:
            if key not in params:
                hint = get_close_matches(key, params, n=1)
                extra = f"; did you mean `{hint[0]}`?" if hint else ""
                raise ValueError(f"{self.name}() has no parameter `{key}`{extra}")
            if params.index(key) < len(site.args):
                raise ValueError(f"{self.name}() got `{key}` twice")
        for i, name in enumerate(params[: self.required]):
            if i >= len(site.args) and name not in site.kwargs:
                raise ValueError(f"{self.name}() needs the argument `{name}`")


# -- helpers ---------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _parse_window(text: str) -> float:
    return parse_duration(text).total_seconds()


def window_seconds(window: Any) -> float:
    """A window given as seconds (prepared at load time) or as a duration string."""
    if isinstance(window, float | int) and not isinstance(window, bool):
        return float(window)
    if isinstance(window, str):
        try:
            return _parse_window(window)
        except ValueError as err:
            raise ExpressionError(str(err)) from None
    raise ExpressionError(f"a window must be a duration such as '7d', got {window!r}")


def _literal_window(site: CallSite, arg: ArgInfo) -> float:
    if not arg.literal or not isinstance(arg.value, str):
        raise ValueError(
            f"{site.name}(): the window must be a quoted duration such as '7d' or '10m', "
            "written in the expression (the engine keeps only the history that "
            "literal windows need)"
        )
    try:
        return _parse_window(arg.value)
    except ValueError as err:
        raise ValueError(f"{site.name}(): {err}") from None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, Undefined):
        return ""
    return to_str(value)


def compile_pattern(pattern: str) -> Any:
    """Compile ``pattern`` with RE2, or raise ValueError with a clear message."""
    if "\b" in pattern:
        raise ValueError(
            "the pattern contains a backspace character: inside a quoted string `\\b` "
            "means backspace, so write a word boundary as `\\\\b`"
        )
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(
            f"the pattern is {len(pattern)} characters long; the limit is {MAX_PATTERN_LENGTH}"
        )
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _PATTERN_MAX_MEM
    try:
        return re2.compile(pattern, options)
    except re2.error as err:
        reason = err.args[0] if err.args else err
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(
            f"the pattern {pattern!r} cannot be used: {reason} (patterns run on RE2, which "
            "guarantees linear time and so has no look-arounds or back-references)"
        ) from None


@lru_cache(maxsize=128)
def _runtime_pattern(pattern: str) -> Any:
    try:
        return compile_pattern(pattern)
    except ValueError as err:
        raise ExpressionError(f"matches(): {err}") from None


def _words(value: Any) -> tuple[str, ...]:
    if value is None or isinstance(value, Undefined):
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        for w in value:
            if not isinstance(w, str):
                raise ValueError(f"contains_any(): the words must be strings, got {w!r}")
        return tuple(value)
    raise ValueError(f"contains_any(): the words must be a list of strings, got {value!r}")


def _runtime_matcher(value: Any) -> textnorm.WordMatcher:
    try:
        words = _words(value)
    except ValueError as err:
        raise ExpressionError(str(err)) from None
    if len(words) > MAX_RUNTIME_WORDS:
        raise ResourceLimitError(
            f"contains_any(): {len(words)} words given at run time; the limit is "
            f"{MAX_RUNTIME_WORDS} (word lists written in the playbook have no limit)"
        )
    return textnorm.word_matcher(words)


# -- the built-in functions -------------------------------------------------------------------


def fn_count(c: EvalContext, type_: Any, within: Any = None) -> int:
    m = c.m
    if m is None:
        return 0
    if within is None:
        return m.counts.get(type_, 0)
    return m.count_within(type_, c.now_ts, window_seconds(within))


def check_count(site: CallSite) -> Mapping[int | str, Any] | None:
    type_arg = site.arg(0, "type")
    if type_arg is None or not type_arg[1].static or not isinstance(type_arg[1].value, str):
        raise ValueError(
            "count(): the event type must be a quoted name, e.g. count('message.posted')"
        )
    type_ = type_arg[1].value
    window = site.arg(1, "within")
    if window is None or (window[1].static and window[1].value is None):
        site.uses.count(type_, None)
        return None
    seconds = _literal_window(site, window[1])
    site.uses.count(type_, seconds)
    return {window[0]: seconds}


_DEFAULT_DUPLICATES_WINDOW = 600.0


def fn_duplicates(c: EvalContext, within: Any = _DEFAULT_DUPLICATES_WINDOW) -> int:
    m = c.m
    if m is None:
        return 0
    text = c.event.data.get("text")
    if not isinstance(text, str):
        return 0
    fp = textnorm.fingerprint(text)
    now = c.now_ts
    horizon = now - window_seconds(within)
    return sum(1 for at, f in m.texts if f == fp and horizon < at <= now)


def check_duplicates(site: CallSite) -> Mapping[int | str, Any] | None:
    window = site.arg(0, "within")
    if window is None:
        site.uses.duplicates(_DEFAULT_DUPLICATES_WINDOW)
        return None
    seconds = _literal_window(site, window[1])
    site.uses.duplicates(seconds)
    return {window[0]: seconds}


def fn_contains_any(c: EvalContext, text: Any, words: Any) -> str:
    matcher = words if isinstance(words, textnorm.WordMatcher) else _runtime_matcher(words)
    found = matcher.search(_text(text))
    if found:
        c.match = found
    return found


def check_contains_any(site: CallSite) -> Mapping[int | str, Any] | None:
    words = site.arg(1, "words")
    if words is None or not words[1].static:
        return None
    return {words[0]: textnorm.word_matcher(_words(words[1].value))}


def fn_matches(c: EvalContext, text: Any, pattern: Any) -> Any:
    regex = _runtime_pattern(pattern) if isinstance(pattern, str) else pattern
    m = regex.search(_text(text))
    if m is None:
        return ""
    found = m.group(0)
    c.match = found
    return found or True


def check_matches(site: CallSite) -> Mapping[int | str, Any] | None:
    pattern = site.arg(1, "pattern")
    if pattern is None or not pattern[1].literal or not isinstance(pattern[1].value, str):
        raise ValueError(
            "matches(): the pattern must be a quoted regular expression written in the "
            "expression, e.g. matches(event.data.text, '(?i)free\\s+money')"
        )
    return {pattern[0]: compile_pattern(pattern[1].value)}


def _detector(find: Callable[[str], list[str]]) -> Callable[[EvalContext, Any], list[str]]:
    def detect(c: EvalContext, text: Any) -> list[str]:
        found = find(_text(text))
        if found:
            c.match = found[0]
        return found

    detect.__name__ = find.__name__
    return detect


def fn_caps_ratio(c: EvalContext, text: Any) -> float:
    return textnorm.caps_ratio(_text(text))


def _span(unit: str) -> Callable[[Any, Any], timedelta]:
    def span(c: Any, n: Any) -> timedelta:
        if isinstance(n, bool) or not isinstance(n, int | float):
            raise ExpressionError(f"{unit}() needs a number, got {type(n).__name__}")
        try:
            return timedelta(**{unit: n})
        except OverflowError:
            raise ExpressionError(f"{unit}({n}) is out of range") from None

    return span


@dataclass
class SegmentScope:
    """The segments of the playbook being compiled (set by the compiler around
    compilation, see :data:`SEGMENT_SCOPE`), and the names each call refers to."""

    names: frozenset[str]
    #: Segment names referred to by the expressions compiled since the last reset.
    refs: set[str] = field(default_factory=set)


#: The segments ``segment('name')`` may name while a playbook is compiled.
SEGMENT_SCOPE: ContextVar[SegmentScope | None] = ContextVar("segment_scope", default=None)


def fn_segment(c: EvalContext, name: Any) -> bool:
    engine = c.engine
    segments = engine.playbook.segments if engine is not None else {}
    fn = segments.get(name) if isinstance(name, str) else None
    if fn is None:
        raise ExpressionError(f"segment(): unknown segment {name!r}")
    return bool(fn(c))


def check_segment(site: CallSite) -> Mapping[int | str, Any] | None:
    arg = site.arg(0, "name")
    if arg is None or not arg[1].literal or not isinstance(arg[1].value, str):
        raise ValueError("segment(): the segment name must be quoted, e.g. segment('core')")
    name = arg[1].value
    scope = SEGMENT_SCOPE.get()
    known = scope.names if scope is not None else frozenset()
    if name not in known:
        hint = get_close_matches(name, sorted(known), n=1)
        if hint:
            extra = f"; did you mean {hint[0]!r}?"
        elif known:
            extra = f" (segments: {', '.join(sorted(known))})"
        else:
            extra = " (the playbook has no `segments:` section)"
        raise ValueError(f"segment(): unknown segment {name!r}{extra}")
    assert scope is not None
    scope.refs.add(name)
    return None


def fn_range(c: Any, *args: Any) -> range:
    return bounded_range(*args)


def _spec(name: str, fn: Callable[..., Any], params: tuple[str, ...], required: int,
          **kw: Any) -> FunctionSpec:
    return FunctionSpec(name, fn, params, required, **kw)


#: The functions every playbook can use.
BUILTIN_FUNCTIONS: dict[str, FunctionSpec] = {
    s.name: s
    for s in (
        _spec("count", fn_count, ("type", "within"), 1, check=check_count,
              doc="this member's events of a type, in a window or ever"),
        _spec("duplicates", fn_duplicates, ("within",), 0, check=check_duplicates,
              doc="how often this member posted the current text in the window"),
        _spec("contains_any", fn_contains_any, ("text", "words"), 2,
              check=check_contains_any, sets_match=True,
              doc="the first listed word found in the text, or ''"),
        _spec("matches", fn_matches, ("text", "pattern"), 2, check=check_matches,
              sets_match=True, doc="the text the RE2 pattern matched, or ''"),
        _spec("links", _detector(textnorm.links), ("text",), 1, sets_match=True,
              doc="the URLs in the text"),
        _spec("domains", _detector(textnorm.domains), ("text",), 1, sets_match=True,
              doc="the distinct host names linked from the text"),
        _spec("mentions", _detector(textnorm.mentions), ("text",), 1, sets_match=True,
              doc="the @mentions in the text"),
        _spec("caps_ratio", fn_caps_ratio, ("text",), 1,
              doc="the share of cased letters that are capitals"),
        _spec("days", _span("days"), ("n",), 1, pure=True, doc="a duration of n days"),
        _spec("hours", _span("hours"), ("n",), 1, pure=True, doc="a duration of n hours"),
        _spec("minutes", _span("minutes"), ("n",), 1, pure=True,
              doc="a duration of n minutes"),
        _spec("range", fn_range, ("start", "stop", "step"), 1, pure=True,
              doc="a range of at most 10,000 whole numbers"),
        _spec("segment", fn_segment, ("name",), 1, check=check_segment,
              doc="whether the member is in the named segment (`segments:`)"),
    )
}


#: Every registered function, by name: filled by the plugin manager through the
#: ``register_functions`` hook (:func:`engage_rules.plugins.registry`).
FUNCTIONS: dict[str, FunctionSpec] = {}


def _check_name(name: str, spec: FunctionSpec) -> None:
    if name != spec.name or not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"invalid function name {name!r}")
    if name in ROOT_NAMES:
        raise ValueError(f"a function cannot be named {name!r}: that name is taken")


def register_function(spec: FunctionSpec) -> None:
    """Add ``spec`` to :data:`FUNCTIONS` (the ``register_functions`` hook calls this)."""
    _check_name(spec.name, spec)
    if FUNCTIONS.get(spec.name, spec) is not spec:
        raise ValueError(f"function {spec.name!r} is registered twice")
    FUNCTIONS[spec.name] = spec


def function_registry(extra: Mapping[str, FunctionSpec] | None = None) -> dict[str, FunctionSpec]:
    """The registered functions (built-in and plugins'), plus (and overridden by) ``extra``."""
    from .plugins import registry

    registry()  # the plugins' functions are registered on first use
    if not extra:
        return FUNCTIONS
    for name, spec in extra.items():
        _check_name(name, spec)
    return {**FUNCTIONS, **extra}
