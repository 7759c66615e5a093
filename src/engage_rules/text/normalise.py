r"""Text normalisation, message fingerprints, links and mentions (docs/reference.md §5.9).

Members evade filters with full-width letters (``ＳＰＡＭ``), invisible characters
(``代\u200b刷``), stray combining marks (``s̶p̶a̶m̶``) and separators inserted between
characters (``加 微 信``, ``代-刷``).  :func:`normalise` undoes the first three (NFKC,
invisible characters and leftover diacritics removed, case folding);
:func:`strip_separators` and :func:`separator_runs` let the word matcher
(:mod:`engage_rules.text.wordmatch`) see through the last.  :func:`fingerprint` hashes a
message so that trivially varied copies collide (``duplicates()``), and :func:`links`,
:func:`domains` and :func:`mentions` find what a message points at.

Every step is linear in the length of the text: RE2 and simple character-class scans.
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
    "NO_TEXT",
    "UNSPACED_RANGES",
    "caps_ratio",
    "domains",
    "fingerprint",
    "links",
    "mentions",
    "normalise",
    "separator_runs",
    "strip_separators",
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
    ("Zs", "Zl", "Zp", "Cc", "Cf", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So")
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
        self.astral: dict[int, None] = {
            cp: None for lo, hi in ranges if lo >= 0x10000 for cp in range(lo, hi + 1)
        }
        self.astral_space = dict.fromkeys(self.astral, " ")

    def strip(self, text: str) -> str:
        text = self.bmp.sub("", text)
        if not text.isascii() and _HAS_ASTRAL.search(text):
            text = text.translate(self.astral)
        return text

    def runs(self, text: str) -> list[tuple[int, int]]:
        if not text.isascii() and _HAS_ASTRAL.search(text):
            text = text.translate(self.astral_space)  # same length: positions hold
        return [m.span() for m in self.bmp.finditer(text)]


_SEPARATORS: _Separators | None = None


def _separators() -> _Separators:
    global _SEPARATORS
    if _SEPARATORS is None:
        _SEPARATORS = _Separators()
    return _SEPARATORS


def strip_separators(text: str) -> str:
    """``text`` without whitespace, punctuation and symbols (emoji included)."""
    return _separators().strip(text)


def separator_runs(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` spans of the runs of separators in ``text``, in order."""
    return _separators().runs(text)


# -- scripts written without spaces ---------------------------------------------------------

#: Scripts written without spaces between words (Han, kana, Hangul, Bopomofo, Thai, Lao,
#: Khmer, Myanmar), as a regular-expression character class body: words in them match
#: as substrings (see :mod:`engage_rules.text.wordmatch`).
UNSPACED_RANGES = (
    "\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u19e0-\u19ff"
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3040-\u30ff"
    "\u3100-\u312f\u3130-\u318f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\ua9e0-\ua9ff\uaa60-\uaa7f\uac00-\ud7af"
    "\ud7b0-\ud7ff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 64 << 20
    return options


# -- fingerprints --------------------------------------------------------------------------


@lru_cache(maxsize=256)
def fingerprint(text: str) -> str:
    """A short hash of ``text`` that ignores case, width, invisible characters, spacing
    and punctuation, so trivially varied copies of a message collide."""
    norm = normalise(text)
    core = strip_separators(norm) or "".join(norm.split())
    return hashlib.blake2b(core.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


#: The fingerprint of a message without text (a photo, an album, a sticker; or only
#: spaces and invisible characters): there is no text to repeat, so ``duplicates()``
#: neither remembers nor counts it.
NO_TEXT = fingerprint("")


# -- links, domains, mentions, capitals ----------------------------------------------------

_TLDS = (
    "com|net|org|info|biz|io|co|me|cc|tv|xyz|top|vip|club|shop|site|online|app|dev|ly|gg|"
    "tk|ml|ga|cf|gq|link|live|fun|icu|cn|hk|tw|jp|kr|ru|de|uk|fr|in|us|eu|ca|au|br|win|"
    "bet|loan|work|click|store|cloud|pro|ai|so|to|su|ws|la|pw|ink|wang|ren|asia|mobi|"
    "today|space|website|tech|host|buzz|rest|cyou|sbs|cfd|bond|beauty|quest|lol|page|"
    "email|game|games|money|cash|market|news|plus|run|world|zone|one|life|best|finance"
)
#: Letters and digits of host names: Latin, Cyrillic and Greek letters are included so
#: that look-alike domains (``ехаmple.com`` with Cyrillic letters) are found too; Han and
#: other unspaced scripts are not, so Chinese text after a bare link is not taken in.
_HOST = r"\p{Latin}\p{Cyrillic}\p{Greek}0-9"
_URL_CHARS = rf"[{_HOST}\-._~:/?#\[\]@!$&'()*+,;=%]"
_LINK_RE = re2.compile(
    rf"(?i)(?:^|[^{_HOST}\-._@/])("
    rf"(?:https?|ftp)://{_URL_CHARS}+"
    rf"|www\.{_URL_CHARS}+"
    rf"|(?:[{_HOST}](?:[{_HOST}\-]*[{_HOST}])?\.)+(?:{_TLDS})\b(?:[:/?#]{_URL_CHARS}*)?"
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
