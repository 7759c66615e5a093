"""A fake platform adapter for tests of runtimes, dispatchers and playbooks.

:class:`FakeAdapter` implements :class:`~engage_rules.adapters.base.Adapter` in memory:
``parse`` turns payloads that already are events (docs/reference.md §3.1 objects) into events,
``deliver`` records each action in :attr:`FakeAdapter.delivered` and returns a
:class:`Delivery`.  It can be told to fail::

    fake = FakeAdapter()
    fake.fail_next(DeliveryError("rate limited", retry_after=3.0, status=429))
    fake.fail_always("kick", DeliveryError("no rights", permanent=True, status=403))
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from ..adapters.base import Delivery, DeliveryError, PayloadError
from ..model.events import Event, EventError, event_from_obj
from ..plugins.manager import default_registry


class FakeAdapter:
    """An in-memory adapter: records what it delivers, fails when told to."""

    def __init__(self, name: str = "fake", capabilities: Iterable[str] | None = None) -> None:
        self.name = name
        self.capabilities: frozenset[str] = (
            frozenset(capabilities)
            if capabilities is not None
            else frozenset(default_registry().actions)
        )
        #: Every delivered action, in delivery order (copies of the mappings).
        self.delivered: list[dict[str, Any]] = []
        #: Every delivery attempt, failed ones included.
        self.attempts: list[dict[str, Any]] = []
        self.closed = False
        self._next_failures: deque[DeliveryError] = deque()
        self._always: dict[str, DeliveryError] = {}
        self._ids = 0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> FakeAdapter:
        """The adapter factory form: ``{"name": ..., "capabilities": [...]}``."""
        caps = settings.get("capabilities")
        return cls(
            str(settings.get("name", "fake")), None if caps is None else [str(c) for c in caps]
        )

    # -- failure injection -------------------------------------------------------------------

    def fail_next(self, error: DeliveryError, times: int = 1) -> None:
        """Make the next ``times`` deliveries (of any type) raise ``error``."""
        self._next_failures.extend([error] * times)

    def fail_always(self, action_type: str, error: DeliveryError) -> None:
        """Make every delivery of ``action_type`` raise ``error`` (until :meth:`heal`)."""
        self._always[action_type] = error

    def heal(self) -> None:
        """Forget every injected failure."""
        self._next_failures.clear()
        self._always.clear()

    # -- the Adapter protocol ------------------------------------------------------------------

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        """A payload is one event object, or ``{"events": [event objects]}``."""
        if not isinstance(payload, Mapping):
            raise PayloadError("a payload must be a JSON object")
        batch = "events" in payload
        items = payload["events"] if batch else [payload]
        if not isinstance(items, list):
            raise PayloadError("must be a list of events", path="events")
        events = []
        for i, item in enumerate(items):
            try:
                event = event_from_obj(dict(item) if isinstance(item, Mapping) else item)
            except EventError as err:
                raise PayloadError(str(err), path=f"events[{i}]" if batch else None) from None
            if event.platform is None:
                event.platform = self.name
            events.append(event)
        return events

    def deliver(self, action: Mapping[str, Any]) -> Delivery:
        record = dict(action)
        self.attempts.append(record)
        if self.closed:
            raise DeliveryError("the adapter is closed", permanent=True)
        kind = record.get("type")
        if not isinstance(kind, str) or kind not in self.capabilities:
            raise DeliveryError(f"{self.name} cannot deliver {kind!r}", permanent=True)
        if self._next_failures:
            raise self._next_failures.popleft()
        if kind in self._always:
            raise self._always[kind]
        self.delivered.append(record)
        self._ids += 1
        return Delivery(platform_id=f"{self.name}-{self._ids}", route=kind)

    def close(self) -> None:
        self.closed = True

    # -- assertions helpers ---------------------------------------------------------------------

    def delivered_types(self) -> list[str]:
        return [str(a.get("type")) for a in self.delivered]
