"""Test helpers for playbooks, adapters, stores, plugins and the live runtime
(docs/plugins.md, "Testing a plugin").

* :func:`playbook`, :func:`run_events`, :func:`run_decisions` — a compiled playbook from
  YAML text, and what it does with events; :func:`isolated_plugins` — a registry with the
  built-in plugins and only the plugins a test names; :func:`load`,
  :func:`load_playbook_text`, :func:`compile_playbook`, :func:`open_store` — the
  library's loaders with a default registry (the installed plugins');
* :func:`event`, :func:`event_line`, :func:`event_obj`, :func:`message`, :func:`events`,
  :func:`action` — builders of events (parsed, JSON Lines, JSON) and emitted actions,
  dated by default at one start instant, :data:`T0`; :func:`after` is ``T0`` plus a
  duration;
* :class:`FrozenClock` — a clock that moves only when told to, and builds events dated
  at its instant;
* :class:`FakeAdapter` — an in-memory adapter that records deliveries and fails on demand;
* :func:`live_service` — the live runtime (``engage-rules run``) in a thread on
  127.0.0.1, stopped cleanly; :func:`post_json`, :func:`post_signed`,
  :func:`signed_headers` — posts to it; :class:`RecordingPlatform` — a local platform
  API that records what it is sent; :func:`wait_for`, :func:`now`;
* :func:`actions_from_payloads`, :func:`deliver_all` — platform payloads through an
  adapter and a playbook, and the actions back through the adapter;
* :func:`run_cli` — the ``engage-rules`` command line run in this process;
* :class:`AdapterContract` and :class:`StoreContract` — pytest base classes: subclass one
  in a test module, provide what it asks for, and the adapter or store is checked
  against the contract every built-in one passes.  :class:`PayloadSample` is a recorded
  payload with the events it must parse into;
* :mod:`engage_rules.testing.strategies` — hypothesis strategies (member ids, event types,
  events well-formed and malformed, JSON values, durations, playbook fragments).

Importing this package imports neither pytest nor hypothesis (the ``testing`` extra
installs them): the contracts and the strategies are imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ..plugins.manager import default_registry
from .builders import (
    T0,
    action,
    after,
    event,
    event_json,
    event_line,
    event_obj,
    events,
    message,
)
from .cli import CliResult, run_cli
from .clock import FrozenClock
from .delivery import actions_from_payloads, deliver_all
from .fake_adapter import FakeAdapter
from .live import (
    LiveService,
    RecordingPlatform,
    live_service,
    now,
    post_json,
    post_signed,
    signed_headers,
    wait_for,
    write_setup,
)
from .playbooks import (
    HEADER,
    compile_playbook,
    expr_env,
    isolated_plugins,
    load,
    load_playbook,
    load_playbook_text,
    open_store,
    playbook,
    run_decisions,
    run_events,
)

if TYPE_CHECKING:
    from . import strategies
    from .adapter_contract import AdapterContract, PayloadSample
    from .store_contract import StoreBackend, StoreContract

#: Names imported on first use, and the module of each: these need pytest (the
#: contracts) or hypothesis (the contract, the strategies).
_LAZY = {
    "AdapterContract": "adapter_contract",
    "PayloadSample": "adapter_contract",
    "StoreContract": "store_contract",
    "StoreBackend": "store_contract",
}


def __getattr__(name: str) -> Any:
    if name == "strategies":
        value: Any = import_module(f"{__name__}.strategies")
    else:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'engage_rules.testing' has no attribute {name!r}")
        value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "HEADER",
    "T0",
    "AdapterContract",
    "CliResult",
    "FakeAdapter",
    "FrozenClock",
    "LiveService",
    "PayloadSample",
    "RecordingPlatform",
    "StoreBackend",
    "StoreContract",
    "action",
    "actions_from_payloads",
    "after",
    "compile_playbook",
    "default_registry",
    "deliver_all",
    "event",
    "event_json",
    "event_line",
    "event_obj",
    "events",
    "expr_env",
    "isolated_plugins",
    "live_service",
    "load",
    "load_playbook",
    "load_playbook_text",
    "message",
    "now",
    "open_store",
    "playbook",
    "post_json",
    "post_signed",
    "run_cli",
    "run_decisions",
    "run_events",
    "signed_headers",
    "strategies",
    "wait_for",
    "write_setup",
]
