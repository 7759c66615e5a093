"""The adapter contract (docs/reference.md §9): what a platform adapter is to the runtime.

An adapter has two halves that are tested separately:

* **parse** — pure: a platform payload (the JSON a webhook or gateway delivered, already
  decoded) becomes zero or more :class:`~engage_rules.model.events.Event` values.  No I/O, so
  it is tested on recorded real payloads.  A payload it cannot read raises
  :class:`PayloadError` with a message naming what is wrong; a payload it understands but
  that carries nothing the engine cares about (a bot's own message, an unrelated update
  type) returns ``[]``.
* **deliver** — I/O only: one emitted action (the docs/reference.md §6.1 JSON shape) is carried out
  on the platform.  It returns a :class:`Delivery` on success and raises
  :class:`DeliveryError` otherwise, saying whether a retry can help and when
  (``retry_after`` from a 429's ``Retry-After`` or the platform's own rate-limit body).
  Every HTTP adapter takes a ``base_url`` setting so tests run against a local server.

``capabilities`` names the action types an adapter can deliver; a playbook that uses an
action no configured adapter supports fails to load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import AdapterError, DeliveryError, PayloadError
from ..model.events import Event

__all__ = [
    "Adapter",
    "AdapterError",
    "Delivery",
    "DeliveryError",
    "PayloadError",
]


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivered action: the platform's id for what it created (a message id), if any,
    and rate-limit hints the dispatcher uses to pace the next calls on ``route``."""

    platform_id: str | None = None
    route: str | None = None
    remaining: int | None = None  # calls left in the current rate-limit window
    reset_after: float | None = None  # seconds until that window resets
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Adapter(Protocol):
    """A platform adapter.  Built by its factory from a settings mapping (the adapter's
    section of the runtime config, secrets already read from the environment)."""

    #: The platform name events carry in ``platform`` and configs refer to.
    name: str
    #: The action types (``send``, ``delete_message``, ``mute``...) it can deliver.
    capabilities: frozenset[str]

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        """Platform payload → events.  Pure; raises :class:`PayloadError`."""
        ...

    def deliver(self, action: Mapping[str, Any]) -> Delivery:
        """Carry out one action (docs/reference.md §6.1 shape).  Raises :class:`DeliveryError`."""
        ...

    def close(self) -> None:
        """Release connections.  Called once at shutdown."""
        ...
