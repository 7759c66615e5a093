"""The adapter contract (DESIGN.md §9): what a platform adapter is to the runtime.

An adapter has two halves that are tested separately:

* **parse** — pure: a platform payload (the JSON a webhook or gateway delivered, already
  decoded) becomes zero or more :class:`~engage_rules.events.Event` values.  No I/O, so
  it is tested on recorded real payloads.  A payload it cannot read raises
  :class:`PayloadError` with a message naming what is wrong; a payload it understands but
  that carries nothing the engine cares about (a bot's own message, an unrelated update
  type) returns ``[]``.
* **deliver** — I/O only: one emitted action (the DESIGN.md §6 JSON shape) is carried out
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

from ..events import Event


class AdapterError(Exception):
    """Base class of adapter errors."""


class PayloadError(AdapterError):
    """An inbound platform payload that cannot be turned into events.

    ``path`` names the offending field (``"message.from.id"``) when one can be named.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class DeliveryError(AdapterError):
    """An action that could not be delivered.

    ``permanent``: retrying cannot help (400, 403, 404: a deleted message, a member who
    blocked the bot); the dispatcher records the failure and moves on.  Otherwise the
    dispatcher retries with exponential backoff and jitter, waiting at least
    ``retry_after`` seconds when the platform said so (429 ``Retry-After``).
    ``status`` is the HTTP status, when there was one.
    """

    def __init__(self, message: str, *, permanent: bool = False,
                 retry_after: float | None = None, status: int | None = None,
                 route: str | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status
        self.route = route


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
        """Carry out one action (DESIGN.md §6 shape).  Raises :class:`DeliveryError`."""
        ...

    def close(self) -> None:
        """Release connections.  Called once at shutdown."""
        ...
