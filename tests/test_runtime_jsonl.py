"""The jsonl source and adapter in a running service: events from a file, actions to a
file, malformed lines quarantined, and a restart that re-reads the file doubling nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from engage_rules.runtime.service import Service
from engage_rules.testing import event_line, live_service, wait_for, write_setup
from runtime_helpers import PLAYBOOK

pytestmark = pytest.mark.e2e


def setup(tmp_path: Path) -> Path:
    return write_setup(
        tmp_path,
        f"""\
store: sqlite:///{tmp_path}/state.db
sources:
  - type: jsonl
    path: {tmp_path}/events.jsonl
adapters:
  out:
    type: jsonl
    actions_out: {tmp_path}/actions.jsonl
dispatch:
  default: out
""",
        playbook=PLAYBOOK,
    )


def line(n: int, type_: str = "message.posted") -> str:
    """Event n by member n, a JSON Lines record."""
    return event_line(type_, f"u{n}", id=f"evt-{n}", channel="general", text=f"hello {n}") + "\n"


def run_until(config: Path, done: Callable[[], object]) -> Service:
    with live_service(config) as live:
        wait_for(done)
    return live.service


def actions(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "actions.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_events_from_a_file_actions_to_a_file_and_a_restart_doubles_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = setup(tmp_path)
    events = tmp_path / "events.jsonl"
    events.write_text(
        line(1) + "{not json\n" + line(2, "member.joined") + line(1), encoding="utf-8"
    )
    with caplog.at_level(logging.WARNING, "engage_rules.runtime.jsonl"):
        first = run_until(config, lambda: len(actions(tmp_path)) == 4)
    assert (first.stats.accepted, first.stats.duplicates) == (2, 1)
    assert sorted(a["type"] for a in actions(tmp_path)) == ["award", "award", "reply", "send"]
    assert any("line 2 quarantined: bad_json" in r.getMessage() for r in caplog.records)

    with events.open("a", encoding="utf-8") as f:
        f.write(line(3))
    second = run_until(config, lambda: len(actions(tmp_path)) == 6)
    assert (second.stats.accepted, second.stats.duplicates) == (1, 3)
    assert [a["cause"] for a in actions(tmp_path)].count("evt-3") == 2
    assert len({a["key"] for a in actions(tmp_path)}) == 6
