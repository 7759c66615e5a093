"""The plugin guide's example package (docs/examples/engage-rules-example-chat) is
tested here: its adapter passes AdapterContract, and its plugin works end to end."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "engage-rules-example-chat"
sys.path[:0] = [str(EXAMPLE / "src"), str(EXAMPLE / "tests")]

import engage_rules_example_chat.plugin as example_plugin  # noqa: E402
from test_example_chat import TestExampleChatContract  # noqa: E402

from engage_rules import plugins  # noqa: E402
from engage_rules.compiler import compile_playbook  # noqa: E402
from engage_rules.engine import Engine  # noqa: E402
from engage_rules.errors import PlaybookError  # noqa: E402
from engage_rules.loader import load_playbook_text  # noqa: E402
from engage_rules.testing import event  # noqa: E402

__all__ = ["TestExampleChatContract"]


@pytest.fixture(autouse=True, scope="module")
def _example_plugin() -> Iterator[None]:
    plugins.reset([("example_chat", example_plugin)])
    yield
    plugins.reset()


PLAYBOOK = """
engage_rules: 1
name: pins
community: {name: fans, timezone: Asia/Shanghai}
rules:
  - id: pin-announcements
    on: message.posted
    if: "'#pin' in event.data.text"
    do:
      - example_chat.pin: "{{ event.data.message_id }}"
"""


def test_plugin_action_from_yaml_to_emitted_action() -> None:
    engine = Engine(compile_playbook(load_playbook_text(PLAYBOOK, "pins.yaml")))
    pinned = event("message.posted", "u1", channel="news", platform="example_chat",
                   message_id="m-9", text="release notes #pin")
    other = event("message.posted", "u1", channel="news", text="hello")
    actions = [a.to_json() for e in (pinned, other) for d in engine.process(e)
               for a in d.actions]
    assert [(a["type"], a["member"], a["params"]) for a in actions] == [
        ("example_chat.pin", "u1", {"message_id": "m-9", "channel": "news"})]


def test_plugin_action_params_are_validated_at_load() -> None:
    bad = PLAYBOOK.replace('example_chat.pin: "{{ event.data.message_id }}"',
                           "example_chat.pin: {message: m-1}")
    with pytest.raises(PlaybookError) as info:
        load_playbook_text(bad, "pins.yaml")
    text = str(info.value)
    assert "pins.yaml:" in text and "message" in text


def test_registered_plugin_is_listed() -> None:
    reg = plugins.registry()
    assert reg.by_plugin["example_chat"] == {
        "adapters": ["example_chat"], "actions": ["example_chat.pin"],
        "event_types": ["chat.pinned"]}
    assert reg.adapters["example_chat"].plugin == "example_chat"
