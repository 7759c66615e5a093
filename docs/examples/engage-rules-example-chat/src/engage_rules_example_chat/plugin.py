"""The plugin module the ``engage_rules`` entry point names: its hooks register the
adapter, the ``example_chat.pin`` action and the ``chat.pinned`` event type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engage_rules import hookimpl
from engage_rules.action_specs import ActionSpec
from engage_rules.compiler import CompiledAction
from engage_rules.engine_actions import Run
from engage_rules.hookspecs import RegisterAction, RegisterAdapter, RegisterEventType

from .adapter import ExampleChatAdapter


class PinParams(BaseModel):
    """``example_chat.pin: {message_id: "{{ event.data.message_id }}", channel: ...}``"""

    model_config = ConfigDict(extra="forbid")
    message_id: str = Field(description="the message to pin (may be a template)")
    channel: str | None = Field(default=None, description="default: the event's channel")


def do_pin(run: Run, action: CompiledAction) -> None:
    """Emit the pin: the engine decides, the adapter delivers."""
    channel = run.text(action, "channel") or run.event.channel
    run.emit(action, run.event.member_id,
             {"message_id": run.text(action, "message_id"), "channel": channel})


def make_adapter(settings: Mapping[str, Any]) -> ExampleChatAdapter:
    return ExampleChatAdapter(settings)


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    register("example_chat", make_adapter, "Example Chat bots (webhook in, REST out)")


@hookimpl
def register_actions(register: RegisterAction) -> None:
    register(ActionSpec("example_chat.pin", PinParams, "message_id", "pin a message"), do_pin)


@hookimpl
def register_event_types(register: RegisterEventType) -> None:
    register("chat.pinned", "a moderator pinned a message (data.message_id)")
