"""The detector functions of moderation rules (docs/language.md, "Detectors"), for
:mod:`.functions`.

``contains_any`` (banned words, :mod:`.wordmatch`), ``matches`` (RE2 patterns, with
their load-time limits and the work budget below), ``links`` / ``domains`` with allow
and deny lists (:mod:`.linkcheck`), ``mentions``, ``caps_ratio``, ``score`` (registered
classifiers, :mod:`.classifiers`), ``normalize`` and ``squash``.  Detectors set
``c.match`` to what they found, for ``{{ match }}`` in the rule's actions.

The work of one ``matches()`` call is bounded by :data:`PATTERN_BUDGET`: RE2 runs in
time linear in the text, but the factor is the size of the compiled program (in the
worst case, when its DFA gives up, RE2 simulates every instruction for every byte), so
the cost of a call is taken as ``program size × UTF-8 bytes of the text``.  A pattern
(or list, compiled into one program) must fit the budget for the longest text an event
can carry (:data:`SCAN_BYTES`), and so must all the patterns of a playbook together
(checked by the compiler), which bounds the regular-expression work per event; a
longer text built by an expression is scanned only while it fits the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import re2
from jinja2 import Undefined

from .._util.suggest import did_you_mean
from ..errors import ExpressionError, ResourceLimitError
from ..i18n import _
from ..model import rule_problems as rp
from ..model.events import MAX_EVENT_BYTES
from ..text import links as linkcheck
from ..text import normalise as textnorm
from ..text import wordmatch
from .context import EvalContext
from .function_spec import ArgInfo, CallSite
from .runtime import shown
from .runtime import text_arg as _text
from .syntax_words import re2_words

__all__ = [
    "DEFAULT_CLASSIFIER",
    "MAX_PATTERNS",
    "MAX_PATTERNS_PER_CALL",
    "MAX_PATTERN_LENGTH",
    "MAX_PROGRAM_SIZE",
    "PATTERN_BUDGET",
    "SCAN_BYTES",
    "compile_pattern",
    "compile_patterns",
]

#: Longest pattern ``matches()`` accepts.
MAX_PATTERN_LENGTH = 1000
#: Most patterns one ``matches()`` call may be given as a list.
MAX_PATTERNS_PER_CALL = 100
#: Most patterns a whole playbook may use (checked by the compiler).
MAX_PATTERNS = 1000
#: Most words a word list built at run time (from event data) may hold.
MAX_RUNTIME_WORDS = 1000
#: Memory RE2 may use for one compiled pattern (the program and its DFA cache).
_PATTERN_MAX_MEM = 8 << 20
#: Memory for the first compilation, which only measures the program: small, so that an
#: oversized pattern is given up on quickly.
_CHECK_MAX_MEM = 256 << 10
#: The work one ``matches()`` call may do: RE2 program size × bytes of UTF-8 scanned.
PATTERN_BUDGET = 1 << 26
#: The longest text every pattern must be able to scan within the budget: the largest
#: event (a longer text can only be built by an expression).
SCAN_BYTES = MAX_EVENT_BYTES
#: The largest RE2 program of one ``matches()`` call, and of all the calls of a
#: playbook together (instructions): ``PATTERN_BUDGET // SCAN_BYTES``.
MAX_PROGRAM_SIZE = PATTERN_BUDGET // SCAN_BYTES


def _re2(pattern: str, max_mem: int) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = max_mem
    return re2.compile(pattern, options)


def _too_large(what: str, size: int | None = None) -> ValueError:
    """``what`` (translated: "the pattern") has too large a program."""
    has = (
        _("{what} has {size} instructions").format(what=what, size=f"{size:,}")
        if size
        else _("{what} is too large").format(what=what)
    )
    return ValueError(
        _(
            "the RE2 program of {what_has}; the limit is {limit} (matching costs "
            "up to the program size for every byte of text; simplify the pattern, e.g. fewer "
            "or smaller counted repetitions such as {{1,1000}} and narrower classes than \\pL, "
            "or move literal words to contains_any())"
        ).format(what_has=has, limit=f"{MAX_PROGRAM_SIZE:,}")
    )


def compile_pattern(pattern: str) -> Any:
    """Compile ``pattern`` with RE2, or raise ValueError with a clear message."""
    if "\b" in pattern:
        raise ValueError(
            _(
                "the pattern contains a backspace character: inside a quoted string `\\b` "
                "means backspace, so write a word boundary as `\\\\b`"
            )
        )
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(
            _("the pattern is {n} characters long; the limit is {limit}").format(
                n=len(pattern), limit=MAX_PATTERN_LENGTH
            )
        )
    try:
        # First with little memory, which stops RE2 early on an oversized program.
        probe = _re2(pattern, _CHECK_MAX_MEM)
    except re2.error as err:
        reason = err.args[0] if err.args else err
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        if "too large" in str(reason):
            raise _too_large(_("the pattern")) from None
        raise ValueError(
            _(
                "the pattern {pattern!r} cannot be used: {reason} (patterns run on RE2, "
                "which guarantees linear time and so has no look-arounds or "
                "back-references)"
            ).format(pattern=pattern, reason=re2_words(str(reason)))
        ) from None
    if probe.programsize > MAX_PROGRAM_SIZE:
        raise _too_large(_("the pattern"), probe.programsize)
    return _re2(pattern, _PATTERN_MAX_MEM)


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
        raise ValueError(_("the list of patterns is empty"))
    if len(patterns) > MAX_PATTERNS_PER_CALL:
        raise ValueError(
            _("{n} patterns in one call; the limit is {limit}").format(
                n=len(patterns), limit=MAX_PATTERNS_PER_CALL
            )
        )
    for i, p in enumerate(patterns):
        if not isinstance(p, str):
            raise ValueError(
                _("pattern #{value} is not a string: {got}").format(value=i + 1, got=shown(p))
            )
        try:
            compile_pattern(p)
        except ValueError as err:
            raise ValueError(_("pattern #{value}: {err}").format(value=i + 1, err=err)) from None
    if len(patterns) == 1:
        return compile_pattern(patterns[0])
    try:
        # Each pattern may name a `match` group: numbered apart once combined.
        regex = _re2(
            "|".join(
                "(?:" + p.replace("(?P<match>", f"(?P<match_{i}>") + ")"
                for i, p in enumerate(patterns)
            ),
            _PATTERN_MAX_MEM,
        )
    except re2.error:
        raise _too_large(_("the {n} patterns together").format(n=len(patterns))) from None
    if regex.programsize > MAX_PROGRAM_SIZE:
        raise _too_large(_("the {n} patterns together").format(n=len(patterns)), regex.programsize)
    return regex


def check_scan(regex: Any, text: str) -> None:
    """Refuse to scan ``text`` when ``program size × its UTF-8 bytes`` passes the
    budget (only texts longer than any event's, built by an expression, can)."""
    size = regex.programsize
    if size * 4 * len(text) <= PATTERN_BUDGET:
        return
    scanned = len(text.encode("utf-8", "surrogatepass"))
    if size * scanned > PATTERN_BUDGET:
        raise ResourceLimitError(
            f"matches(): a text of {scanned:,} bytes is longer than this pattern may scan "
            f"({PATTERN_BUDGET // size:,} bytes: the budget of {PATTERN_BUDGET:,} divided "
            f"by its program size, {size:,})"
        )


@lru_cache(maxsize=128)
def _runtime_pattern(pattern: str | tuple[Any, ...]) -> Any:
    try:
        if isinstance(pattern, tuple):
            return compile_patterns(pattern)
        return compile_pattern(pattern)
    except ValueError as err:
        raise ExpressionError(f"matches(): {err}") from None


def _pattern(pattern: Any) -> Any:
    """The compiled program for ``pattern``: prepared at load time, or compiled (and
    cached) from a pattern or list given as such (templates)."""
    if isinstance(pattern, str):
        return _runtime_pattern(pattern)
    if isinstance(pattern, list | tuple):
        try:
            return _runtime_pattern(tuple(pattern))
        except TypeError:  # unhashable items: not patterns
            raise ExpressionError(rp.english(rp.PATTERNS_NOT_TEXT)) from None
    if hasattr(pattern, "programsize") and hasattr(pattern, "search"):
        return pattern
    raise ExpressionError(rp.english(rp.PATTERN_NOT_TEXT, kind=type(pattern).__name__))


def _words(value: Any) -> tuple[str, ...]:
    if value is None or isinstance(value, Undefined):
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        for w in value:
            if not isinstance(w, str):
                raise ValueError(
                    _("contains_any(): the words must be strings, got {got}").format(got=shown(w))
                )
        return tuple(value)
    raise ValueError(
        _("contains_any(): the words must be a list of strings, got {got}").format(got=shown(value))
    )


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
    regex = _pattern(pattern)
    body = _text(text)
    check_scan(regex, body)
    m = regex.search(body)
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
            _(
                "matches(): the pattern must be a quoted regular expression written in "
                "the expression, e.g. matches(event.data.text, '(?i)free\\s+money'), or a "
                "list of them (literal or from `vars`)"
            )
        )
    try:
        compiled = (
            compile_pattern(value) if isinstance(value, str) else compile_patterns(list(value))
        )
    except ValueError as err:
        raise ValueError(_("{name}(): {error}").format(name="matches", error=err)) from None
    site.uses.patterns += 1 if isinstance(value, str) else len(value)
    site.uses.program_size += compiled.programsize
    return {pattern[0]: compiled}


def _detector(find: Callable[[str], list[str]]) -> Callable[[EvalContext, Any], list[str]]:
    def detect(c: EvalContext, text: Any) -> list[str]:
        found = find(_text(text))
        if found:
            c.match = found[0]
        return found

    detect.__name__ = find.__name__
    return detect


fn_mentions = _detector(textnorm.mentions)


def _domain_list(allow: Any, deny: Any) -> linkcheck.DomainList | None:
    if isinstance(allow, linkcheck.DomainList):
        return allow
    if isinstance(deny, linkcheck.DomainList):
        return deny
    if (allow is None or isinstance(allow, Undefined)) and (
        deny is None or isinstance(deny, Undefined)
    ):
        return None

    def entries(value: Any) -> tuple[str, ...] | None:
        if value is None or isinstance(value, Undefined):
            return None
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list | tuple):
            return tuple(value)
        raise ExpressionError(rp.english(rp.DOMAIN_LIST, value=shown(value)))

    try:
        return linkcheck.domain_list(entries(allow), entries(deny))
    except (ValueError, TypeError) as err:
        raise ExpressionError(str(err)) from None


#: How many of ``data.links`` the link detectors read, and how much of each.
MAX_MESSAGE_LINKS = 100
MAX_URL = 2048


def _message_links(c: EvalContext, text: str) -> list[str]:
    """The URLs an adapter found in the event's message beyond its text (``data.links``:
    hidden behind words, in embeds, in buttons), when ``text`` is that message's text."""
    data = c.event.data
    extra = data.get("links")
    if not extra or not isinstance(extra, list) or data.get("text", "") != text:
        return []
    out: list[str] = []
    for url in extra[:MAX_MESSAGE_LINKS]:
        if isinstance(url, str):
            out.extend(textnorm.links(url[:MAX_URL]))  # as if written: same hosts, same checks
    return out


def _all_links(c: EvalContext, text: Any) -> list[str]:
    """The URLs in ``text``, then those of ``data.links`` not already found (in order)."""
    plain = _text(text)
    found = textnorm.links(plain)
    for url in _message_links(c, plain):
        if url not in found:
            found.append(url)
    return found


def fn_links(c: EvalContext, text: Any, allow: Any = None, deny: Any = None) -> list[str]:
    found = _all_links(c, text)
    lists = _domain_list(allow, deny)
    if lists is not None and found:
        found = [u for u in found if lists.reports(textnorm.host_of(u))]
    if found:
        c.match = found[0]
    return found


def fn_domains(c: EvalContext, text: Any, allow: Any = None, deny: Any = None) -> list[str]:
    found = list(dict.fromkeys(h for h in map(textnorm.host_of, _all_links(c, text)) if h))
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
                _("{name}(): `{arg}` takes a list of domain names, got {got}").format(
                    name=site.name, arg=arg[0], got=shown(value)
                )
            )
        return tuple(value)

    lists = entries(allow), entries(deny)
    try:
        compiled = linkcheck.domain_list(*lists)
    except ValueError as err:
        raise ValueError(_("{name}(): {error}").format(name=site.name, error=err)) from None
    out: dict[int | str, Any] = {given[0][0]: compiled}
    if len(given) == 2:
        out[given[1][0]] = None
    return out


DEFAULT_CLASSIFIER = "lexicon"


def fn_score(c: EvalContext, text: Any, label: Any, classifier: Any = DEFAULT_CLASSIFIER) -> float:
    """``classifier``'s score of ``text`` for ``label``, in [0, 1]."""
    name = classifier if isinstance(classifier, str) else DEFAULT_CLASSIFIER
    scorer = c.env.classifiers.get(name)
    if scorer is None:
        raise ExpressionError(rp.english(rp.UNKNOWN_CLASSIFIER, name=repr(name)))
    if not isinstance(label, str):
        raise ExpressionError(rp.english(rp.LABEL_NOT_TEXT, value=shown(label)))
    body = _text(text)
    try:
        value = scorer(body, label)
    except Exception as err:  # a plugin's model failing fails the rule, not the stream
        raise ExpressionError(
            rp.english(rp.CLASSIFIER_FAILED, name=repr(name), error=f"{type(err).__name__}: {err}")
        ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0.0 <= value <= 1.0):
        raise ExpressionError(
            rp.english(rp.CLASSIFIER_OUT_OF_RANGE, name=repr(name), value=repr(value))
        )
    return float(value)


def check_score(site: CallSite) -> Mapping[int | str, Any] | None:
    which = site.arg(2, "classifier")
    name = DEFAULT_CLASSIFIER
    if which is not None:
        if not which[1].static or not isinstance(which[1].value, str):
            raise ValueError(
                _(
                    "score(): the classifier must be a quoted name, e.g. "
                    "score(event.data.text, 'toxicity', 'lexicon')"
                )
            )
        name = which[1].value
    registered = site.env.classifiers if site.env is not None else {}
    scorer = registered.get(name)
    if scorer is None:
        known = sorted(registered)
        extra = did_you_mean(name, known) or (
            _(" (registered: {names})").format(names=", ".join(known)) if known else ""
        )
        raise ValueError(
            _("score(): no classifier named {name!r} is registered{extra}").format(
                name=name, extra=extra
            )
        )
    label = site.arg(1, "label")
    labels = getattr(scorer, "labels", None)
    if (
        label is not None
        and label[1].static
        and labels is not None
        and (not isinstance(label[1].value, str) or label[1].value not in labels)
    ):
        extra = did_you_mean(label[1].value, labels)
        raise ValueError(
            _(
                "score(): classifier {name!r} has no label {value!r}{extra} (its labels: {names})"
            ).format(name=name, value=label[1].value, extra=extra, names=", ".join(sorted(labels)))
        )
    return None


def fn_normalize(c: Any, text: Any) -> str:
    return wordmatch.match_form(_text(text))


def fn_squash(c: Any, text: Any) -> str:
    return wordmatch.squash(_text(text))


def fn_caps_ratio(c: EvalContext, text: Any) -> float:
    return textnorm.caps_ratio(_text(text))
