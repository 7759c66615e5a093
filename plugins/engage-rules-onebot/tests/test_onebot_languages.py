"""The plugin speaks the operator's language with its own catalog (engage_rules_onebot
.i18n): ``map``'s notes and errors, the command's help, ``validate --platform onebot``'s
warnings, the settings' and deliveries' errors and the ``onebot.set_card`` action's
description are Chinese with ``--lang zh_CN``; the events are the same in both
languages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from engage_rules_onebot import OneBotAdapter
from engage_rules_onebot.client import ApiCall, Targets, outcome, plan
from pydantic import ValidationError

from engage_rules import i18n
from engage_rules.i18n import catalog
from engage_rules.plugin_api import DeliveryError
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


EDIT_RULES = """\
engage_rules: 1
currencies: [points]
rules:
  - id: thanks-for-fixing
    on: message.edited
    do: [{award: {points: 1}}]
  - id: no-ads
    on: message.posted
    if: "contains_any(event.data.text, ['加微信'])"
    do: [{delete_message: {}}]
"""


def test_validate_warns_that_qq_has_no_edits(tmp_path: Path) -> None:
    playbook = tmp_path / "edits.yaml"
    playbook.write_text(EDIT_RULES, "utf-8")
    english = run_cli("validate", playbook, "--platform", "onebot")
    chinese = run_cli("--lang", "zh_CN", "validate", playbook, "--platform", "onebot")
    assert english.returncode == chinese.returncode == 0
    [warning] = [w for w in english.stderr.splitlines() if "warning:" in w]
    assert warning.startswith(f"{playbook}:5:9: warning: rule 'thanks-for-fixing' runs on ")
    assert "message.edited, which the onebot adapter never produces (QQ has no message" in warning
    [chinese_warning] = [w for w in chinese.stderr.splitlines() if "警告：" in w]
    assert "onebot 适配器从不产生这种事件（QQ 没有消息编辑功能" in chinese_warning
    # no-ads also checks edits (it moderates), but it does its work on posts: no warning;
    # nor without --platform onebot.
    assert "warning:" not in run_cli("validate", playbook).stderr
    shipped = Path(__file__).resolve().parents[3] / "rules" / "moderation"
    got = run_cli("validate", shipped, "--platform", "onebot")
    assert "runs on message.edited" not in got.stderr
    # QQ gives no account age either: new-account-links can never fire there.
    [age] = [w for w in got.stderr.splitlines() if "warning:" in w]
    assert "rule 'new-account-links' reads member.account_age, which the onebot adapter" in age
    assert "(OneBot v11 events carry no QQ account creation time)" in age


def test_the_set_card_action_is_described_in_chinese() -> None:
    english = run_cli("plugins", "-v")
    chinese = run_cli("--lang", "zh_CN", "plugins", "-v")
    assert "set the member's QQ group card (the name the group shows)" in english.stdout
    assert "onebot.set_card  设置成员的 QQ 群名片；为空时恢复为其昵称" in chinese.stdout
    assert "设置群名片" in run_cli("--lang", "zh_CN", "schema").stdout


def test_settings_delivery_and_payload_errors_in_chinese(tmp_path: Path) -> None:
    kick: dict[str, Any] = {
        "key": "k",
        "type": "kick",
        "member": None,
        "community": "fans",
        "params": {},
    }
    with i18n.use_language("zh_CN"):
        with pytest.raises(ValidationError) as bad:
            OneBotAdapter({"mode": "http"})
        assert "mode http 需要 `api_url`：OneBot 实现的 HTTP API 地址" in str(bad.value)
        with pytest.raises(DeliveryError) as no_member:
            plan(kick, Targets(lambda community: 123456), 0.0)
        assert str(no_member.value) == "`kick` 需要一个成员"
        with pytest.raises(DeliveryError) as failed:
            call = ApiCall("set_group_kick", {}, "onebot:123456")
            outcome(call, {"retcode": 1403, "wording": "权限不足"})
        assert failed.value.permanent
        assert str(failed.value) == "set_group_kick：失败，retcode 为 1403 (权限不足)"
    payloads = tmp_path / "bad.jsonl"
    payload = {**json.loads(line("group_message_array")), "message_id": "x"}
    payloads.write_text(json.dumps(payload) + "\n", "utf-8")
    chinese = run_cli("--lang", "zh_CN", "onebot", "map", payloads)
    assert chinese.stderr.strip() == f"{payloads}:1: message_id: 应为整数，实际是 str"
