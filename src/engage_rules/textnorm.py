r"""Text normalisation, banned-word matching and message fingerprints (DESIGN.md §5.9).

Members evade word filters with full-width letters (``ＳＰＡＭ``), invisible characters
(``代\u200b刷``), stray combining marks (``s̶p̶a̶m̶``) and separators inserted between
characters (``加 微 信``, ``代-刷``).  :func:`normalise` undoes the first three (NFKC,
invisible characters and leftover diacritics removed, case folding); :class:`WordMatcher`
handles the last:

* words containing characters of scripts written without spaces (Han, kana, Hangul,
  Thai...) match as substrings of the text with every separator (space, punctuation,
  symbol, emoji) removed, so ``加微信`` is found in ``加 微 信`` and ``加-微-信``;
* other words (Latin, Cyrillic...) match as whole words: the normalised text is split
  into tokens of letters and digits and the word must be one of them (``spam`` matches
  ``buy spam now`` but not ``spamming``); a multi-word entry matches its tokens in a row
  or run together (``free money``, ``free-money``, ``freemoney``), and a word of three
  or more letters also matches when spelled out with a separator between every letter
  (``s p a m``, ``s.p.a.m``);
* words containing symbols (``c++``, ``🔞``) match literally.

Every step is linear in the length of the text: RE2 literal alternations, simple
character-class scans and set look-ups.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import re2

__all__ = [
    "WordMatcher",
    "caps_ratio",
    "domains",
    "fingerprint",
    "links",
    "mentions",
    "normalise",
    "strip_separators",
    "word_matcher",
]

# -- invisible characters ------------------------------------------------------------------

_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors and vowel separator
    (0x200B, 0x200F),  # zero-width space/non-joiner/joiner, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x206F),  # bidi isolates, deprecated format characters
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),  # half-width Hangul filler
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0xE0000, 0xE007F),  # tag characters
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
#: Combining marks left over after NFKC (strike-through, "zalgo" stacks) on letters.
_DIACRITIC_RANGES = (
    (0x0300, 0x036F),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)


def _table(ranges: Iterable[tuple[int, int]]) -> dict[int, None]:
    return {cp: None for lo, hi in ranges for cp in range(lo, hi + 1)}


_INVISIBLE = _table(_INVISIBLE_RANGES)
_MARKS = _table(_DIACRITIC_RANGES)


def _class(ranges: Iterable[tuple[int, int]]) -> str:
    return "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in ranges
    )


# Python's re matches a class of BMP characters with a bitmap, but falls back to a slow
# scan of ranges once the class holds astral characters: keep the two apart.
_HAS_INVISIBLE = re.compile(
    f"[{_class(r for r in _INVISIBLE_RANGES if r[1] < 0x10000)}]"
    f"|[{_class(r for r in _INVISIBLE_RANGES if r[0] >= 0x10000)}]"
)
_HAS_MARK = re.compile(f"[{_class(_DIACRITIC_RANGES)}]")
_HAS_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@lru_cache(maxsize=64)
def normalise(text: str) -> str:
    """NFKC, drop invisible characters and stray combining marks, case-fold."""
    if text.isascii():
        return text.lower()
    if _HAS_INVISIBLE.search(text):
        text = text.translate(_INVISIBLE)
    text = unicodedata.normalize("NFKC", text)
    if _HAS_MARK.search(text):
        text = text.translate(_MARKS)
    return text.casefold()


def _display_form(text: str) -> str:
    """NFKC without invisible characters, case kept (for links and mentions)."""
    if text.isascii():
        return text
    if _HAS_INVISIBLE.search(text):
        text = text.translate(_INVISIBLE)
    return unicodedata.normalize("NFKC", text)


# -- separators ----------------------------------------------------------------------------

_SEPARATOR_CATEGORIES = frozenset(
    ("Zs", "Zl", "Zp", "Cc", "Cf", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
     "Sm", "Sc", "Sk", "So")
)


class _Separators:
    """Removes separators; built on first use (it scans the Unicode tables once)."""

    def __init__(self) -> None:
        ranges: list[list[int]] = []
        category = unicodedata.category
        for cp in range(0x20000):
            if category(chr(cp)) in _SEPARATOR_CATEGORIES:
                if ranges and ranges[-1][1] == cp - 1:
                    ranges[-1][1] = cp
                else:
                    ranges.append([cp, cp])
        bmp = [(lo, hi) for lo, hi in ranges if hi < 0x10000]
        self.bmp = re.compile(f"[{_class(bmp)}]+")
        self.astral = {
            cp: None for lo, hi in ranges if lo >= 0x10000 for cp in range(lo, hi + 1)
        }

    def strip(self, text: str) -> str:
        text = self.bmp.sub("", text)
        if not text.isascii() and _HAS_ASTRAL.search(text):
            text = text.translate(self.astral)
        return text


_SEPARATORS: _Separators | None = None


def strip_separators(text: str) -> str:
    """``text`` without whitespace, punctuation and symbols (emoji included)."""
    global _SEPARATORS
    if _SEPARATORS is None:
        _SEPARATORS = _Separators()
    return _SEPARATORS.strip(text)


# -- the word matcher ----------------------------------------------------------------------

#: Scripts written without spaces between words (Han, kana, Hangul, Bopomofo, Thai, Lao,
#: Khmer, Myanmar): words in them match as substrings.
_UNSPACED_RANGES = (
    "\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u19e0-\u19ff"
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3040-\u30ff"
    "\u3100-\u312f\u3130-\u318f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\ua9e0-\ua9ff\uaa60-\uaa7f\uac00-\ud7af"
    "\ud7b0-\ud7ff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED_RANGES}]")
#: A token of a spaced script: letters and digits, not of an unspaced script.
_TOKEN = re.compile(f"[^\\W_{_UNSPACED_RANGES}]+")
#: RE2: a position where a whole word may start or end (not next to a token character).
_SPELLED_RUN = re.compile("(?:^|\x00)((?:[^\x00]\x00){2,}[^\x00])(?=\x00|$)")
_EDGE = r"(?:^|$|[^\p{L}\p{N}]|[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}])"


# Several rules usually search the same message: keep its derived forms for a while.
@lru_cache(maxsize=64)
def _shadow(norm: str) -> str:
    return strip_separators(norm)


@lru_cache(maxsize=64)
def _tokens(norm: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(norm))


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 64 << 20
    return options


def _literal_alternation(keys: Iterable[str]) -> Any:
    # Longer keys first, so the reported word is the most specific one.
    ordered = sorted(keys, key=lambda k: (-len(k), k))
    return re2.compile("|".join(re2.escape(k) for k in ordered), _re2_options())


class WordMatcher:
    """Finds the first word of a list in a text (see the module docs for the rules).

    ``search(text)`` returns the word as it was written in the list, or ``""``.  Every
    step is linear in the length of the text: RE2 literal alternations and set look-ups.
    """

    __slots__ = (
        "_phrase_heads",
        "_phrase_len",
        "_phrases",
        "_spelled",
        "_spelled_keys",
        "_symbolic",
        "_symbolic_keys",
        "_tokens",
        "_unspaced",
        "_unspaced_keys",
        "words",
    )

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(words)
        unspaced: dict[str, str] = {}  # separator-free form -> word
        symbolic: dict[str, str] = {}  # normalised form -> word (words with symbols)
        tokens: dict[str, str] = {}  # one token (or a phrase's tokens joined) -> word
        phrases: dict[tuple[str, ...], str] = {}
        spelled: dict[str, str] = {}  # letters of a word spelled out one by one -> word
        symbolic_alts: list[str] = []
        for word in self.words:
            if not isinstance(word, str):
                raise TypeError(f"words must be strings, got {type(word).__name__}")
            norm = " ".join(normalise(word).split())
            if not norm:
                continue
            if _UNSPACED_CHAR.search(norm):
                key = strip_separators(norm)
                if key:
                    unspaced.setdefault(key, word)
                continue
            toks = tuple(_TOKEN.findall(norm))
            if not toks or any(unicodedata.category(ch)[0] == "S" for ch in norm):
                # Symbols that carry meaning ("c++", "🔞"): match literally, with a
                # word edge on each side that starts or ends with a letter or digit.
                if norm not in symbolic:
                    symbolic[norm] = word
                    left = _EDGE if _TOKEN.match(norm[0]) else ""
                    right = _EDGE if _TOKEN.match(norm[-1]) else ""
                    symbolic_alts.append(f"{left}({re2.escape(norm)}){right}")
                continue
            joined = "".join(toks)
            tokens.setdefault(joined, word)
            if len(toks) > 1:
                phrases.setdefault(toks, word)
            elif len(joined) >= 3:
                spelled.setdefault(joined, word)
        self._unspaced_keys = unspaced
        self._unspaced: Any = _literal_alternation(unspaced) if unspaced else None
        self._symbolic_keys = symbolic
        self._symbolic: Any = None
        if symbolic_alts:
            self._symbolic = re2.compile("|".join(symbolic_alts), _re2_options())
        self._tokens = tokens
        self._phrases = phrases
        self._phrase_heads = frozenset(p[0] for p in phrases)
        self._phrase_len = max((len(p) for p in phrases), default=0)
        self._spelled_keys = spelled
        self._spelled: Any = _literal_alternation(spelled) if spelled else None

    def __len__(self) -> int:
        return (
            len(self._unspaced_keys) + len(self._symbolic_keys) + len(self._tokens)
        )

    def search(self, text: str) -> str:
        """The first listed word found in ``text`` (as written in the list), or ``""``."""
        if not text:
            return ""
        norm = normalise(text)
        if self._unspaced is not None:
            m = self._unspaced.search(_shadow(norm))
            if m is not None:
                return self._unspaced_keys[m.group(0)]
        if self._symbolic is not None:
            m = self._symbolic.search(norm)
            if m is not None:
                found = next(g for g in m.groups() if g is not None)
                return self._symbolic_keys[found]
        if not (self._tokens or self._spelled_keys):
            return ""
        return self._search_tokens(_tokens(norm))

    def _search_tokens(self, toks: tuple[str, ...]) -> str:
        words = self._tokens
        if not words.keys().isdisjoint(toks):
            return next(words[t] for t in toks if t in words)
        if self._phrases:
            heads = self._phrase_heads
            size = self._phrase_len
            for i, tok in enumerate(toks):
                if tok in heads:
                    for n in range(2, size + 1):
                        hit = self._phrases.get(tuple(toks[i : i + n]))
                        if hit is not None:
                            return hit
        if self._spelled is not None:
            # Runs of three or more one-letter tokens: "s p a m", "s.p.a.m".
            for run in _SPELLED_RUN.findall("\x00".join(toks)):
                m = self._spelled.search(run.replace("\x00", ""))
                if m is not None:
                    return self._spelled_keys[m.group(0)]
        return ""


@lru_cache(maxsize=256)
def word_matcher(words: tuple[str, ...]) -> WordMatcher:
    """A cached :class:`WordMatcher` for a tuple of words."""
    return WordMatcher(words)


# -- fingerprints --------------------------------------------------------------------------


@lru_cache(maxsize=256)
def fingerprint(text: str) -> str:
    """A short hash of ``text`` that ignores case, width, invisible characters, spacing
    and punctuation, so trivially varied copies of a message collide."""
    norm = normalise(text)
    core = strip_separators(norm) or "".join(norm.split())
    return hashlib.blake2b(core.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


# -- links, domains, mentions, capitals ----------------------------------------------------

_TLDS = (
    "com|net|org|info|biz|io|co|me|cc|tv|xyz|top|vip|club|shop|site|online|app|dev|ly|gg|"
    "tk|ml|ga|cf|gq|link|live|fun|icu|cn|hk|tw|jp|kr|ru|de|uk|fr|in|us|eu|ca|au|br|win|"
    "bet|loan|work|click|store|cloud|pro|ai|so|to|su|ws|la|pw|ink|wang|ren|asia|mobi|"
    "today|space|website|tech|host|buzz|rest|cyou|sbs|cfd|bond|beauty|quest|lol|page|"
    "email|game|games|money|cash|market|news|plus|run|world|zone|one|life|best|finance"
)
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
_LINK_RE = re2.compile(
    r"(?i)(?:^|[^A-Za-z0-9\-._@/])("
    rf"(?:https?|ftp)://{_URL_CHARS}+"
    rf"|www\.{_URL_CHARS}+"
    rf"|(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+(?:{_TLDS})\b(?:[:/?#]{_URL_CHARS}*)?"
    r")",
    _re2_options(),
)
_MENTION_RE = re2.compile(
    r"(?:^|[^\p{L}\p{N}_@.\-])(@[\p{L}\p{N}_][\p{L}\p{N}_.\-]*)|<@[!&]?(\d+)>",
    _re2_options(),
)
_TRAILING = ".,;:!?'\"*"
#: Ideographic full stops are used to hide domains ("example。com").
_DOT_LIKE = str.maketrans({"\u3002": ".", "\uff61": ".", "\ufe52": "."})
#: Detectors report at most this many items.
MAX_FOUND = 1000


def _trim_url(url: str) -> str:
    while url:
        last = url[-1]
        unbalanced = last in ")]" and url.count("(" if last == ")" else "[") < url.count(last)
        if last in _TRAILING or unbalanced:
            url = url[:-1]
        else:
            break
    return url


@lru_cache(maxsize=64)
def _links(text: str) -> tuple[str, ...]:
    form = _display_form(text).translate(_DOT_LIKE)
    found: list[str] = []
    for m in _LINK_RE.finditer(form):
        url = _trim_url(m.group(1))
        if url:
            found.append(url)
            if len(found) >= MAX_FOUND:
                break
    return tuple(found)


def links(text: str) -> list[str]:
    """The URLs in ``text`` (``https://…``, ``www.…`` and bare domains), in order."""
    return list(_links(text))


def host_of(url: str) -> str:
    """The lower-cased host name of a URL found by :func:`links`."""
    rest = url.split("://", 1)[1] if "://" in url else url
    for stop in "/?#":
        rest = rest.split(stop, 1)[0]
    rest = rest.rsplit("@", 1)[-1]
    if rest.startswith("["):
        return rest.split("]", 1)[0].lstrip("[").lower()
    return rest.split(":", 1)[0].rstrip(".").lower()


def domains(text: str) -> list[str]:
    """The distinct lower-cased host names of the links in ``text``, in order."""
    seen: dict[str, None] = {}
    for url in _links(text):
        host = host_of(url)
        if host:
            seen.setdefault(host, None)
    return list(seen)


def mentions(text: str) -> list[str]:
    """The ``@name`` mentions in ``text`` (``<@123>`` platform mentions as ``@123``)."""
    found: list[str] = []
    for m in _MENTION_RE.finditer(_display_form(text)):
        name = m.group(1)
        name = name.rstrip(".-") if name is not None else "@" + m.group(2)
        if len(name) > 1:
            found.append(name)
            if len(found) >= MAX_FOUND:
                break
    return found


def caps_ratio(text: str) -> float:
    """The share of cased letters in ``text`` that are upper case (0.0 when none)."""
    upper = sum(map(str.isupper, text))
    lower = sum(map(str.islower, text))
    total = upper + lower
    return upper / total if total else 0.0

