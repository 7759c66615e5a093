"""The ``jsonl`` adapter: docs/reference.md §3.1 events in from a JSON Lines file or stdin (see the
runtime's jsonl source), actions out as JSON Lines appended to a file.

Settings: ``actions_out`` (file the actions are appended to; required to deliver),
``fsync`` (default false: flush only; true: fsync after every action, so a delivered
action survives a power loss), ``platform`` (the name it answers to; default ``jsonl``).
It declares every action type.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import orjson

from ..i18n import _
from ..model.events import Event
from .base import Delivery, DeliveryError
from .capabilities import action_types
from .events_payload import parse_engage_event
from .settings import reject_unknown


class JsonlAdapter:
    """The ``jsonl`` adapter: appends each action as one JSON line to a file."""

    def __init__(
        self,
        actions_out: str | Path | None,
        *,
        fsync: bool = False,
        name: str = "jsonl",
        capabilities: frozenset[str] | None = None,
    ) -> None:
        self.name = name
        #: Every action type: the file holds the whole story.
        self.capabilities = capabilities if capabilities is not None else action_types({})
        self.path = Path(actions_out) if actions_out is not None else None
        self.fsync = fsync
        self._out: IO[bytes] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> JsonlAdapter:
        reject_unknown(settings, ("actions_out", "fsync"), "jsonl")
        out = settings.get("actions_out")
        if out is not None and not isinstance(out, str):
            raise ValueError(_("jsonl: actions_out must be a file path"))
        return cls(
            out,
            fsync=bool(settings.get("fsync", False)),
            name=str(settings.get("platform") or "jsonl"),
            capabilities=action_types(settings),
        )

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        return parse_engage_event(payload)

    def deliver(self, action: Mapping[str, Any]) -> Delivery:
        if self.path is None:
            raise DeliveryError("jsonl: no actions_out file is configured", permanent=True)
        line = orjson.dumps(dict(action)) + b"\n"
        try:
            with self._lock:
                if self._out is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._out = open(self.path, "ab")  # noqa: SIM115 - closed in close()
                self._out.write(line)
                self._out.flush()
                if self.fsync:
                    os.fsync(self._out.fileno())
        except OSError as err:
            raise DeliveryError(f"jsonl: cannot write {self.path}: {err}") from err
        return Delivery()

    def close(self) -> None:
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None
