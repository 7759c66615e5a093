"""What the runtime gives a source that connects by itself (until the plugin API
exports it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from engage_rules.plugin_api import Event


class SourceContext(Protocol):
    event_types: frozenset[str]
    platform: str
    clock: Callable[[], float]
    log: logging.Logger

    def submit(
        self,
        events: list[Event],
        *,
        key: str | None = None,
        cursor: tuple[str, str] | None = None,
    ) -> Future[Any]: ...

    def cursor(self, name: str) -> str | None: ...


class ServiceStopping(Exception):
    pass
