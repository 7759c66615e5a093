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

Plugins add functions by building a FunctionSpec and passing it to the compilers'
``functions=`` argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from difflib import get_close_matches
from functools import lru_cache
from typing import Any

import re2
from jinja2 import Undefined

from . import classifiers, linkcheck, textnorm, wordmatch
from . import lexicon as _lexicon  # noqa: F401  (registers the built-in classifier)
from .context import ROOT_NAMES, EvalContext
from .durations import parse_duration
from .errors import ExpressionError, ResourceLimitError
from .expr_runtime import Uses, bounded_range, to_str

__all__ = [
    "BUILTIN_FUNCTIONS",
    "MAX_PATTERNS",
    "MAX_PATTERNS_PER_CALL",
    "MAX_PATTERN_LENGTH",
    "ArgInfo",
    "CallSite",
    "FunctionSpec",
    "compile_pattern",
    "function_registry",
]

#: Longest pattern ``matches()`` accepts.
MAX_PATTERN_LENGTH = 1000
#: Most patterns one ``matches()`` call may be given as a list.
MAX_PATTERNS_PER_CALL = 100
#: Most patterns a whole playbook may use (checked by the compiler).
MAX_PATTERNS = 1000
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


def _match_groups(regex: Any) -> tuple[str, ...]:
    """The names of a program's `match` groups (``match``, or ``match_N`` once several
    patterns are combined)."""
    index = getattr(regex, "groupindex", None)
    if not index:
        return ()
    return tuple(n for n in index if n == "match" or n.startswith("match_"))


def compile_patterns(patterns: list[str] | tuple[str, ...]) -> Any:
    """One RE2 program matching any of ``patterns`` (each checked as by
    :func:`compile_pattern`), or raise ValueError naming the bad one."""
    if not patterns:
        raise ValueError("the list of patterns is empty")
    if len(patterns) > MAX_PATTERNS_PER_CALL:
        raise ValueError(
            f"{len(patterns)} patterns in one call; the limit is {MAX_PATTERNS_PER_CALL}"
        )
    for i, p in enumerate(patterns):
        if not isinstance(p, str):
            raise ValueError(f"pattern #{i + 1} is not a string: {p!r}")
        try:
            compile_pattern(p)
        except ValueError as err:
            raise ValueError(f"pattern #{i + 1}: {err}") from None
    if len(patterns) == 1:
        return compile_pattern(patterns[0])
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _PATTERN_MAX_MEM * 4
    try:
        # Each pattern may name a `match` group: numbered apart once combined.
        return re2.compile("|".join(
            "(?:" + p.replace("(?P<match>", f"(?P<match_{i}>") + ")"
            for i, p in enumerate(patterns)), options)
    except re2.error:
        raise ValueError(
            "together the patterns are too large for one program; split them "
            "over several matches() calls"
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


def _runtime_matcher(value: Any) -> wordmatch.WordMatcher:
    try:
        words = _words(value)
    except ValueError as err:
        raise ExpressionError(str(err)) from None
    if len(words) > MAX_RUNTIME_WORDS:
        raise ResourceLimitError(
            f"contains_any(): {len(words)} words given at run time; the limit is "
            f"{MAX_RUNTIME_WORDS} (word lists written in the playbook have no limit)"
        )
    return wordmatch.word_matcher(words)


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
    matcher = words if isinstance(words, wordmatch.WordMatcher) else _runtime_matcher(words)
    found = matcher.search(_text(text))
    if found:
        c.match = found
    return found


def check_contains_any(site: CallSite) -> Mapping[int | str, Any] | None:
    words = site.arg(1, "words")
    if words is None or not words[1].static:
        return None
    return {words[0]: wordmatch.word_matcher(_words(words[1].value))}


def fn_matches(c: EvalContext, text: Any, pattern: Any) -> Any:
    regex = _runtime_pattern(pattern) if isinstance(pattern, str) else pattern
    m = regex.search(_text(text))
    if m is None:
        return ""
    # A group named `match` (e.g. `\\D(?P<match>1\\d{10})\\D`) says what `match` holds.
    found = None
    names = _match_groups(regex)
    if names:
        found = next((g for g in (m.group(n) for n in names) if g), None)
    if found is None:
        found = m.group(0)
    c.match = found
    return found or True


def check_matches(site: CallSite) -> Mapping[int | str, Any] | None:
    pattern = site.arg(1, "pattern")
    value = pattern[1].value if pattern is not None and pattern[1].static else None
    if pattern is None or not isinstance(value, str | list | tuple):
        raise ValueError(
            "matches(): the pattern must be a quoted regular expression written in the "
            "expression, e.g. matches(event.data.text, '(?i)free\\s+money'), or a list "
            "of them (literal or from `vars`)"
        )
    if isinstance(value, str):
        site.uses.patterns += 1
        return {pattern[0]: compile_pattern(value)}
    try:
        compiled = compile_patterns(list(value))
    except ValueError as err:
        raise ValueError(f"matches(): {err}") from None
    site.uses.patterns += len(value)
    return {pattern[0]: compiled}


def _detector(find: Callable[[str], list[str]]) -> Callable[[EvalContext, Any], list[str]]:
    def detect(c: EvalContext, text: Any) -> list[str]:
        found = find(_text(text))
        if found:
            c.match = found[0]
        return found

    detect.__name__ = find.__name__
    return detect


def _domain_list(allow: Any, deny: Any) -> linkcheck.DomainList | None:
    if isinstance(allow, linkcheck.DomainList):
        return allow
    if isinstance(deny, linkcheck.DomainList):
        return deny
    if (allow is None or isinstance(allow, Undefined)) and (
            deny is None or isinstance(deny, Undefined)):
        return None

    def entries(value: Any) -> tuple[str, ...] | None:
        if value is None or isinstance(value, Undefined):
            return None
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list | tuple):
            return tuple(value)
        raise ExpressionError(f"a domain list must be a list of domain names, got {value!r}")

    try:
        return linkcheck.domain_list(entries(allow), entries(deny))
    except (ValueError, TypeError) as err:
        raise ExpressionError(str(err)) from None


def fn_links(c: EvalContext, text: Any, allow: Any = None, deny: Any = None) -> list[str]:
    found = textnorm.links(_text(text))
    lists = _domain_list(allow, deny)
    if lists is not None and found:
        found = [u for u in found if lists.reports(textnorm.host_of(u))]
    if found:
        c.match = found[0]
    return found


def fn_domains(c: EvalContext, text: Any, allow: Any = None, deny: Any = None) -> list[str]:
    found = textnorm.domains(_text(text))
    lists = _domain_list(allow, deny)
    if lists is not None and found:
        found = [h for h in found if lists.reports(h)]
    if found:
        c.match = found[0]
    return found


def check_domain_lists(site: CallSite) -> Mapping[int | str, Any] | None:
    allow = site.arg(1, "allow")
    deny = site.arg(2, "deny")
    given = [a for a in (allow, deny) if a is not None]
    if not given or not all(a[1].static for a in given):
        return None  # lists computed at run time are compiled (and cached) then

    def entries(arg: tuple[int | str, ArgInfo] | None) -> tuple[str, ...] | None:
        if arg is None or arg[1].value is None:
            return None
        value = arg[1].value
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list | tuple):
            raise ValueError(
                f"{site.name}(): `{arg[0]}` takes a list of domain names, got {value!r}"
            )
        return tuple(value)

    try:
        compiled = linkcheck.domain_list(entries(allow), entries(deny))
    except ValueError as err:
        raise ValueError(f"{site.name}(): {err}") from None
    out: dict[int | str, Any] = {given[0][0]: compiled}
    if len(given) == 2:
        out[given[1][0]] = None
    return out


DEFAULT_CLASSIFIER = "lexicon"


def fn_score(c: EvalContext, text: Any, label: Any,
             classifier: Any = DEFAULT_CLASSIFIER) -> float:
    """``classifier``'s score of ``text`` for ``label``, in [0, 1]."""
    name = classifier if isinstance(classifier, str) else DEFAULT_CLASSIFIER
    scorer = classifiers.CLASSIFIERS.get(name)
    if scorer is None:
        raise ExpressionError(f"score(): no classifier named {name!r} is registered")
    if not isinstance(label, str):
        raise ExpressionError(f"score(): the label must be a string, got {label!r}")
    body = _text(text)
    try:
        value = scorer(body, label)
    except Exception as err:  # a plugin's model failing fails the rule, not the stream
        raise ExpressionError(
            f"score(): classifier {name!r} failed: {type(err).__name__}: {err}"
        ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            0.0 <= value <= 1.0):
        raise ExpressionError(
            f"score(): classifier {name!r} returned {value!r}, not a number in [0, 1]"
        )
    return float(value)


def check_score(site: CallSite) -> Mapping[int | str, Any] | None:
    which = site.arg(2, "classifier")
    name = DEFAULT_CLASSIFIER
    if which is not None:
        if not which[1].static or not isinstance(which[1].value, str):
            raise ValueError(
                "score(): the classifier must be a quoted name, e.g. "
                "score(event.data.text, 'toxicity', 'lexicon')"
            )
        name = which[1].value
    scorer = classifiers.CLASSIFIERS.get(name)
    if scorer is None:
        known = sorted(classifiers.CLASSIFIERS)
        hint = get_close_matches(name, known, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else (
            f" (registered: {', '.join(known)})" if known else "")
        raise ValueError(f"score(): no classifier named {name!r} is registered{extra}")
    label = site.arg(1, "label")
    labels = getattr(scorer, "labels", None)
    if label is not None and label[1].static and labels is not None and (
            not isinstance(label[1].value, str) or label[1].value not in labels):
        hint = get_close_matches(str(label[1].value), sorted(labels), n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ValueError(
            f"score(): classifier {name!r} has no label {label[1].value!r}{extra} "
            f"(its labels: {', '.join(sorted(labels))})"
        )
    return None


def fn_normalize(c: Any, text: Any) -> str:
    return wordmatch.match_form(_text(text))


def fn_squash(c: Any, text: Any) -> str:
    return wordmatch.squash(_text(text))


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
        _spec("links", fn_links, ("text", "allow", "deny"), 1, sets_match=True,
              check=check_domain_lists,
              doc="the URLs in the text (with allow/deny: those not allowed or denied)"),
        _spec("domains", fn_domains, ("text", "allow", "deny"), 1, sets_match=True,
              check=check_domain_lists,
              doc="the distinct host names linked from the text (with allow/deny: those "
                  "not allowed or denied)"),
        _spec("mentions", _detector(textnorm.mentions), ("text",), 1, sets_match=True,
              doc="the @mentions in the text"),
        _spec("score", fn_score, ("text", "label", "classifier"), 2, check=check_score,
              doc="a classifier's score in [0, 1] of the text for a label, e.g. "
                  "score(event.data.text, 'toxicity') (default classifier: lexicon)"),
        _spec("normalize", fn_normalize, ("text",), 1, pure=True,
              doc="the text as words are matched: NFKC, case folded, invisible characters "
                  "removed, look-alike letters read as Latin"),
        _spec("squash", fn_squash, ("text",), 1, pure=True,
              doc="normalize(text) without spaces, punctuation, symbols or emoji (for "
                  "patterns that must see through inserted separators)"),
        _spec("caps_ratio", fn_caps_ratio, ("text",), 1,
              doc="the share of cased letters that are capitals"),
        _spec("days", _span("days"), ("n",), 1, pure=True, doc="a duration of n days"),
        _spec("hours", _span("hours"), ("n",), 1, pure=True, doc="a duration of n hours"),
        _spec("minutes", _span("minutes"), ("n",), 1, pure=True,
              doc="a duration of n minutes"),
        _spec("range", fn_range, ("start", "stop", "step"), 1, pure=True,
              doc="a range of at most 10,000 whole numbers"),
    )
}


def function_registry(extra: Mapping[str, FunctionSpec] | None = None) -> dict[str, FunctionSpec]:
    """The built-in functions, plus (and overridden by) ``extra``."""
    if not extra:
        return BUILTIN_FUNCTIONS
    for name, spec in extra.items():
        if name != spec.name or not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"invalid function name {name!r}")
        if name in ROOT_NAMES:
            raise ValueError(f"a function cannot be named {name!r}: that name is taken")
    return {**BUILTIN_FUNCTIONS, **extra}
