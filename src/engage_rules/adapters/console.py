"""The ``console`` adapter: prints every action it is given as one JSON line.

Settings: ``stream`` (``stdout``, the default, or ``stderr``), ``platform`` (the name it
answers to; default ``console``).  It declares every action type, so routed to it the
whole story of a run is printed, as ``replay`` prints it.  It parses §3 event JSON.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import IO, Any

import orjson

from ..i18n import _
from ..model.events import Event
from .base import Delivery, DeliveryError
from .capabilities import action_types
from .events_payload import parse_engage_event
from .settings import reject_unknown


class ConsoleAdapter:
    """The ``console`` adapter: writes each action as one JSON line to a stream."""

    def __init__(
        self, stream: IO[str], name: str = "console", capabilities: frozenset[str] | None = None
    ) -> None:
        self.name = name
        #: Every action type: the console shows the whole story.
        self.capabilities = capabilities if capabilities is not None else action_types({})
        self._stream = stream
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ConsoleAdapter:
        reject_unknown(settings, ("stream",), "console")
        which = settings.get("stream", "stdout")
        if which not in ("stdout", "stderr"):
            raise ValueError(
                _("console: stream must be stdout or stderr, not {stream!r}").format(stream=which)
            )
        return cls(
            sys.stdout if which == "stdout" else sys.stderr,
            str(settings.get("platform") or "console"),
            action_types(settings),
        )

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        return parse_engage_event(payload)

    def deliver(self, action: Mapping[str, Any]) -> Delivery:
        line = orjson.dumps(dict(action)).decode() + "\n"
        try:
            with self._lock:
                self._stream.write(line)
                self._stream.flush()
        except (OSError, ValueError) as err:  # a closed pipe or stream
            raise DeliveryError(f"console: cannot write: {err}") from err
        return Delivery()

    def close(self) -> None:
        """Nothing to release (the stream belongs to the process)."""
