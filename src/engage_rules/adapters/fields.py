"""Fields a platform never gives, and the rules that read them.

An adapter may declare ``missing_fields``: a mapping from an expression name a rule can
read (``member.account_age``, ``member.created_at``...) to why its platform never fills it
(``the Bot API gives no account creation time``).  A rule whose condition reads such a
field behaves on that platform as if the field were always absent — the shipped
``new-account-links`` rule can never fire on Telegram — so ``engage-rules validate
--platform NAME`` and ``engage-rules run`` report it as a warning naming the rule and
where it is written (docs/plugins.md, "Adapters").

It may likewise declare ``missing_events``: event types its platform never produces, each
with why (``message.edited``: ``QQ has no message edits``).  A rule that asks for such an
event — its ``on:`` names it, or ``edits: true`` asks for ``message.edited`` — never runs
for it on that platform, and the same two commands warn about it.  A rule that only
receives edits because it moderates posts (the compiler adds ``message.edited`` to those)
is not warned about: it still does its work on the posts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..compile.playbook import CompiledPlaybook
from ..errors import Problem
from ..i18n import _


def _declared(adapter_or_factory: Any, attribute: str) -> Mapping[str, str]:
    """The table ``attribute`` an adapter (or its factory, or its class) declares."""
    declared = getattr(adapter_or_factory, attribute, None)
    if not isinstance(declared, Mapping):
        return {}
    return {str(k): str(v) for k, v in declared.items()}


def missing_fields(adapter_or_factory: Any) -> Mapping[str, str]:
    """The ``missing_fields`` an adapter (or its factory, or its class) declares."""
    return _declared(adapter_or_factory, "missing_fields")


def missing_events(adapter_or_factory: Any) -> Mapping[str, str]:
    """The ``missing_events`` an adapter (or its factory, or its class) declares."""
    return _declared(adapter_or_factory, "missing_events")


def _warning(source: Any, path: tuple[Any, ...], message: str) -> Problem:
    """``message`` at ``path`` of the playbook's source (when it has one)."""
    file, line, col = source.pos(path) if source is not None else ("<playbook>", 0, 0)
    return Problem(file, line, col, message)


def _texts(value: Any) -> Iterator[str]:
    """The expressions of a condition (a text, a list of them, all/any/not maps)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)


def missing_field_warnings(
    playbook: CompiledPlaybook, platforms: Mapping[str, Mapping[str, str]]
) -> list[Problem]:
    """One warning per (rule, platform, field) where a rule's condition reads a field the
    platform never fills.  ``platforms``: platform name → its ``missing_fields``."""
    source = playbook.loaded.source if playbook.loaded is not None else None
    out: list[Problem] = []
    for rule in playbook.rules:
        texts = list(_texts(rule.cond_source))
        if not texts:
            continue
        for platform, fields in sorted(platforms.items()):
            for name, why in sorted(fields.items()):
                pattern = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
                if not any(pattern.search(t) for t in texts):
                    continue
                message = _(
                    "warning: rule {rule!r} reads {field}, which the {platform} adapter "
                    "never fills ({why}): on {platform} it is always none, so this "
                    "condition cannot rely on it"
                ).format(rule=rule.id, field=name, platform=platform, why=why)
                out.append(_warning(source, (*rule.source, "if"), message))
    return sorted(out)


def _asked_for(playbook: CompiledPlaybook, rule: Any) -> dict[str, tuple[Any, ...]]:
    """The event types a rule asks for itself, each with where it asks (the path of its
    ``on:`` or ``edits:``); not the ``message.edited`` the compiler adds to rules that
    moderate posts."""
    where = (*rule.source, "on")
    spec_rules = playbook.loaded.spec.rules if playbook.loaded is not None else []
    spec = spec_rules[rule.index] if rule.index < len(spec_rules) else None
    if spec is None or spec.id != rule.id:  # no source: all but an added edit
        added = "message.posted" in rule.types
        return {t: where for t in rule.types if not (added and t == "message.edited")}
    on = spec.on
    asked = {
        t: where for t in ([on] if isinstance(on, str) else on if isinstance(on, list) else [])
    }
    if spec.edits is True and "message.edited" not in asked:
        asked["message.edited"] = (*rule.source, "edits")
    return asked


def missing_event_warnings(
    playbook: CompiledPlaybook, platforms: Mapping[str, Mapping[str, str]]
) -> list[Problem]:
    """One warning per (rule, platform, event type) where a rule asks for an event type
    the platform never produces.  ``platforms``: platform name → its ``missing_events``."""
    source = playbook.loaded.source if playbook.loaded is not None else None
    out: list[Problem] = []
    for rule in playbook.rules:
        asked = _asked_for(playbook, rule)
        for platform, events in sorted(platforms.items()):
            for name, why in sorted(events.items()):
                if name not in asked:
                    continue
                message = _(
                    "warning: rule {rule!r} runs on {event}, which the {platform} "
                    "adapter never produces ({why}): on {platform} the rule never "
                    "runs for it"
                ).format(rule=rule.id, event=name, platform=platform, why=why)
                out.append(_warning(source, asked[name], message))
    return sorted(out)


def platform_warnings(playbook: CompiledPlaybook, adapters: Mapping[str, Any]) -> list[Problem]:
    """The warnings of both kinds for ``adapters`` (name → adapter or its factory)."""
    fields = {name: missing_fields(a) for name, a in adapters.items()}
    events = {name: missing_events(a) for name, a in adapters.items()}
    return sorted(
        missing_field_warnings(playbook, fields) + missing_event_warnings(playbook, events)
    )


__all__ = [
    "missing_event_warnings",
    "missing_events",
    "missing_field_warnings",
    "missing_fields",
    "platform_warnings",
]
