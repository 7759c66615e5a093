"""The YAML parser's own words, in the operator's language.

A YAML syntax error is worded by the parser (libyaml, or PyYAML's pure-Python parser):
``did not find expected key (while parsing a block mapping)``.  Its problems and
contexts are a fixed set of texts, listed here and marked for translation, so that
:func:`engage_rules.lang.yaml_source.parse_yaml_text` words the whole problem in the
operator's language; a text not listed (a newer parser's) is shown as the parser wrote it.
"""

from __future__ import annotations

from ..i18n import N_, _

#: What libyaml and PyYAML say went wrong (their ``problem``).
PROBLEMS = frozenset(
    {
        N_("did not find expected node content"),
        N_("did not find expected key"),
        N_("did not find expected ',' or ']'"),
        N_("did not find expected ',' or '}'"),
        N_("did not find expected '-' indicator"),
        N_("did not find expected <document start>"),
        N_("did not find expected comment or line break"),
        N_("did not find expected whitespace or line break"),
        N_("could not find expected ':'"),
        N_("mapping values are not allowed in this context"),
        N_("mapping values are not allowed here"),
        N_("mapping keys are not allowed here"),
        N_("block sequence entries are not allowed in this context"),
        N_("sequence entries are not allowed here"),
        N_("found character that cannot start any token"),
        N_("found a tab character that violates indentation"),
        N_("found a tab character where an indentation space is expected"),
        N_("found unexpected end of stream"),
        N_("found unexpected ':'"),
        N_("found unexpected document separator"),
        N_("found unknown escape character"),
        N_("found undefined tag handle"),
        N_("found duplicate anchor; first occurrence"),
        N_("invalid indentation or unclosed '[' or '{'"),
        N_("invalid leading UTF-8 octet"),
        N_("invalid trailing UTF-8 octet"),
        N_("control characters are not allowed"),
        N_("did not find URI escaped octet"),
        N_("found an incorrect leading UTF-8 octet"),
        N_("found an incorrect trailing UTF-8 octet"),
        N_("found undefined alias"),
        N_("did not find expected alphabetic or numeric character"),
        N_("did not find the expected '>'"),
        N_("did not find expected tag URI"),
    }
)
#: Where the parser was when it found the problem (its ``context``).
CONTEXTS = frozenset(
    {
        N_("while parsing a block mapping"),
        N_("while parsing a block collection"),
        N_("while parsing a block node"),
        N_("while parsing a flow node"),
        N_("while parsing a flow sequence"),
        N_("while parsing a flow mapping"),
        N_("while parsing a node"),
        N_("while parsing a tag"),
        N_("while parsing a quoted scalar"),
        N_("while scanning a simple key"),
        N_("while scanning a quoted scalar"),
        N_("while scanning a double-quoted scalar"),
        N_("while scanning a plain scalar"),
        N_("while scanning a block scalar"),
        N_("while scanning an anchor"),
        N_("while scanning an alias"),
        N_("while scanning a tag"),
        N_("while scanning a directive"),
        N_("while scanning a %TAG directive"),
        N_("while scanning a %YAML directive"),
        N_("while scanning for the next token"),
        N_("while composing a mapping"),
    }
)


def yaml_words(text: str) -> str:
    """``text`` (a parser's problem or context) in the current language when it is one
    of the texts above, else as written."""
    return _(text) if text in PROBLEMS or text in CONTEXTS else text
