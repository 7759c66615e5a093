"""Fields a platform never gives, and the rules that read them.

An adapter may declare ``missing_fields``: a mapping from an expression name a rule can
read (``member.account_age``, ``member.created_at``...) to why its platform never fills it
(``the Bot API gives no account creation time``).  A rule whose condition reads such a
field behaves on that platform as if the field were always absent — the shipped
``new-account-links`` rule can never fire on Telegram — so ``engage-rules validate
--platform NAME`` and ``engage-rules run`` report it as a warning naming the rule and
where it is written (docs/plugins.md, "Adapters").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..compile.playbook import CompiledPlaybook
from ..errors import Problem
from ..i18n import _


def missing_fields(adapter_or_factory: Any) -> Mapping[str, str]:
    """The ``missing_fields`` an adapter (or its factory, or its class) declares."""
    declared = getattr(adapter_or_factory, "missing_fields", None)
    if not isinstance(declared, Mapping):
        return {}
    return {str(k): str(v) for k, v in declared.items()}


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
                file, line, col = (
                    source.pos((*rule.source, "if")) if source is not None else ("<playbook>", 0, 0)
                )
                out.append(
                    Problem(
                        file,
                        line,
                        col,
                        _(
                            "warning: rule {rule!r} reads {field}, which the {platform} adapter "
                            "never fills ({why}): on {platform} it is always none, so this "
                            "condition cannot rely on it"
                        ).format(rule=rule.id, field=name, platform=platform, why=why),
                    )
                )
    return sorted(out)


__all__ = ["missing_field_warnings", "missing_fields"]
