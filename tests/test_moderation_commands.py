"""Admins' and moderators' commands written as ordinary rules, and moderation exemptions
(docs/reference.md §5.9): an exemption concerns who posted the event, so it never
disables a command whose moderation actions name another member, and `validate` warns
about a rule that mixes a moderation action on the poster with other actions."""

from __future__ import annotations

from pathlib import Path

import pytest

from engage_rules import Engine
from engage_rules.cli import main
from engage_rules.testing import message
from helpers import playbook
from moderation_helpers import acts, kinds

COMMANDS = """
rules:
  - id: award-command
    on: message.posted
    if:
      - "event.data.text.startswith('/award ')"
      - "'admin' in member.roles"
    do:
      - award:
          points: "{{ event.data.text.split(' ')[2] }}"
          to: "{{ event.data.text.split(' ')[1][1:] }}"
          reason: 管理员奖励
  - id: warn-command
    on: message.posted
    if: "event.data.text.startswith('/warn ') and 'moderator' in member.roles"
    do:
      - warn: {text: 请遵守群规, to: "{{ event.data.text.split(' ')[1][1:] }}"}
      - mute: {for: 10m, to: "{{ event.data.text.split(' ')[1][1:] }}"}
  - id: spam
    on: message.posted
    if: "contains_any(event.data.text, ['代刷'])"
    do: [{delete_message: {}}]
"""


def test_an_admins_award_command_awards_the_mentioned_member() -> None:
    engine = Engine(playbook(COMMANDS))
    [award] = acts(engine, message({"id": "boss", "roles": ["admin"]}, "/award @u7 50"))
    assert (award.type, award.member, award.params["amount"]) == ("award", "u7", 50)
    # Not an admin: the rule's own condition refuses, nothing else does.
    assert acts(engine, message("u1", "/award @u7 50")) == []


def test_a_moderators_command_on_another_member_is_not_exempt() -> None:
    engine = Engine(playbook(COMMANDS))
    done = acts(engine, message({"id": "mod", "roles": ["moderator"]}, "/warn @u8"))
    assert [(a.type, a.member) for a in done] == [("warn", "u8"), ("mute", "u8")]
    # The exemption still protects the poster from the rules that act on them.
    assert acts(engine, message({"id": "mod", "roles": ["moderator"]}, "代刷")) == []
    assert kinds(acts(engine, message("u1", "代刷"))) == ["delete_message"]


MIXED = """
rules:
  - id: award-command
    on: message.posted
    if: "event.data.text.startswith('/award ') and 'admin' in member.roles"
    do:
      - award: {points: 5, to: "{{ event.data.text.split(' ')[1][1:] }}"}
      - delete_message: {reason: command}
"""


def test_a_mixed_rule_stays_exempt_as_a_whole() -> None:
    engine = Engine(playbook(MIXED))
    assert acts(engine, message({"id": "boss", "roles": ["admin"]}, "/award @u7")) == []
    engine = Engine(playbook("moderation: {exempt: {}}\n" + MIXED))
    done = acts(engine, message({"id": "boss", "roles": ["admin"]}, "/award @u7"))
    assert kinds(done) == ["award", "delete_message"]


def _validate(tmp_path: Path, body: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text("engage_rules: 1\nname: t\n" + body, encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    return capsys.readouterr().err.splitlines()


def test_validate_warns_about_a_rule_mixing_moderation_with_other_actions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _validate(tmp_path, MIXED, capsys)
    path = tmp_path / "p.yaml"
    assert err[0] == (
        f"{path}:5:5: warning: rule 'award-command' mixes moderation actions "
        "(delete_message) with other actions (award): members with role admin, "
        "moderator are exempt from the whole rule, so for them none of its actions run; "
        "move the moderation actions into a rule of their own"
    )
    assert err[-1] == "ok: 1 playbook(s) valid"
    # With nobody exempt there is nothing to warn about.
    err = _validate(tmp_path, "moderation: {exempt: {}}\n" + MIXED, capsys)
    assert not any("warning" in line for line in err)


def test_validate_says_which_rules_the_exemption_does_not_concern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _validate(tmp_path, COMMANDS, capsys)
    path = tmp_path / "p.yaml"
    assert not any("warning" in line for line in err)
    assert (
        f"note: {path}, line 15: rule 'warn-command' takes moderation actions only on "
        "the members its `to:` names: moderation.exempt does not apply to it (it concerns "
        "who posted the event)"
    ) in err
    assert not any("'award-command'" in line for line in err)


def test_a_moderation_rule_with_a_reply_is_not_a_mixed_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = """
rules:
  - id: spam
    on: message.posted
    if: "contains_any(event.data.text, ['代刷'])"
    do: [{delete_message: {}}, {reply: {text: 已删除}}, {strike: {}}]
"""
    err = _validate(tmp_path, body, capsys)
    assert not any("warning" in line for line in err)
