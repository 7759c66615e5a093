"""Checking an adapter's settings mapping (its section of the runtime config)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .._util.suggest import did_you_mean
from ..i18n import _

#: Settings the runtime gives every adapter: the config key it is configured under.
COMMON_SETTINGS = frozenset({"platform"})


def reject_unknown(settings: Mapping[str, Any], allowed: Collection[str], adapter: str) -> None:
    """Raise ValueError naming the first setting ``adapter`` does not know."""
    known = set(allowed) | COMMON_SETTINGS
    for key in settings:
        if key not in known:
            shown = known
            raise ValueError(
                _("{adapter}: unknown setting {key!r}{hint} (known: {known})").format(
                    adapter=adapter,
                    key=key,
                    hint=did_you_mean(key, shown),
                    known=", ".join(sorted(shown)),
                )
            )
