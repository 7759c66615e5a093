"""Values shown in messages: a short ``repr`` that is the same from run to run."""

from __future__ import annotations

import re
from typing import Any

#: The memory address in the ``repr`` of an object (`` at 0x7f…``).
ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


def shown(value: Any, limit: int = 80) -> str:
    """``repr(value)`` for a message: shortened, and without the memory address of an
    object (``<… object at 0x7f…>``), which would make the message differ between runs."""
    text = ADDRESS.sub("", repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"
