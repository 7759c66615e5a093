"""Sources that connect by themselves: an adapter that reads its platform on its own.

An adapter may define ``connect(context) -> Source`` (docs/plugins.md, "Adapters that
connect by themselves"): Telegram's long polling, Discord's gateway.  The runtime calls it
for every configured adapter that has it, unless the adapter's config says
``connect: false`` or a webhook source of the config reads that adapter's payloads
(``parser:``, the relay set-up).  The source submits each platform delivery through its
:class:`SourceContext`; a delivery may carry a *cursor* ``(name, value)`` that the runtime
writes in the same store transaction as the delivery's decisions (``State.cursors``).
After a restart, even after ``kill -9``, :meth:`SourceContext.cursor` gives the value last
committed, so the source starts where the store is: nothing acknowledged is lost, and
what the platform delivers again is deduplicated by its event ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..compile.playbook import CompiledPlaybook
from ..model.events import Event
from .base import Adapter

__all__ = [
    "ConnectingAdapter",
    "Outcome",
    "Source",
    "SourceContext",
    "connecting_adapters",
    "playbook_event_types",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one submission of events to the runtime."""

    status: str  # accepted | duplicate | replayed | quarantined
    event_ids: list[str] = field(default_factory=list)
    #: For ``quarantined``: the reason code and a one-line message.
    reason: str | None = None
    message: str | None = None


class Submit(Protocol):
    def __call__(
        self,
        events: list[Event],
        key: str | None = None,
        *,
        cursor: tuple[str, str] | None = None,
    ) -> Future[Outcome]: ...


class Source(Protocol):
    """What reads events into the runtime.

    ``start`` returns at once (the source runs on threads of its own).  ``stop`` stops
    reading and returns promptly, without waiting for the futures of its submissions:
    the runtime commits what was queued only after every source's ``stop``.  A source
    may also define ``join(timeout: float) -> None``, called once that is done, to wait
    for its threads (which see their last answers by then)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


@dataclass
class SourceContext:
    """What a connecting adapter's source is given: where to submit, where it got to,
    and what the playbook listens to."""

    #: The adapter's configured name (the ``platform`` its events carry).
    platform: str
    #: Every event type the playbook can react to (to choose what to subscribe to:
    #: Telegram's ``allowed_updates``, Discord's gateway intents).
    event_types: frozenset[str]
    #: The runtime's intake (``Intake.submit``).
    submitter: Submit = field(repr=False)
    cursors: Mapping[str, str] = field(default_factory=dict)
    #: The wall clock (seconds since the epoch); injected in tests.
    clock: Callable[[], float] = field(default=lambda: 0.0, repr=False)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("engage_rules.source"))
    #: Stop the runtime because the source cannot go on (a revoked token...): the
    #: message is logged and ``engage-rules run`` exits with status 2.
    fail: Callable[[str], None] = field(default=lambda message: None, repr=False)

    def submit(
        self,
        events: list[Event],
        *,
        key: str | None = None,
        cursor: tuple[str, str] | None = None,
    ) -> Future[Outcome]:
        """Queue the events of one platform delivery (waits while the intake is full).

        The future completes once the transaction holding them is durable, with the
        :class:`Outcome` (``accepted``, ``duplicate``, ``replayed`` or ``quarantined``);
        it raises :class:`~engage_rules.errors.ServiceStopping` when the runtime stopped
        before taking it (nothing of it was committed).  ``cursor`` = ``(name, value)`` is
        written in that same transaction whatever the outcome; ``key`` is a processed id
        recorded with the delivery (a second delivery with the same key is
        ``replayed``).  ``[]`` with a cursor moves the cursor alone."""
        return self.submitter(events, key, cursor=cursor)

    def cursor(self, name: str) -> str | None:
        """The value last committed for the cursor ``name`` (as the runtime started)."""
        return self.cursors.get(name)


@runtime_checkable
class ConnectingAdapter(Adapter, Protocol):
    """An adapter that reads its platform by itself."""

    def connect(self, context: SourceContext) -> Source:
        """The source that reads the platform into ``context`` (not started yet)."""
        ...


def playbook_event_types(playbook: CompiledPlaybook) -> frozenset[str]:
    """The event types ``playbook`` can react to: its rules' triggers, the observers
    (flows, silence, delays), what counts as activity, what expressions count and what
    streaks follow."""
    types: set[str] = set(playbook.by_type)
    types.update(playbook.observers)
    types.update(playbook.activity_events)
    types.update(playbook.streak_types)
    types.update(playbook.count_windows)
    return frozenset(t for t in types if not t.startswith("@"))


def connecting_adapters(
    adapters: Mapping[str, Adapter],
    connect: Mapping[str, bool | None],
    parsers: set[str],
) -> dict[str, ConnectingAdapter]:
    """The adapters the runtime connects: those with a ``connect`` method, unless their
    config says ``connect: false`` or a webhook source reads their payloads (``parser:``;
    the relay set-up) and the config does not say ``connect: true``."""
    out: dict[str, ConnectingAdapter] = {}
    for name, adapter in adapters.items():
        wanted = connect.get(name)
        if wanted is False or not callable(getattr(adapter, "connect", None)):
            continue
        if wanted is None and name in parsers:
            continue
        out[name] = adapter  # type: ignore[assignment]  # has connect(), checked above
    return out


def describe(adapter: Any) -> str:
    """How an adapter's source is named in the log."""
    return f"{type(adapter).__name__} ({getattr(adapter, 'name', '?')})"
