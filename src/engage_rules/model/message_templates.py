"""Telling a stored English message again in the operator's language (docs/reference.md
§7, "Language"): the matching shared by quarantine messages (:mod:`.event_problems`) and
rule errors (:mod:`.rule_problems`).

Such a message is data, made in English from a template marked with ``N_()``; a printer
recognises which template made it and fills that template's translation with the same
values, shown as they were (a ``{name!r}`` placeholder's text keeps its quotes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache

from ..i18n import _

#: A placeholder of a template: ``{name}``, or with a conversion, ``{name!r}``.
PLACEHOLDER = re.compile(r"\{(\w+)(![rsa])?\}")


@cache
def pattern(template: str) -> re.Pattern[str]:
    """A pattern matching the messages ``template`` makes, a group per placeholder."""
    regex, at = [], 0
    for found in PLACEHOLDER.finditer(template):
        regex.append(re.escape(template[at : found.start()]))
        regex.append(f"(?P<{found.group(1)}>.*?)")
        at = found.end()
    regex.append(re.escape(template[at:]))
    return re.compile("".join(regex), re.S)


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with the matched ``values`` put back as they were shown."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def retell(
    message: str,
    templates: Iterable[str],
    nested: Callable[[str, str], str] | None = None,
) -> str | None:
    """``message`` told with the translation of the first of ``templates`` (longest
    first) that made it, or None when none did.  ``nested(name, value)`` may tell a
    value again (a value that is itself a message)."""
    for template in templates:
        found = pattern(template).fullmatch(message)
        if found is not None:
            values = found.groupdict()
            if nested is not None:
                values = {name: nested(name, value) for name, value in values.items()}
            return fill(_(template), values)
    return None
