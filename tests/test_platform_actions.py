"""Roles, pins, join requests and polls (features/platform.py, docs/reference.md §5.3):
from YAML through the engine to the emitted action, its key, its load-time checks and
the adapters' capabilities."""

from __future__ import annotations

from pathlib import Path

import pytest

from engage_rules import Engine
from engage_rules.cli import main
from engage_rules.errors import PlaybookError, SetupError
from engage_rules.runtime.service import check_capabilities
from engage_rules.testing import event, message
from engage_rules.testing.fake_adapter import FakeAdapter
from helpers import playbook
from moderation_helpers import acts, decide

RULES = """
rules:
  - id: vip
    on: message.posted
    if: "event.data.text == 'vip'"
    do:
      - grant_role: vip
      - remove_role: {role: "new-{{ member.id }}", reason: 升级}
      - pin: {}
      - unpin: {message: "42", channel: news}
      - poll:
          question: "周末活动去哪？"
          options: [爬山, "看展 {{ member.id }}"]
          multiple: true
          anonymous: false
  - id: vip-sees-the-role
    on: message.posted
    if: "'vip' in member.roles and event.data.text == 'again'"
    do: [{tag: vip-seen}]
  - id: join
    on: member.join_requested
    if: "event.data.bio"
    do: [{approve_join: {}}]
    else: [{decline_join: {reason: 没有简介}}]
"""


def test_each_action_is_emitted_with_its_resolved_params() -> None:
    engine = Engine(playbook(RULES))
    done = acts(engine, message("u1", "vip", channel="general", message_id="7"))
    assert [(a.type, a.member, a.params) for a in done] == [
        ("grant_role", "u1", {"role": "vip"}),
        ("remove_role", "u1", {"role": "new-u1", "reason": "升级"}),
        ("pin", "u1", {"message_id": "7", "channel": "general"}),
        ("unpin", "u1", {"message_id": "42", "channel": "news"}),
        (
            "poll",
            None,
            {
                "question": "周末活动去哪？",
                "options": ["爬山", "看展 u1"],
                "channel": "general",
                "multiple": True,
                "anonymous": False,
            },
        ),
    ]
    assert len({a.key for a in done}) == 5
    # member.roles changes at once: a later event's rules see the role.
    assert [a.type for a in acts(engine, message("u1", "again"))] == ["tag"]


def test_keys_are_deterministic() -> None:
    ev = message("u1", "vip", channel="general", message_id="7")
    first = [a.key for a in acts(Engine(playbook(RULES)), ev)]
    second = [a.key for a in acts(Engine(playbook(RULES)), ev)]
    assert first == second and all(len(k) == 32 for k in first)


def test_join_requests_are_approved_or_declined() -> None:
    engine = Engine(playbook(RULES))
    done = acts(
        engine,
        event("member.join_requested", "u2", data={"bio": "摄影"}),
        event("member.join_requested", "u3"),
    )
    assert [(a.type, a.member, a.params) for a in done] == [
        ("approve_join", "u2", {}),
        ("decline_join", "u3", {"reason": "没有简介"}),
    ]


def test_a_pin_without_a_message_is_a_rule_error() -> None:
    engine = Engine(
        playbook("rules:\n  - id: p\n    on: checkin\n    do: [{pin: {channel: news}}]\n")
    )
    [d] = decide(engine, event("checkin", "u1"))
    assert d.actions == []
    assert "`pin` needs a message" in d.errors[0].message


def test_a_templated_poll_option_too_long_is_a_rule_error() -> None:
    engine = Engine(
        playbook(
            "rules:\n  - id: p\n    on: checkin\n"
            "    do: [{poll: {question: q, options: [a, '{{ event.data.long }}']}}]\n"
        )
    )
    [d] = decide(engine, event("checkin", "u1", data={"long": "x" * 56}))
    assert d.actions == [] and "1 to 55 characters" in d.errors[0].message


BAD = """engage_rules: 1
name: bad
rules:
  - id: r
    on: message.posted
    do:
      - grant_role: {}
      - poll: {question: q, options: [a]}
      - poll: {question: q, options: [a, a]}
      - pin: {mesage: "1"}
      - approve_join: {role: x}
      - poll: {question: q, options: [a, b], anonymous: maybe}
"""


def test_bad_params_are_load_errors_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:5] == [
        f"{path}:7:21: missing required key 'role' in action 'grant_role'",
        f"{path}:8:38: 'options': list should have at least 2 items after validation, not 1",
        f"{path}:9:15: action 'poll': the poll's options must differ from each other",
        f"{path}:10:15: unknown key 'mesage' in action 'pin'; did you mean 'message'?",
        f"{path}:11:24: unknown key 'role' in action 'approve_join' (expected one of: to, reason)",
    ]
    assert err[5].startswith(f"{path}:12:") and "anonymous" in err[5]
    with pytest.raises(PlaybookError):
        playbook(BAD)


def test_a_playbook_using_an_action_no_adapter_declares_is_refused() -> None:
    pb = playbook(RULES)
    check_capabilities(pb, {"all": FakeAdapter("all")})
    no_joins = FakeAdapter("dc", capabilities=["grant_role", "remove_role", "pin", "unpin", "poll"])
    with pytest.raises(SetupError) as info:
        check_capabilities(pb, {"dc": no_joins})
    messages = [p.split(": ", 1)[1].split(";")[0] for p in info.value.problems]
    assert messages == [
        "action `approve_join` is not supported by any configured adapter",
        "action `decline_join` is not supported by any configured adapter",
    ]


def test_explain_shows_what_each_platform_action_would_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pb = tmp_path / "p.yaml"
    pb.write_text("engage_rules: 1\nname: p\n" + RULES, encoding="utf-8")
    events = tmp_path / "e.jsonl"
    events.write_text(
        '{"id": "e1", "type": "message.posted", "at": "2026-03-02T10:00:00Z", '
        '"channel": "general", "member": {"id": "u1"}, '
        '"data": {"text": "vip", "message_id": "7"}}\n',
        encoding="utf-8",
    )
    assert main(["explain", str(pb), str(events), "--event", "e1"]) == 0
    out = capsys.readouterr().out
    for line in (
        '→ grant_role to u1 {"role": "vip"}',
        '→ pin to u1 {"message_id": "7", "channel": "general"}',
        '→ unpin to u1 {"message_id": "42", "channel": "news"}',
        '→ poll {"question": "周末活动去哪？", "options": ["爬山", "看展 u1"]',
    ):
        assert line in out, out


def test_in_shadow_mode_they_are_recorded_not_done() -> None:
    engine = Engine(
        playbook("""
rules:
  - id: try-roles
    on: message.posted
    shadow: true
    do: [{grant_role: vip}, {poll: {question: q, options: [a, b]}}]
  - id: sees-the-role
    on: checkin
    if: "'vip' in member.roles"
    do: [{tag: vip}]
""")
    )
    done = acts(engine, message("u1", "hi", channel="general"))
    assert [(a.type, a.shadow, a.params) for a in done] == [
        ("grant_role", True, {"role": "vip"}),
        ("poll", True, {"question": "q", "options": ["a", "b"]}),
    ]
    assert acts(engine, event("checkin", "u1")) == []  # the role was not granted
