"""Durations as operators write them: ``30s``, ``10m``, ``2h``, ``14d``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION_RE = re.compile(r"^\s*([0-9]+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

#: The longest duration a playbook may name (ten years).
MAX_DURATION = timedelta(days=3660)
_MAX_SECONDS = int(MAX_DURATION.total_seconds())


def parse_duration(text: object) -> timedelta:
    """Parse ``30s`` / ``10m`` / ``2h`` / ``14d`` / ``2w``; raise ValueError otherwise."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(
            f"expected a duration such as 30s, 10m, 2h, 14d or 2w, got {text!r}"
        )
    shown = text if len(text) <= 40 else text[:37] + "..."
    m = _DURATION_RE.match(text)
    if not m:
        raise ValueError(f"{shown!r} is not a duration; write it like 30s, 10m, 2h, 14d or 2w")
    digits = m.group(1).lstrip("0") or "0"
    # Compared before converting: a number of any length is an error, not a crash.
    if len(digits) > 9 or int(digits) * _UNIT_SECONDS[m.group(2)] > _MAX_SECONDS:
        raise ValueError(f"duration {shown!r} is longer than the limit of 3660d (ten years)")
    return timedelta(seconds=int(digits) * _UNIT_SECONDS[m.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of a duration (``90m`` stays ``90m``; ``7d`` → ``1w``)."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
