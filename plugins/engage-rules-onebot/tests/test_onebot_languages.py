"""The plugin speaks the operator's language with its own catalog (engage_rules_onebot
.i18n): ``map``'s notes and the command's help are Chinese with ``--lang zh_CN``, and
the events are the same in both languages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engage_rules.i18n import catalog
from engage_rules.testing import run_cli

DATA = Path(__file__).parent / "data"
PACKAGE = Path(__file__).resolve().parents[1] / "src" / "engage_rules_onebot"


def line(name: str) -> str:
    return json.dumps(json.loads((DATA / f"{name}.json").read_text("utf-8")), ensure_ascii=False)


def test_map_notes_and_errors_in_chinese(tmp_path: Path) -> None:
    payloads = tmp_path / "payloads.jsonl"
    payloads.write_text(
        "\n".join([line("group_message_array"), line("heartbeat"), "{broken"]) + "\n", "utf-8"
    )
    english = run_cli("onebot", "map", payloads)
    chinese = run_cli("--lang", "zh_CN", "onebot", "map", payloads)
    assert english.returncode == chinese.returncode == 0
    assert english.jsonl() == chinese.jsonl() != []
    assert f"{payloads}:2: maps to no event (meta_event payload)" in english.stderr
    notes = chinese.stderr.splitlines()
    assert notes[0] == f"{payloads}:2: 没有对应的事件（meta_event 载荷）"
    assert notes[1].startswith(f"{payloads}:3: 不是 JSON：")
    bad = run_cli("--lang", "zh_CN", "onebot", "map", payloads, "--group", "fans")
    assert bad.returncode == 2 and "应为 NUMBER=COMMUNITY 的形式" in bad.stderr
    assert "要读取的文件" in run_cli("--lang", "zh_CN", "onebot", "map", "--help").stdout


def test_the_catalog_is_complete_and_compiled() -> None:
    pytest.importorskip("babel")  # the catalog tool's dev dependency
    assert catalog.check(catalog.Domain.plugin(PACKAGE)) == []
