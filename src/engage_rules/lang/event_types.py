"""Known event types, and the load-time hint for a rule's ``on:`` that looks misspelt.

Any dotted lower-case name is a valid event type (docs/reference.md §3): platforms and playbooks
invent their own.  The event types the built-in plugin and installed plugins register
(``register_event_types``), plus those the playbook raises itself with ``emit:``, are
*known*.  A rule whose ``on:`` names an unknown type that is one small edit away from a
known one (``mesage.posted``) almost certainly never fires, so loading reports a
**warning** — not an error — with a did-you-mean: ``file:line:col: warning: rule
'welcome': no plugin registers the event type 'mesage.posted'; did you mean
'message.posted'?``.  ``engage-rules validate`` prints warnings on stderr and still
exits 0; an unknown type with no close known type is accepted silently.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .._util.suggest import closest
from ..errors import Problem, SourceMap
from ..i18n import _

#: How similar (difflib ratio) an unknown type must be to a known one to be reported.
SIMILARITY = 0.85


def _emitted_types(value: Any) -> Iterator[str]:
    """The ``emit: {type: ...}`` types written anywhere in a playbook document."""
    if isinstance(value, Mapping):
        emit = value.get("emit")
        if isinstance(emit, Mapping) and isinstance(emit.get("type"), str):
            yield emit["type"]
        for child in value.values():
            yield from _emitted_types(child)
    elif isinstance(value, list):
        for child in value:
            yield from _emitted_types(child)


def event_type_warnings(
    merged: Mapping[str, Any], source: SourceMap, registered: frozenset[str]
) -> list[Problem]:
    """Warnings for rules whose ``on:`` names a type close to, but not, a known one
    (one ``registered`` by a plugin, or one the playbook emits itself)."""
    rules = merged.get("rules")
    if not isinstance(rules, list):
        return []
    known = registered | frozenset(_emitted_types(merged))
    out: list[Problem] = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            continue
        on = rule.get("on")
        types = [on] if isinstance(on, str) else on if isinstance(on, list) else []
        for j, name in enumerate(types):
            if not isinstance(name, str) or name in known:
                continue
            match = closest(name, known, cutoff=SIMILARITY)
            if match is None:
                continue
            path = ("rules", i, "on") if isinstance(on, str) else ("rules", i, "on", j)
            file, line, col = source.pos(path)
            out.append(
                Problem(
                    file,
                    line,
                    col,
                    _(
                        "warning: rule {id!r}: no plugin registers the event type "
                        "{name!r}; did you mean {match!r}?"
                    ).format(id=rule.get("id"), name=name, match=match),
                )
            )
    return out
