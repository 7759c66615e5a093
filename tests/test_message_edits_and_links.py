"""Edits reach moderation rules (``edits:``), the link detectors read ``data.links``, and
``validate --platform`` names rules reading fields a platform never fills or asking for
events it never produces."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from engage_rules import Engine, Event
from engage_rules.adapters.fields import platform_warnings
from engage_rules.errors import PlaybookError
from engage_rules.testing import event, load, message, playbook, run_cli
from moderation_helpers import EXAMPLE, acts, kinds

RULES = """\
currencies: [points]
rules:
  - id: no-ads
    on: message.posted
    if: "contains_any(event.data.text, ['加微信'])"
    do: [{delete_message: {}}]
  - id: reward
    on: message.posted
    do: [{award: {points: 1}}]
"""


def edited(text: str) -> Event:
    return event("message.edited", "u1", text=text, message_id="m1")


def test_a_moderation_rule_sees_edits_and_a_reward_does_not() -> None:
    engine = Engine(playbook(RULES))
    assert kinds(acts(engine, message("u1", "你好", message_id="m1"))) == ["award"]
    assert kinds(acts(engine, edited("你好 加微信"))) == ["delete_message"]


def test_edits_false_opts_a_moderation_rule_out() -> None:
    text = RULES.replace(
        "    on: message.posted\n    if", "    on: message.posted\n    edits: false\n    if"
    )
    engine = Engine(playbook(text))
    assert kinds(acts(engine, edited("你好 加微信"))) == []


def test_edits_true_opts_another_rule_in() -> None:
    reward = "    do: [{award: {points: 1}}]"
    text = RULES.replace(reward, "    edits: true\n" + reward)
    engine = Engine(playbook(text))
    assert kinds(acts(engine, edited("hello"))) == ["award"]


def test_edits_on_a_rule_not_on_message_posted_is_a_load_error() -> None:
    text = (
        "rules:\n  - id: hi\n    on: member.joined\n    edits: true\n    do: [{send: {text: hi}}]\n"
    )
    with pytest.raises(PlaybookError) as info:
        playbook(text)
    assert "`edits:` is for rules on message.posted" in str(info.value)


def test_a_rule_listening_to_both_types_runs_once_per_event() -> None:
    text = RULES.replace(
        "  - id: no-ads\n    on: message.posted",
        "  - id: no-ads\n    on: [message.posted, message.edited]",
    )
    engine = Engine(playbook(text))
    assert kinds(acts(engine, edited("加微信"))) == ["delete_message"]


LINKS = """\
rules:
  - id: short
    on: message.posted
    if: "domains(event.data.text, deny=['@shorteners'])"
    do: [{delete_message: {reason: "{{ match }}"}}]
  - id: other-text
    on: message.posted
    if: "links('no link here')"
    do: [{tag: odd}]
"""


def test_domains_and_links_read_data_links_of_the_message() -> None:
    engine = Engine(playbook(LINKS))
    hidden = message("u1", "点这里", links=["https://bit.ly/abc", "tg://user?id=1", 7])
    [action] = acts(engine, hidden)
    assert (action.type, action.params["reason"]) == ("delete_message", "bit.ly")


def test_data_links_count_only_for_the_messages_own_text() -> None:
    engine = Engine(playbook(LINKS))
    # `links('no link here')` reads another text: the message's data.links are not its.
    assert kinds(acts(engine, message("u1", "clean", links=["https://example.com"]))) == []


def test_the_moderation_example_catches_a_hidden_shortened_link() -> None:
    engine = Engine(load(EXAMPLE))
    got = acts(
        engine, message("u9", "点这里看完整的摄影教程合集，全部免费", links=["https://t.cn/A6x"])
    )
    assert [(a.type, a.rule) for a in got][:2] == [
        ("delete_message", "hidden-links"),
        ("strike", "hidden-links"),
    ]


def test_validate_warns_about_account_age_on_telegram() -> None:
    got = run_cli("validate", EXAMPLE, "--platform", "telegram")
    assert got.returncode == 0
    [warning] = [line for line in got.stderr.splitlines() if "warning:" in line]
    assert warning.startswith(f"{EXAMPLE / 'community.yaml'}:")
    assert (
        "rule 'new-account-links' reads member.account_age, which the telegram adapter" in warning
    )
    assert "warning:" not in run_cli("validate", EXAMPLE, "--platform", "discord").stderr
    assert "warning:" not in run_cli("validate", EXAMPLE).stderr


def test_validate_with_the_runtime_config_warns_for_the_adapters_it_configures(
    tmp_path: Path,
) -> None:
    config = tmp_path / "live.yaml"
    config.write_text(
        f"playbook: {EXAMPLE / 'community.yaml'}\nstore: sqlite:///x.db\n"
        "adapters:\n  telegram: {token_env: NOT_SET_HERE}\n  qq: {type: console}\n",
        "utf-8",
    )
    got = run_cli("validate", "--config", config, env={"NOT_SET_HERE": None})
    assert got.returncode == 0, got.stderr
    [warning] = [line for line in got.stderr.splitlines() if "warning:" in line]
    assert warning.startswith(f"{EXAMPLE / 'community.yaml'}:")
    assert "rule 'new-account-links' reads member.account_age, which the telegram" in warning
    assert got.stderr.splitlines()[-1] == "ok: 1 playbook(s) valid"
    # The playbook's path is read relative to the config file, as `run` reads it.
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "p.yaml").write_text(
        (EXAMPLE / "community.yaml").read_text("utf-8"), "utf-8"
    )
    for name in ("ad-words.txt", "banned-words.txt"):
        (tmp_path / "rules" / name).write_text((EXAMPLE / name).read_text("utf-8"), "utf-8")
    config.write_text(
        "playbook: rules/p.yaml\nadapters:\n  discord: {token_env: NOT_SET_HERE}\n", "utf-8"
    )
    got = run_cli("validate", "--config", config)
    assert got.returncode == 0, got.stderr
    assert "warning:" not in got.stderr


def test_validate_without_a_playbook_or_a_usable_config(tmp_path: Path) -> None:
    assert run_cli("validate").returncode == 2
    config = tmp_path / "live.yaml"
    config.write_text("store: sqlite:///x.db\nadapters: {telegram: {}}\n", "utf-8")
    got = run_cli("validate", "--config", config)
    assert got.returncode == 1
    assert got.stderr.strip() == (
        f"{config}:1:1: a runtime config names its playbook (`playbook: FILE`)"
    )
    got = run_cli("validate", "--config", tmp_path / "missing.yaml")
    assert got.returncode == 1 and "missing.yaml" in got.stderr


class NoEdits:
    """An adapter class whose platform has no message edits (as QQ)."""

    missing_events: ClassVar[dict[str, str]] = {"message.edited": "no edits here"}
    missing_fields: ClassVar[dict[str, str]] = {"member.account_age": "no account ages here"}


def test_rules_asking_for_an_event_the_platform_never_produces_are_warned_about() -> None:
    text = RULES + (
        "  - id: thanks-for-fixing\n"
        "    on: message.edited\n"
        "    do: [{award: {points: 1}}]\n"
        "  - id: reward-edits-too\n"
        "    on: message.posted\n"
        "    edits: true\n"
        "    if: member.account_age is none\n"
        "    do: [{award: {points: 1}}]\n"
    )
    compiled = playbook(text)
    # no-ads also receives edits (it moderates), but only because the compiler adds them:
    # it still does its work on posts, so it is not warned about.
    assert "message.edited" in next(r for r in compiled.rules if r.id == "no-ads").types
    got = [str(p) for p in platform_warnings(compiled, {"qq": NoEdits})]
    edits = [w for w in got if "runs on message.edited" in w]
    assert len(edits) == 2 and len(got) == 3
    # positions: the `on:` of the first rule, the `edits:` of the second (the standard
    # header puts the rules' lines after its own)
    assert edits[0].startswith("test.yaml:14:9: warning: rule 'thanks-for-fixing' runs on ")
    assert "the qq adapter never produces (no edits here)" in edits[0]
    assert edits[1].startswith("test.yaml:18:12: warning: rule 'reward-edits-too' runs on ")
    assert any("reads member.account_age" in w for w in got)
    assert platform_warnings(compiled, {"console": object()}) == []
    assert platform_warnings(playbook(RULES), {"qq": NoEdits}) == []


def test_validate_names_an_unknown_adapter(tmp_path: Path) -> None:
    got = run_cli("validate", EXAMPLE, "--platform", "telegarm")
    assert got.returncode == 2
    assert "unknown adapter 'telegarm'" in got.stderr
