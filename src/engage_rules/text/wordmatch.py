r"""Banned-word matching that sees through common evasions (docs/reference.md §5.9).

A :class:`WordMatcher` is built once per word list (at load time for lists written in
the playbook) and checks a text in one pass of an Aho–Corasick automaton
(:mod:`engage_rules.text.ahocorasick`), whatever the number of words.

Both the words and the text are brought to a *matching form*: :func:`textnorm.normalise`
(NFKC, so full-width ``ＳＰＡＭ`` is ``spam``; invisible characters and stray combining
marks removed; case folded), then Cyrillic and Greek letters that look like Latin ones
are read as those (``ѕрам`` is ``spam``).  The text is then read without its separators
(whitespace, punctuation, symbols, emoji), remembering where they were:

* words containing characters of scripts written without spaces (Han, kana, Hangul,
  Thai...) match as substrings, whatever separators were inserted: ``加微信`` is found in
  ``加 微 信``, ``加-微-信`` and ``加🍀微🍀信``;
* other words (Latin, Cyrillic...) match as whole words: the occurrence must start and
  end at a word edge (a separator, the end of the text, or a character of an unspaced
  script), so ``spam`` matches ``buy spam now`` and ``买spam`` but not ``spamming``; inside
  the occurrence, separators may stand only between the word's own words (``free
  money``, ``free-money``, ``freemoney``) or between every letter of a word of three or
  more letters (``s p a m``, ``s.p.a.m``, ``s🍀p🍀a🍀m``);
* words containing symbols (``c++``, ``🔞``) match literally in the normalised text, with
  a word edge where they begin or end with a letter or digit.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from functools import lru_cache

from .ahocorasick import Automaton
from .normalise import UNSPACED_RANGES, normalise, separator_runs, strip_separators

__all__ = ["CONFUSABLES", "WordMatcher", "match_form", "squash", "word_matcher"]

#: Letters of other scripts that look like Latin letters, read as those letters when
#: matching (after case folding, so capitals are covered too).
CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "ѕ": "s",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "һ": "h",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        "ӏ": "l",
        "ү": "y",
        "ɡ": "g",
        # Greek
        "α": "a",
        "β": "b",
        "ε": "e",
        "η": "n",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "ω": "w",
        # Armenian and Latin look-alikes
        "օ": "o",
        "ս": "u",
        "ո": "n",
        "ı": "i",
        "ʟ": "l",
        "ɪ": "i",
        "ᴏ": "o",
        "ꜱ": "s",
    }
)
_HAS_CONFUSABLE = re.compile(f"[{''.join(chr(k) for k in CONFUSABLES)}]")
_UNSPACED_CHAR = re.compile(f"[{UNSPACED_RANGES}]")


@lru_cache(maxsize=64)
def match_form(text: str) -> str:
    """``text`` as words are matched against it: normalised, look-alikes read as Latin."""
    norm = normalise(text)
    if not norm.isascii() and _HAS_CONFUSABLE.search(norm):
        norm = norm.translate(CONFUSABLES)
    return norm


def _is_token(ch: str) -> bool:
    """A letter or digit of a script written with spaces between words."""
    return ch.isalnum() and _UNSPACED_CHAR.match(ch) is None


@lru_cache(maxsize=64)
def _shadow(form: str) -> str:
    """``form`` without separators."""
    return strip_separators(form)


@lru_cache(maxsize=64)
def _breaks(form: str) -> tuple[int, ...]:
    """The positions in ``_shadow(form)`` where separators were removed (increasing);
    computed only when a whole-word candidate needs checking."""
    breaks: list[int] = []
    removed = 0
    for start, end in separator_runs(form):
        pos = start - removed
        if not breaks or breaks[-1] != pos:
            breaks.append(pos)
        removed += end - start
    return tuple(breaks)


def squash(text: str) -> str:
    """``match_form(text)`` without separators (spaces, punctuation, symbols, emoji)."""
    return _shadow(match_form(text))


class WordMatcher:
    """Finds a word of a list in a text (see the module docs for the rules).

    ``search(text)`` returns the word as it was written in the list, or ``""``.
    """

    __slots__ = ("_keys", "_main", "_symbolic", "_symbolic_words", "words")

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(words)
        # separator-free key -> [(word, is_unspaced, internal word breaks)]
        keys: dict[str, list[tuple[str, bool, frozenset[int]]]] = {}
        symbolic: dict[str, str] = {}
        for word in self.words:
            if not isinstance(word, str):
                raise TypeError(f"words must be strings, got {type(word).__name__}")
            form = " ".join(match_form(word).split())
            if not form:
                continue
            if _UNSPACED_CHAR.search(form):
                key = strip_separators(form)
                if key:
                    keys.setdefault(key, []).append((word, True, frozenset()))
                continue
            if not any(map(_is_token, form)) or any(
                unicodedata.category(ch)[0] == "S" for ch in form
            ):
                symbolic.setdefault(form, word)  # "c++", "🔞": literally
                continue
            key = _shadow(form)
            if key:
                keys.setdefault(key, []).append((word, False, frozenset(_breaks(form))))
        self._keys = keys
        self._main = Automaton(keys) if keys else None
        self._symbolic_words = symbolic
        self._symbolic = Automaton(symbolic) if symbolic else None

    def __len__(self) -> int:
        return len(self._keys) + len(self._symbolic_words)

    def search(self, text: str) -> str:
        """The first listed word found in ``text`` (as written in the list), or ``""``."""
        for word in self._found(text):
            return word
        return ""

    def findall(self, text: str) -> list[str]:
        """Every listed word found in ``text``, once each, in the order found."""
        return list(dict.fromkeys(self._found(text)))

    def _found(self, text: str) -> Iterator[str]:
        if not text:
            return
        form = match_form(text)
        if self._main is not None:
            shadow = _shadow(form)
            for start, end, index in self._main.finditer(shadow):
                key = self._main.keys[index]
                for word, unspaced, own in self._keys[key]:
                    if unspaced or _whole_word(shadow, _breaks(form), start, end, own):
                        yield word
                        break
        if self._symbolic is not None:
            keys = self._symbolic.keys
            for start, end, index in self._symbolic.finditer(form):
                key = keys[index]
                if _edges(form, start, end, key):
                    yield self._symbolic_words[key]


def _whole_word(
    shadow: str, breaks: tuple[int, ...], start: int, end: int, own: frozenset[int]
) -> bool:
    """Whether the occurrence ``shadow[start:end]`` of a spaced-script word stands as a
    whole word, with separators only where the rules allow (module docs)."""
    lo = bisect_right(breaks, start)  # the first break after `start`
    hi = bisect_right(breaks, end)
    if start > 0 and (lo == 0 or breaks[lo - 1] != start) and _is_token(shadow[start - 1]):
        return False
    if end < len(shadow) and (hi == 0 or breaks[hi - 1] != end) and _is_token(shadow[end]):
        return False
    inside = {b - start for b in breaks[lo:hi] if b < end}
    if inside <= own:
        return True
    return end - start >= 3 and len(inside) == end - start - 1  # spelled out


def _edges(form: str, start: int, end: int, key: str) -> bool:
    if _is_token(key[0]) and start > 0 and _is_token(form[start - 1]):
        return False
    return not (_is_token(key[-1]) and end < len(form) and _is_token(form[end]))


@lru_cache(maxsize=256)
def word_matcher(words: tuple[str, ...]) -> WordMatcher:
    """A cached :class:`WordMatcher` for a tuple of words."""
    return WordMatcher(words)
