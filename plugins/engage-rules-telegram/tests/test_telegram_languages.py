"""The plugin speaks the operator's language with its own catalog (engage_rules_telegram
.i18n): ``map``'s notes, ``import``'s summary and the command's help are Chinese with
``--lang zh_CN``, and the events are the same in both languages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engage_rules.i18n import catalog
from engage_rules.testing import run_cli

DATA = Path(__file__).parent / "data"
PACKAGE = Path(__file__).resolve().parents[1] / "src" / "engage_rules_telegram"


def _line(name: str) -> str:
    return json.dumps(json.loads((DATA / f"{name}.json").read_text("utf-8")), ensure_ascii=False)


def test_map_tells_why_an_update_makes_no_event_in_chinese(tmp_path: Path) -> None:
    payloads = tmp_path / "updates.jsonl"
    lines = [_line("message_text_link"), _line("pinned_service_message"), _line("album_2")]
    payloads.write_text("\n".join(lines) + "\n", "utf-8")
    english = run_cli("telegram", "map", payloads, "--chat=-1001234567890=fans")
    chinese = run_cli("--lang", "zh_CN", "telegram", "map", payloads, "--chat=-1001234567890=fans")
    assert english.returncode == chinese.returncode == 0
    assert english.jsonl() == chinese.jsonl() != []
    assert f"{payloads}:2: no event: a service message" in english.stderr
    assert f"{payloads}:2: 没有产生事件：一条服务消息" in chinese.stderr
    assert f"{payloads}: 3 行，2 个事件" in chinese.stderr.splitlines()[-1]


def test_import_and_help_in_chinese(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    chinese = run_cli(
        "--lang", "zh_CN", "telegram", "import", DATA / "telegram_export.json", "-o", out
    )
    assert chinese.returncode == 0, chinese.stderr
    assert "条消息" in chinese.stderr and "个事件" in chinese.stderr
    helped = run_cli("--lang", "zh_CN", "telegram", "map", "--help")
    assert "每行一个 Update 对象" in helped.stdout and "适配器的 `chats` 设置" in helped.stdout
    assert "把 Bot API 更新" in run_cli("--lang", "zh_CN", "--help").stdout


def test_the_catalog_is_complete_and_compiled() -> None:
    pytest.importorskip("babel")  # the catalog tool's dev dependency
    assert catalog.check(catalog.Domain.plugin(PACKAGE)) == []


def test_validate_names_the_field_telegram_never_fills_in_chinese() -> None:
    playbook = Path(__file__).resolve().parents[3] / "rules" / "moderation"
    english = run_cli("validate", playbook, "--platform", "telegram")
    chinese = run_cli("--lang", "zh_CN", "validate", playbook, "--platform", "telegram")
    assert english.returncode == chinese.returncode == 0
    assert "(the Bot API gives no account creation time)" in english.stderr
    assert "（Bot API 不提供账号的注册时间）" in chinese.stderr
