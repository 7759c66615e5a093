"""The ``jsonl`` adapter: DESIGN.md §3 events in from a JSON Lines file or stdin (see the
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

from ..events import Event
from .base import Delivery, DeliveryError
from .capabilities import known_action_types
from .events_payload import parse_engage_event
from .settings import reject_unknown


class JsonlAdapter:
    def __init__(self, actions_out: str | Path | None, *, fsync: bool = False,
                 name: str = "jsonl") -> None:
        self.name = name
        self.capabilities = known_action_types()
        self.path = Path(actions_out) if actions_out is not None else None
        self.fsync = fsync
        self._out: IO[bytes] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> JsonlAdapter:
        reject_unknown(settings, ("actions_out", "fsync"), "jsonl")
        out = settings.get("actions_out")
        if out is not None and not isinstance(out, str):
            raise ValueError("jsonl: actions_out must be a file path")
        return cls(out, fsync=bool(settings.get("fsync", False)),
                   name=str(settings.get("platform") or "jsonl"))

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
