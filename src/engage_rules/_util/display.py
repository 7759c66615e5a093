"""Text as a terminal shows it: a Chinese (wide) character takes two columns, and a line
may break between two of them, where English breaks only at spaces."""

from __future__ import annotations

import re
import textwrap
import unicodedata

#: A wide character, one run of other non-space characters, or a run of spaces.
_TOKEN = re.compile(r"\s+|[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]|[^\s]")
#: Punctuation that never starts a line (it stays with the character before it).
_NO_START = frozenset("，。、；：？！）》」』】〉,.;:?!)]}")


def columns(text: str) -> int:
    """How many terminal columns ``text`` takes (a wide character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` columns (on the left with ``right``)."""
    fill = " " * max(0, width - columns(text))
    return fill + text if right else text + fill


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns (longer only for a word that does
    not fit alone), broken at spaces or between wide characters; text without wide
    characters is wrapped exactly as :func:`textwrap.wrap` does."""
    if columns(text) == len(text):
        return textwrap.wrap(text, width)
    lines: list[str] = []
    line, used, space = "", 0, False
    for word in _words(text):
        if word.isspace():
            space = bool(line)
            continue
        gap = 1 if space and line else 0
        size = columns(word)
        if line and used + gap + size > width and word[0] not in _NO_START:
            lines.append(line)
            line, used, gap = "", 0, 0
        line += " " * gap + word
        used += gap + size
        space = False
    if line:
        lines.append(line)
    return lines


def _words(text: str) -> list[str]:
    """The pieces a line may break between: runs of spaces, single wide characters and
    runs of narrow ones."""
    out: list[str] = []
    for token in _TOKEN.findall(text):
        narrow = not token.isspace() and columns(token) == 1
        if narrow and out and not out[-1].isspace() and columns(out[-1]) == len(out[-1]):
            out[-1] += token
        else:
            out.append(token)
    return out
