"""The one "did you mean" of engage_rules.

Every message that names something unknown (a key, an action, a template, a function, a
segment...) ends with the same suggestion, built here: ``; did you mean 'x'?`` for names
written in YAML, ``; did you mean `x`?`` for names written in an expression (code), or
nothing when no known name is close.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches

from ..i18n import _

#: How similar (difflib's ratio) a known name must be to be suggested.
CUTOFF = 0.6


def closest(word: object, choices: Iterable[object], *, cutoff: float = CUTOFF) -> str | None:
    """The known name closest to ``word``, if one is close enough."""
    names = sorted({str(c) for c in choices})
    found = get_close_matches(str(word), names, n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(
    word: object, choices: Iterable[object], *, code: bool = False, cutoff: float = CUTOFF
) -> str:
    """``"; did you mean 'x'?"`` (with ``code=True``: `` `x` ``), or ``""``."""
    match = closest(word, choices, cutoff=cutoff)
    if match is None:
        return ""
    if code:
        return _("; did you mean `{match}`?").format(match=match)
    return _("; did you mean {match!r}?").format(match=match)
