"""The live runtime's warnings and errors an operator acts on are in the language the
command line chose (the process's: the runtime's threads share it), and only the words
change: the same events give the same actions."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from engage_rules import i18n
from engage_rules.testing import event_line, live_service, wait_for, write_setup
from runtime_helpers import PLAYBOOK

pytestmark = pytest.mark.e2e


@pytest.fixture
def speak() -> Iterator[None]:
    """Restore the process's language after the test."""
    previous = i18n.current_language()
    yield
    i18n.set_language(previous)


def run(tmp_path: Path, lang: str, caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    """Run the service on two good lines and a bad one in ``lang``: (the actions' types
    and members, the jsonl source's warning messages)."""
    folder = tmp_path / lang
    folder.mkdir()
    config = write_setup(
        folder,
        f"""\
store: sqlite:///{folder}/state.db
sources:
  - type: jsonl
    path: {folder}/events.jsonl
adapters:
  out:
    type: jsonl
    actions_out: {folder}/actions.jsonl
dispatch:
  default: out
""",
        playbook=PLAYBOOK,
    )
    good = event_line("message.posted", "u1", id="evt-1", channel="general", text="hello")
    joined = event_line("member.joined", "u2", id="evt-2", channel="general", text="hi")
    (folder / "events.jsonl").write_text(f"{good}\n{{not json\n{joined}\n", encoding="utf-8")
    out = folder / "actions.jsonl"
    i18n.set_language(lang)
    caplog.clear()
    with caplog.at_level(logging.WARNING, "engage_rules.runtime.jsonl"), live_service(config):
        wait_for(lambda: out.exists() and len(out.read_text("utf-8").splitlines()) == 4)
    actions = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    return (
        sorted(f"{a['type']} {a['member']}" for a in actions),
        [r.getMessage() for r in caplog.records if r.name == "engage_rules.runtime.jsonl"],
    )


def test_the_runtime_warns_in_the_language_chosen(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, speak: None
) -> None:
    english_actions, english = run(tmp_path, "en", caplog)
    chinese_actions, chinese = run(tmp_path, "zh_CN", caplog)
    assert english_actions == chinese_actions
    assert any("line 2 quarantined: bad_json" in m for m in english)
    assert any("jsonl 事件源：第 2 行被隔离：bad_json" in m for m in chinese)
