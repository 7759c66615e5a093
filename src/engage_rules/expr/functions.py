"""The functions expressions and templates can call (docs/reference.md §5.2), and their registry.

A function is described by a :class:`FunctionSpec`: the Python callable (it receives the
:class:`~engage_rules.expr.context.EvalContext` first, then the operator's arguments), the
names of its parameters, and an optional *checker* run at load time.  The checker sees
which arguments are known at load time (literals and ``vars.*``), may reject the call
with a ``ValueError`` (reported as a compile error), may record what the engine must
keep (:class:`~engage_rules.expr.runtime.Uses`), and may return prepared replacements
for arguments (a parsed window, a compiled RE2 pattern, a word matcher) that the
compiled expression passes instead of the original value.  Every function also accepts
the raw form of its arguments, because templates call them without that preparation.

:data:`BUILTIN_FUNCTIONS` are the core's functions; the built-in plugin registers them
through the ``register_functions`` hook, plugins register theirs the same way, and the
plugin manager fills :data:`FUNCTIONS`, the table every compiler looks calls up in
(:func:`function_registry`).  A compiler's ``functions=`` argument adds more for one
compilation.

The moderation detectors (``contains_any``, ``matches``, ``links``, ``domains``,
``mentions``, ``caps_ratio``, ``score``, ``normalize``, ``squash``) live in
:mod:`.detectors`; the description types in :mod:`.function_spec`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import lru_cache
from typing import Any

from .._util.durations import parse_duration
from .._util.suggest import did_you_mean
from ..errors import ExpressionError
from ..i18n import N_, _
from ..model import rule_problems as rp
from ..text import normalise as textnorm
from .context import ROOT_NAMES, EvalContext
from .detectors import (
    MAX_PATTERN_LENGTH,
    MAX_PATTERNS,
    MAX_PATTERNS_PER_CALL,
    check_contains_any,
    check_domain_lists,
    check_matches,
    check_score,
    compile_pattern,
    compile_patterns,
    fn_caps_ratio,
    fn_contains_any,
    fn_domains,
    fn_links,
    fn_matches,
    fn_mentions,
    fn_normalize,
    fn_score,
    fn_squash,
)
from .experiments import check_variant, fn_variant
from .function_spec import ArgInfo, CallSite, Checker, FunctionSpec
from .runtime import bounded_range, shown

__all__ = [
    "BUILTIN_FUNCTIONS",
    "MAX_PATTERNS",
    "MAX_PATTERNS_PER_CALL",
    "MAX_PATTERN_LENGTH",
    "ArgInfo",
    "CallSite",
    "Checker",
    "FunctionSpec",
    "check_function_name",
    "compile_pattern",
    "compile_patterns",
]

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
    raise ExpressionError(rp.english(rp.WINDOW_NOT_A_DURATION, value=shown(window)))


def _literal_window(site: CallSite, arg: ArgInfo) -> float:
    if not arg.literal or not isinstance(arg.value, str):
        raise ValueError(
            _(
                "{name}(): the window must be a quoted duration such as '7d' or '10m', "
                "written in the expression (the engine keeps only the history that "
                "literal windows need)"
            ).format(name=site.name)
        )
    try:
        return _parse_window(arg.value)
    except ValueError as err:
        raise ValueError(_("{name}(): {error}").format(name=site.name, error=err)) from None


#: A window written as a literal duration, in seconds (for checkers of other modules).
literal_window = _literal_window


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
            _("count(): the event type must be a quoted name, e.g. count('message.posted')")
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


def fn_streak(c: EvalContext, type_: Any) -> int:
    m = c.m
    if m is None:
        return 0
    return m.streak(type_, c.now.astimezone(c.tz).toordinal())


def check_streak(site: CallSite) -> Mapping[int | str, Any] | None:
    type_arg = site.arg(0, "type")
    if type_arg is None or not type_arg[1].static or not isinstance(type_arg[1].value, str):
        raise ValueError(
            _("streak(): the event type must be a quoted name, e.g. streak('checkin')")
        )
    site.uses.streaks.add(type_arg[1].value)
    return None


def fn_duplicates(c: EvalContext, within: Any = _DEFAULT_DUPLICATES_WINDOW) -> int:
    m = c.m
    if m is None:
        return 0
    text = c.event.data.get("text")
    if not isinstance(text, str):
        return 0
    fp = textnorm.fingerprint(text)
    if fp == textnorm.NO_TEXT:  # a photo or a sticker alone: no text to repeat
        return 0
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


def _span(unit: str) -> Callable[[Any, Any], timedelta]:
    def span(c: Any, n: Any) -> timedelta:
        if isinstance(n, bool) or not isinstance(n, int | float):
            raise ExpressionError(
                rp.english(rp.UNIT_NEEDS_A_NUMBER, unit=unit, kind=type(n).__name__)
            )
        try:
            return timedelta(**{unit: n})
        except OverflowError:
            raise ExpressionError(rp.english(rp.UNIT_OUT_OF_RANGE, unit=unit, n=n)) from None

    return span


def fn_segment(c: EvalContext, name: Any) -> bool:
    fn = c.env.segments.get(name) if isinstance(name, str) else None
    if fn is None:
        raise ExpressionError(rp.english(rp.UNKNOWN_SEGMENT, name=repr(name)))
    return bool(fn(c))


def check_segment(site: CallSite) -> Mapping[int | str, Any] | None:
    arg = site.arg(0, "name")
    if arg is None or not arg[1].literal or not isinstance(arg[1].value, str):
        raise ValueError(_("segment(): the segment name must be quoted, e.g. segment('core')"))
    name = arg[1].value
    known = site.env.segment_names if site.env is not None else frozenset()
    if name not in known:
        hint = did_you_mean(name, known)
        if hint:
            extra = hint
        elif known:
            extra = _(" (segments: {names})").format(names=", ".join(sorted(known)))
        else:
            extra = _(" (the playbook has no `segments:` section)")
        raise ValueError(
            _("segment(): unknown segment {name!r}{extra}").format(name=name, extra=extra)
        )
    site.uses.segments.add(name)
    return None


def fn_range(c: Any, *args: Any) -> range:
    return bounded_range(*args)


def _spec(
    name: str, fn: Callable[..., Any], params: tuple[str, ...], required: int, **kw: Any
) -> FunctionSpec:
    return FunctionSpec(name, fn, params, required, **kw)


#: The functions every playbook can use.
BUILTIN_FUNCTIONS: dict[str, FunctionSpec] = {
    s.name: s
    for s in (
        _spec(
            "count",
            fn_count,
            ("type", "within"),
            1,
            check=check_count,
            doc=N_("this member's events of a type, in a window or ever"),
        ),
        _spec(
            "streak",
            fn_streak,
            ("type",),
            1,
            check=check_streak,
            doc=N_(
                "consecutive calendar days (community time zone) with an event of a "
                "type, ending today or yesterday"
            ),
        ),
        _spec(
            "duplicates",
            fn_duplicates,
            ("within",),
            0,
            check=check_duplicates,
            doc=N_("how often this member posted the current text in the window"),
        ),
        _spec(
            "contains_any",
            fn_contains_any,
            ("text", "words"),
            2,
            check=check_contains_any,
            sets_match=True,
            doc=N_("the first listed word found in the text, or ''"),
        ),
        _spec(
            "matches",
            fn_matches,
            ("text", "pattern"),
            2,
            check=check_matches,
            sets_match=True,
            doc=N_("the text the RE2 pattern matched, or ''"),
        ),
        _spec(
            "links",
            fn_links,
            ("text", "allow", "deny"),
            1,
            sets_match=True,
            check=check_domain_lists,
            doc=N_("the URLs in the text (with allow/deny: those not allowed or denied)"),
        ),
        _spec(
            "domains",
            fn_domains,
            ("text", "allow", "deny"),
            1,
            sets_match=True,
            check=check_domain_lists,
            doc=N_(
                "the distinct host names linked from the text (with allow/deny: those "
                "not allowed or denied)"
            ),
        ),
        _spec(
            "mentions",
            fn_mentions,
            ("text",),
            1,
            sets_match=True,
            doc=N_("the @mentions in the text"),
        ),
        _spec(
            "score",
            fn_score,
            ("text", "label", "classifier"),
            2,
            check=check_score,
            doc=N_(
                "a classifier's score in [0, 1] of the text for a label, e.g. "
                "score(event.data.text, 'toxicity') (default classifier: lexicon)"
            ),
        ),
        _spec(
            "normalize",
            fn_normalize,
            ("text",),
            1,
            pure=True,
            doc=N_(
                "the text as words are matched: NFKC, case folded, invisible characters "
                "removed, look-alike letters read as Latin"
            ),
        ),
        _spec(
            "squash",
            fn_squash,
            ("text",),
            1,
            pure=True,
            doc=N_(
                "normalize(text) without spaces, punctuation, symbols or emoji (for "
                "patterns that must see through inserted separators)"
            ),
        ),
        _spec(
            "caps_ratio",
            fn_caps_ratio,
            ("text",),
            1,
            doc=N_("the share of cased letters that are capitals"),
        ),
        _spec("days", _span("days"), ("n",), 1, pure=True, doc=N_("a duration of n days")),
        _spec("hours", _span("hours"), ("n",), 1, pure=True, doc=N_("a duration of n hours")),
        _spec("minutes", _span("minutes"), ("n",), 1, pure=True, doc=N_("a duration of n minutes")),
        _spec(
            "range",
            fn_range,
            ("start", "stop", "step"),
            1,
            pure=True,
            doc=N_("a range of at most 10,000 whole numbers"),
        ),
        _spec(
            "segment",
            fn_segment,
            ("name",),
            1,
            check=check_segment,
            doc=N_("whether the member is in the named segment (`segments:`)"),
        ),
        _spec(
            "variant",
            fn_variant,
            ("name",),
            1,
            check=check_variant,
            doc=N_(
                "the member's variant of the named experiment (`experiments:`); the "
                "first read records the member's exposure"
            ),
        ),
    )
}


def check_function_name(spec: FunctionSpec) -> None:
    """Raise ValueError if ``spec`` cannot be registered under its name."""
    name = spec.name
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"invalid function name {name!r}")
    if name in ROOT_NAMES:
        raise ValueError(f"a function cannot be named {name!r}: that name is taken")
