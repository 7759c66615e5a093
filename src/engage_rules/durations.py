"""Durations as operators write them: ``30s``, ``10m``, ``2h``, ``14d``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

#: The longest duration a playbook may name (ten years).
MAX_DURATION = timedelta(days=3660)


def parse_duration(text: object) -> timedelta:
    """Parse ``30s`` / ``10m`` / ``2h`` / ``14d`` / ``2w``; raise ValueError otherwise."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(
            f"expected a duration such as 30s, 10m, 2h, 14d or 2w, got {text!r}"
        )
    m = _DURATION_RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration; write it like 30s, 10m, 2h, 14d or 2w")
    value = timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])
    if value > MAX_DURATION:
        raise ValueError(f"duration {text!r} is longer than the limit of 3660d")
    return value


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of a duration (``90m`` stays ``90m``; ``7d`` → ``1w``)."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
