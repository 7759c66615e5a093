"""The adapter's reading of gateway payloads: :func:`.mapping.map_dispatch` with what it
must remember between payloads — which channel each thread belongs to (learned from
``THREAD_CREATE``, ``THREAD_UPDATE``, ``THREAD_LIST_SYNC`` and ``GUILD_CREATE``), bounded.
The live adapter and ``engage-rules discord map`` read payloads through this same class."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from engage_rules.plugin_api import Event, PayloadError

from .fields import Skip, Threads
from .mapping import MappingConfig, map_dispatch

#: Threads remembered (parent channel and name), least recently used first out.
THREADS = 100_000


class DispatchParser:
    """Gateway payloads → events, remembering the threads seen."""

    def __init__(
        self,
        config: MappingConfig,
        *,
        clock: Callable[[], float] = time.time,
        threads: int = THREADS,
    ) -> None:
        self.config = config
        self._clock = clock
        self._size = threads
        self._threads: OrderedDict[str, tuple[str, str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        """A gateway payload → events (raises ``PayloadError``)."""
        return self.explain(payload)[0]

    def explain(self, payload: Any) -> tuple[list[Event], str | None]:
        """A gateway payload → (events, why there are none).  A relay that forwards
        gateway payloads may add a top-level ``received_at`` (ISO 8601) for the dispatches
        that carry no time; without it they are dated when parsed."""
        received = self._received_at(payload)
        try:
            return map_dispatch(payload, self.config, received, self.thread_of), None
        except Threads as found:
            self._learn(found)
            return [], found.reason
        except Skip as skip:
            return [], skip.reason

    def _received_at(self, payload: Any) -> datetime:
        if isinstance(payload, Mapping) and "received_at" in payload:
            raw = payload["received_at"]
            try:
                received = datetime.fromisoformat(raw) if isinstance(raw, str) else None
            except ValueError:
                received = None
            if received is None or received.tzinfo is None:
                raise PayloadError("expected an ISO 8601 time with an offset", "received_at")
            return received
        return datetime.fromtimestamp(self._clock(), UTC)

    def thread_of(self, channel_id: str) -> tuple[str, str | None] | None:
        with self._lock:
            return self._threads.get(channel_id)

    def _learn(self, found: Threads) -> None:
        if self._size == 0:
            return
        with self._lock:
            for tid, parent in found.parents.items():
                self._threads[tid] = (parent, found.names.get(tid))
                self._threads.move_to_end(tid)
            while len(self._threads) > self._size:
                self._threads.popitem(last=False)


__all__ = ["THREADS", "DispatchParser"]
