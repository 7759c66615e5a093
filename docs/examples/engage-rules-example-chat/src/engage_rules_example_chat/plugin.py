"""The plugin module the ``engage_rules`` entry point names: its hooks register the
adapter, the ``pins:`` feature (with its ``example_chat.pin`` action and unpin timer)
and the ``chat.pinned`` event type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engage_rules.plugin_api import (
    RegisterAdapter,
    RegisterEventType,
    RegisterFeature,
    hookimpl,
)

from .adapter import ExampleChatAdapter
from .pins import PinsFeature


def make_adapter(settings: Mapping[str, Any]) -> ExampleChatAdapter:
    return ExampleChatAdapter(settings)


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    register("example_chat", make_adapter, "Example Chat bots (webhook in, REST out)")


@hookimpl
def register_features(register: RegisterFeature) -> None:
    register(PinsFeature())


@hookimpl
def register_event_types(register: RegisterEventType) -> None:
    register("chat.pinned", "a moderator pinned a message (data.message_id)")
