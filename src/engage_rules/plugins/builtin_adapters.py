"""The built-in adapters (``console``, ``jsonl``, ``webhook``), registered through the
same ``register_adapters`` hook a platform plugin implements.

The plugin manager loads this module as a built-in plugin (``builtin-adapters``); it
lives in the plugin layer, above the adapters it registers.  Each factory imports its
adapter module on first use, so listing the adapters costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..adapters.base import Adapter
from ..i18n import N_
from .hookspecs import RegisterAdapter, hookimpl

AdapterFactory = Callable[[Mapping[str, Any]], Adapter]


def _console(settings: Mapping[str, Any]) -> Adapter:
    from ..adapters.console import ConsoleAdapter  # noqa: PLC0415 (loaded when the adapter is built)

    return ConsoleAdapter.from_settings(settings)


def _jsonl(settings: Mapping[str, Any]) -> Adapter:
    from ..adapters.jsonl import JsonlAdapter  # noqa: PLC0415 (loaded when the adapter is built)

    return JsonlAdapter.from_settings(settings)


def _webhook(settings: Mapping[str, Any]) -> Adapter:
    from ..adapters.webhook import WebhookAdapter  # noqa: PLC0415 (loaded when the adapter is built)

    return WebhookAdapter.from_settings(settings)


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register ``console``, ``jsonl`` and ``webhook``."""
    register("console", _console, N_("prints every action as one JSON line on stdout"))
    register(
        "jsonl",
        _jsonl,
        N_("reads events from a JSON-lines file or stdin; appends actions to a file"),
    )
    register(
        "webhook",
        _webhook,
        N_("receives signed events over HTTP (HMAC-SHA256); POSTs signed actions to a URL"),
    )
