"""The words of the parsers expressions use, in the operator's language.

An expression or template that does not parse is reported with Jinja2's own message
(``unexpected end of template, expected 'end of print statement'.``), and a pattern RE2
refuses with RE2's (``invalid perl operator: (?<=``).  Their forms are few and fixed:
they are recognised here and worded with texts marked for translation (in English, the
libraries' own words), keeping the parts that quote the operator's text; a message of
another form (a newer library's) is shown as the library wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..i18n import N_, _

#: Jinja2's syntax messages, by form: the pattern and how to word a match.
_JINJA: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"unexpected end of template, expected (?P<what>.+)\.", re.S),
        lambda m: _("unexpected end of template, expected {what}.").format(what=m["what"]),
    ),
    (
        re.compile(r"expected token (?P<expected>.+), got (?P<got>.+)", re.S),
        lambda m: _("expected token {expected}, got {got}").format(
            expected=m["expected"], got=m["got"]
        ),
    ),
    (
        re.compile(r"unexpected (?P<token>'.*'), expected (?P<expected>'.*')", re.S),
        lambda m: _("unexpected {token}, expected {expected}").format(
            token=m["token"], expected=m["expected"]
        ),
    ),
    (
        re.compile(r"unexpected char (?P<char>.+) at (?P<pos>\d+)", re.S),
        lambda m: _("unexpected char {char} at {pos}").format(char=m["char"], pos=m["pos"]),
    ),
    (
        re.compile(r"unexpected (?P<token>'.*')", re.S),
        lambda m: _("unexpected {token}").format(token=m["token"]),
    ),
]
#: The sentences of Jinja2's message about a block tag it did not expect.
_JINJA_SENTENCES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"Unexpected end of template\."),
        lambda m: _("Unexpected end of template."),
    ),
    (
        re.compile(r"Encountered unknown tag (?P<tag>'[^']*')\."),
        lambda m: _("Encountered unknown tag {tag}.").format(tag=m["tag"]),
    ),
    (
        re.compile(
            r"You probably made a nesting mistake\. Jinja is expecting this tag, "
            r"but currently looking for (?P<tags>.+?)\."
        ),
        lambda m: _(
            "You probably made a nesting mistake. Jinja is expecting this tag, "
            "but currently looking for {tags}."
        ).format(tags=m["tags"]),
    ),
    (
        re.compile(r"Jinja was looking for the following tags: (?P<tags>.+?)\."),
        lambda m: _("Jinja was looking for the following tags: {tags}.").format(tags=m["tags"]),
    ),
    (
        re.compile(r"The innermost block that needs to be closed is (?P<tag>'[^']*')\."),
        lambda m: _("The innermost block that needs to be closed is {tag}.").format(tag=m["tag"]),
    ),
]
#: What RE2 says is wrong with a pattern (the part of its message before ``: ``).
RE2_REASONS = frozenset(
    {
        N_("invalid escape sequence"),
        N_("invalid character class"),
        N_("invalid character class range"),
        N_("missing ]"),
        N_("missing )"),
        N_("unexpected )"),
        N_("trailing \\"),
        N_("no argument for repetition operator"),
        N_("missing argument to repetition operator"),
        N_("invalid repetition size"),
        N_("bad repetition operator"),
        N_("invalid nested repetition operator"),
        N_("invalid perl operator"),
        N_("invalid UTF-8"),
        N_("invalid named capture group"),
    }
)


def jinja_words(message: str) -> str:
    """A Jinja2 syntax message in the current language (as written when its form is not
    one of those above)."""
    text = message.strip()
    for pattern, word in _JINJA:
        m = pattern.fullmatch(text)
        if m is not None:
            return word(m)
    parts: list[str] = []
    rest = text
    while rest:
        for pattern, word in _JINJA_SENTENCES:
            m = pattern.match(rest)
            if m is not None:
                parts.append(word(m))
                rest = rest[m.end() :].lstrip()
                break
        else:
            return message
    return _(" ").join(parts)


def re2_words(reason: str) -> str:
    """RE2's reason for refusing a pattern, in the current language."""
    head, sep, detail = reason.partition(": ")
    if head not in RE2_REASONS:
        return reason
    return _(head) + (_(": ") + detail if sep else "")
