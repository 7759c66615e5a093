"""The plugin guide's example package (docs/examples/engage-rules-example-chat) is
tested here: its adapter passes AdapterContract, and its plugin works end to end — the
``pins:`` feature (a section model, load-time checks, actions compiled from the section,
a timer kind and an observer) from YAML to emitted action."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "engage-rules-example-chat"
sys.path[:0] = [str(EXAMPLE / "src"), str(EXAMPLE / "tests")]

import engage_rules_example_chat.plugin as example_plugin  # noqa: E402
import test_example_chat  # noqa: E402

from engage_rules.engine.core import Engine  # noqa: E402
from engage_rules.errors import PlaybookError  # noqa: E402
from engage_rules.model.events import Event  # noqa: E402
from engage_rules.store import MemoryStore  # noqa: E402
from engage_rules.testing import (  # noqa: E402
    compile_playbook,
    event,
    isolated_plugins,
    load_playbook_text,
)

REGISTRY = isolated_plugins(("example_chat", example_plugin))


class TestExampleChat(test_example_chat.TestExampleChatContract):
    """The package's own contract tests, with its plugin in the registry."""

    registry = REGISTRY


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

PINS = """
pins:
  max_per_day: 2
  unpin_after: 7d
  on_limit:
    - reply: {text: "今天的置顶次数用完了 / no pins left today"}
"""


def engine(text: str) -> Engine:
    return Engine(
        compile_playbook(
            load_playbook_text(text, "pins.yaml", registry=REGISTRY), registry=REGISTRY
        )
    )


def actions(eng: Engine, *events: Event) -> list[dict[str, Any]]:
    return [a.to_json() for e in events for d in eng.process(e) for a in d.actions]


def pin(n: int, at: str | None = None, member: str = "u1") -> Event:
    """A pin request, n, in the news channel (at T0 unless ``at`` is given)."""
    return event(
        "message.posted",
        member,
        at=at,
        id=f"e{n}",
        channel="news",
        platform="example_chat",
        message_id=f"m-{n}",
        text="notes #pin",
    )


def test_plugin_action_from_yaml_to_emitted_action() -> None:
    eng = engine(PLAYBOOK)
    other = event("message.posted", "u1", channel="news", text="hello")
    got = actions(eng, pin(9), other)
    assert [(a["type"], a["member"], a["params"]) for a in got] == [
        ("example_chat.pin", "u1", {"message_id": "m-9", "channel": "news"})
    ]


def test_plugin_action_params_are_validated_at_load() -> None:
    bad = PLAYBOOK.replace(
        'example_chat.pin: "{{ event.data.message_id }}"', "example_chat.pin: {message: m-1}"
    )
    with pytest.raises(PlaybookError) as info:
        load_playbook_text(bad, "pins.yaml", registry=REGISTRY)
    assert [str(p) for p in info.value.problems] == [
        "pins.yaml:10:27: missing required key 'message_id' in action 'example_chat.pin'",
        "pins.yaml:10:28: unknown key 'message' in action 'example_chat.pin'; "
        "did you mean 'message_id'?",
    ]


def test_registered_plugin_is_listed() -> None:
    assert REGISTRY.by_plugin["example_chat"] == {
        "features": ["example_chat_pins"],
        "adapters": ["example_chat"],
        "actions": ["example_chat.pin"],
        "timer_kinds": ["example_chat.unpin"],
        "sections": ["pins"],
        "event_types": ["chat.pinned"],
    }
    assert REGISTRY.adapters["example_chat"].plugin == "example_chat"


# -- the pins: feature ---------------------------------------------------------------------


def test_the_section_limits_pins_per_day_and_runs_on_limit_actions() -> None:
    eng = engine(PLAYBOOK + PINS)
    got = actions(
        eng,
        pin(1),
        pin(2, "2026-03-02T11:00:00+08:00"),
        pin(3, "2026-03-02T23:59:00+08:00"),
        pin(4, "2026-03-03T00:01:00+08:00"),  # a new local day
        pin(5, "2026-03-03T00:02:00+08:00", member="u2"),
    )
    assert [
        (a["type"], a["member"], a["params"].get("message_id") or a["params"]["text"]) for a in got
    ] == [
        ("example_chat.pin", "u1", "m-1"),
        ("example_chat.pin", "u1", "m-2"),
        ("reply", "u1", "今天的置顶次数用完了 / no pins left today"),
        ("example_chat.pin", "u1", "m-4"),
        ("example_chat.pin", "u2", "m-5"),
    ]
    assert eng.state.community("default").members["u1"].attrs["example_chat.pins_today"][1] == 1


def test_each_pin_is_undone_by_its_timer_kind() -> None:
    eng = engine(PLAYBOOK + PINS)
    actions(eng, pin(1))
    assert [(t.kind, t.payload["message_id"]) for t in eng.state.timers] == [
        ("example_chat.unpin", "m-1")
    ]
    fired = [a.to_json() for d in eng.advance_to(pin(1).at + timedelta(days=7)) for a in d.actions]
    assert [(a["type"], a["member"], a["params"], a["rule"]) for a in fired] == [
        ("example_chat.unpin", "u1", {"message_id": "m-1", "channel": "news"}, "pin-announcements")
    ]
    assert eng.state.timers == []


def test_the_observer_times_out_pins_made_by_hand() -> None:
    eng = engine(PLAYBOOK + PINS)
    by_hand = event(
        "chat.pinned",
        "mod",
        id="p1",
        at="2026-03-02T10:00:00+08:00",
        channel="news",
        message_id="m-77",
    )
    assert actions(eng, by_hand) == []
    fired = [a.to_json() for d in eng.advance_to(by_hand.at + timedelta(days=8)) for a in d.actions]
    assert [(a["type"], a["params"]["message_id"]) for a in fired] == [
        ("example_chat.unpin", "m-77")
    ]


def test_the_section_survives_a_restart_with_its_timers() -> None:
    store = MemoryStore()
    pb = compile_playbook(
        load_playbook_text(PLAYBOOK + PINS, "pins.yaml", registry=REGISTRY), registry=REGISTRY
    )
    first = Engine(pb, store.open())
    store.commit(first.process(pin(1)), first.state)
    again = Engine(pb, store.open())
    fired = [a.type for d in again.advance_to(pin(1).at + timedelta(days=7)) for a in d.actions]
    assert fired == ["example_chat.unpin"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("pins: {max_per_day: 0}", "pins.yaml:11:21: 'pins.max_per_day' must be at least 1, got 0"),
        (
            "pins: {unpin_after: soon}",
            "pins.yaml:11:21: 'pins.unpin_after': 'soon' is not a "
            "duration; write it like 30s, 10m, 2h, 14d or 2w",
        ),
        (
            "pins: {on_limit: [{reply: {text: x}}]}",
            "pins.yaml:11:18: `on_limit` needs `max_per_day`",
        ),
        (
            "pins: {max_per_day: 1, on_limit: [{rply: {text: x}}]}",
            "pins.yaml:11:36: unknown action 'rply'; did you mean 'reply'?",
        ),
        (
            "pins: {max_per_dy: 1}",
            "pins.yaml:11:8: unknown key 'max_per_dy' in 'pins'; did you mean 'max_per_day'?",
        ),
    ],
)
def test_a_bad_section_is_a_located_load_error(section: str, message: str) -> None:
    with pytest.raises(PlaybookError) as info:
        engine(PLAYBOOK + section + "\n")
    assert message in [str(p) for p in info.value.problems]


def test_without_the_plugin_the_section_is_unknown() -> None:
    plain = isolated_plugins()
    with pytest.raises(PlaybookError, match="pins"):
        load_playbook_text(PLAYBOOK.split("rules:")[0] + PINS, "pins.yaml", registry=plain)
