"""Persons at scale (docs/reference.md §4.3, docs/scaling.md "Persons"): person-wide state
crosses communities, so the Kafka worker refuses a playbook that uses persons at start,
and `backtest` refuses to split one by community — never a silently wrong answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from engage_rules.features.persons import uses_persons
from engage_rules.testing import playbook, run_cli

ROOT = Path(__file__).resolve().parents[1]
MULTI = ROOT / "rules" / "multi-group" / "community.yaml"


@pytest.mark.parametrize(
    ("text", "used"),
    [
        ("currencies: [{name: points, scope: person}]\n", True),
        ("rules: [{id: r, on: checkin, do: [{bind_code: 5m}]}]\n", True),
        ("rules: [{id: r, on: checkin, do: [{bind: ABCD}]}]\n", True),
        ("currencies: [points, {name: coins, scope: group}]\n", False),
        ("rules: [{id: r, on: member.linked, do: [{tag: linked}]}]\n", False),
    ],
)
def test_what_makes_a_playbook_use_persons(text: str, used: bool) -> None:
    pb = playbook("engage_rules: 1\nname: p\n" + text)
    assert uses_persons(pb) is used
    # Only a playbook that uses persons observes `member.linked` (every event of a
    # playbook with an observer pays for a call).
    assert ("member.linked" in pb.before) is used


def _worker_config(tmp_path: Path) -> Path:
    config = tmp_path / "worker.yaml"
    config.write_text(
        f"""\
playbook: {MULTI}
store: postgresql://nobody@127.0.0.1:1/none
kafka: {{bootstrap_servers: "127.0.0.1:1", topic: events, group_id: workers}}
adapters: {{console: {{}}}}
""",
        encoding="utf-8",
    )
    return config


def test_the_kafka_worker_refuses_a_playbook_that_uses_persons(tmp_path: Path) -> None:
    result = run_cli("worker", "--config", _worker_config(tmp_path))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "the playbook multi-group uses persons" in result.stderr
    assert "engage-rules run" in result.stderr and "Traceback" not in result.stderr
    # (Refused before the store is opened: the PostgreSQL URL above leads nowhere.)


def test_the_worker_refusal_is_in_the_operators_language(tmp_path: Path) -> None:
    result = run_cli("--lang", "zh_CN", "worker", "--config", _worker_config(tmp_path))
    assert result.returncode == 1
    assert "剧本 multi-group 用到了“人”" in result.stderr


def test_backtest_will_not_split_a_playbook_that_uses_persons(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("", encoding="utf-8")
    result = run_cli("backtest", MULTI, events, "--partitions", "2")
    assert result.returncode == 2
    assert "multi-group uses persons" in result.stderr and "--partitions 1" in result.stderr
    zh = run_cli("--lang", "zh_CN", "backtest", MULTI, events, "--partitions", "3")
    assert "请用 --partitions 1 回测" in zh.stderr
