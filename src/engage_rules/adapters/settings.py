"""Checking an adapter's settings mapping (its section of the runtime config)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from difflib import get_close_matches
from typing import Any

#: Settings the runtime gives every adapter (the config key it is configured under).
COMMON_SETTINGS = frozenset({"platform"})


def reject_unknown(settings: Mapping[str, Any], allowed: Collection[str], adapter: str) -> None:
    """Raise ValueError naming the first setting ``adapter`` does not know."""
    known = set(allowed) | COMMON_SETTINGS
    for key in settings:
        if key not in known:
            close = get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{adapter}: unknown setting {key!r}{hint}; "
                             f"known: {', '.join(sorted(known))}")
