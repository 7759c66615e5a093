"""The plugin speaks the operator's language with its own catalog (engage_rules_discord
.i18n): ``map``'s notes and the command's help are Chinese with ``--lang zh_CN``, and
the events are the same in both languages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engage_rules.i18n import catalog
from engage_rules.testing import run_cli

DATA = Path(__file__).parent / "data"
PACKAGE = Path(__file__).resolve().parents[1] / "src" / "engage_rules_discord"


def _line(name: str) -> str:
    return json.dumps(json.loads((DATA / f"{name}.json").read_text("utf-8")), ensure_ascii=False)


def test_map_tells_why_a_payload_makes_no_event_in_chinese(tmp_path: Path) -> None:
    payloads = tmp_path / "gateway.jsonl"
    lines = [_line("thread_create"), _line("message_in_thread"), _line("heartbeat_ack")]
    payloads.write_text("\n".join(lines) + "\n", "utf-8")
    args = ("discord", "map", payloads, "--guild=81384788765712384=fans")
    english, chinese = run_cli(*args), run_cli("--lang", "zh_CN", *args)
    assert english.returncode == chinese.returncode == 0
    assert english.jsonl() == chinese.jsonl() != []
    assert f"{payloads}:3: no event: opcode 11: not a dispatch" in english.stderr
    assert f"{payloads}:3: 没有产生事件：操作码 11：不是分发" in chinese.stderr
    assert f"{payloads}:1: 没有产生事件：已记下 1 个子区" in chinese.stderr
    helped = run_cli("--lang", "zh_CN", "discord", "map", "--help")
    assert "适配器的 `guilds` 设置（可重复）" in helped.stdout


def test_the_catalog_is_complete_and_compiled() -> None:
    pytest.importorskip("babel")  # the catalog tool's dev dependency
    assert catalog.check(catalog.Domain.plugin(PACKAGE)) == []
