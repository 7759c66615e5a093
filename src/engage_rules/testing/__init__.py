"""Test helpers for playbooks, adapters, stores and plugins (DESIGN.md §9).

* :class:`FakeAdapter` — an in-memory adapter that records deliveries and fails on demand;
* :class:`FrozenClock` — a clock that moves only when told to;
* :func:`event`, :func:`event_line`, :func:`event_obj`, :func:`action` — builders of
  events (parsed, JSON Lines, JSON) and emitted actions;
* :class:`AdapterContract` and :class:`StoreContract` — pytest base classes: subclass one
  in a test module, provide what it asks for, and the adapter or store is checked
  against the contract every built-in one passes.  :class:`PayloadSample` is a recorded
  payload with the events it must parse into.

The contracts import pytest (and the adapter contract ``pytest-httpserver``); they are
imported on first use so that the other helpers work without them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .builders import T0, action, event, event_json, event_line, event_obj
from .clock import FrozenClock
from .fake_adapter import FakeAdapter

if TYPE_CHECKING:
    from .adapter_contract import AdapterContract, PayloadSample
    from .store_contract import StoreBackend, StoreContract

_LAZY = {
    "AdapterContract": "adapter_contract", "PayloadSample": "adapter_contract",
    "StoreContract": "store_contract", "StoreBackend": "store_contract",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engage_rules.testing' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "T0",
    "AdapterContract",
    "FakeAdapter",
    "FrozenClock",
    "PayloadSample",
    "StoreBackend",
    "StoreContract",
    "action",
    "event",
    "event_json",
    "event_line",
    "event_obj",
]
