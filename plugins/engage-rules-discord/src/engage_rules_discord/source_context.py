"""What the gateway source needs from the runtime (the shape of ``SourceContext``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from engage_rules.errors import ServiceStopping


class Context(Protocol):
    event_types: frozenset[str]
    platform: str
    log: logging.Logger
    clock: Callable[[], float]

    def submit(
        self,
        events: list[Any],
        *,
        key: str | None = None,
        cursor: tuple[str, str] | None = None,
    ) -> Future[Any]: ...

    def cursor(self, name: str) -> str | None: ...


__all__ = ["Context", "ServiceStopping"]
