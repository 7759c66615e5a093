"""Rule errors in the operator's language (issue 18): the message stored with a failed
rule stays English, byte for byte, whatever the language; where it is printed (a replay's
summary, `test`, explain, the service's log) it is told in the current language
(docs/reference.md §7, "Language")."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.i18n import _, use_language
from engage_rules.model import rule_problems
from engage_rules.model.rule_problems import TEMPLATES, english, in_words
from engage_rules.testing import event, event_line, playbook, run_cli, run_decisions
from test_i18n_validation import english_left

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]")
PLACEHOLDER = re.compile(r"\{(\w+)(?:![rsa])?\}")

#: Values a message may be made with: one token, so the message has one reading.
VALUE = st.text("abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1, max_size=12)
#: What may stand before a message: the action or the expression that failed.
PREFIX = st.sampled_from(["", "award: ", "levels.by: ", "goal.if: ", "send: "])


@settings(max_examples=50, deadline=None)
@given(
    template=st.sampled_from(TEMPLATES),
    values=st.lists(VALUE, min_size=6, max_size=6),
    prefix=PREFIX,
)
def test_a_message_made_from_a_template_is_told_in_chinese_with_its_values(
    template: str, values: list[str], prefix: str
) -> None:
    names = list(dict.fromkeys(PLACEHOLDER.findall(template)))
    params = dict(zip(names, values, strict=False))
    with use_language("zh_CN"):  # what is stored is English whatever the language
        message = prefix + english(template, **params)
    assert message == prefix + template.format(**params)
    assert not CJK.search(message)
    with use_language("en"):
        assert in_words(message) == message
    with use_language("zh_CN"):
        told = in_words(message)
    assert told.startswith(prefix) and told != message
    assert CJK.search(told) and not english_left(told.removeprefix(prefix)), told
    shown = {n: repr(v) if "{" + n + "!r}" in template else v for n, v in params.items()}
    assert all(v in told for v in shown.values()), (told, shown)


def test_every_template_is_marked_and_translated() -> None:
    assert len(TEMPLATES) == len(set(TEMPLATES)) >= 50
    assert sorted(TEMPLATES, key=len, reverse=True) == TEMPLATES
    assert rule_problems.NOT_A_MODERATOR in TEMPLATES
    with use_language("zh_CN"):
        untranslated = [t for t in TEMPLATES if _(t) == t or not CJK.search(_(t))]
    assert untranslated == []


def test_a_nested_error_is_told_too_and_other_words_are_left_as_they_are() -> None:
    inner = english(rule_problems.UNKNOWN_SEGMENT, name="'vip'")
    message = english(rule_problems.AUDIENCE_FAILED, audience="'x'", member="u1", error=inner)
    with use_language("zh_CN"):
        assert in_words(message) == "成员 u1 的受众条件 'x' 出错：segment()：未知的分群 'vip'"
        assert in_words("the adapter said no") == "the adapter said no"
        assert in_words("x: y: z") == "x: y: z"
        assert in_words("") == ""


PLAYBOOK = """
rules:
  - id: pay
    on: pay.me
    do:
      - award: {amount: "{{ event.data.n }}"}
  - id: label
    on: label.me
    do:
      - tag: {name: "{{ event.data.t }}"}
  - id: post
    on: post.me
    do:
      - send: {community: "{{ event.data.c }}", text: hi}
"""
EVENTS = [
    event("pay.me", data={"n": "abc"}, id="e1"),
    event("pay.me", data={"n": "-3"}, id="e2"),
    event("label.me", data={"t": "bad name!"}, id="e3"),
    event("post.me", data={"c": "@persons"}, id="e4"),
]
TOLD = {
    "award: amount 'abc' is not a number": "award: 数量 'abc' 不是数字",
    "award: amount must not be negative, got -3": "award: 数量不能为负数，实际是 -3",
    "tag: tag name 'bad name!' is not a name (docs/language.md, \"Names\")": (
        "tag: 标签名 'bad name!' 不是有效的名称（见 docs/language.md 的 \"Names\" 一节）"
    ),
    "send: `community: @persons` is not a group: it holds the persons": (
        "send: `community: @persons` 不是群组：它存放的是“人”（persons）"
    ),
}


def test_real_rule_errors_are_stored_in_english_and_told_in_chinese() -> None:
    stored = {}
    for lang in ("en", "zh_CN"):
        with use_language(lang):
            decisions = run_decisions(playbook(PLAYBOOK), EVENTS)
        stored[lang] = [e.to_json() for d in decisions for e in d.errors]
    assert stored["en"] == stored["zh_CN"]
    assert [e["message"] for e in stored["en"]] == list(TOLD)
    with use_language("zh_CN"):
        assert {m: in_words(m) for m in TOLD} == TOLD


def test_the_moderators_refusal_is_told_in_the_replay_summary(tmp_path: Path) -> None:
    target = {"member": "u1"}
    lines = [
        event_line("moderation.strike", "troll", id="s1", data=target),
        event_line("moderation.strike", None, id="s2", data=target),
    ]
    events = tmp_path / "strikes.jsonl"
    events.write_text("\n".join(lines) + "\n", "utf-8")
    args = ["replay", ROOT / "rules" / "moderation", events]
    en, zh = run_cli(*args), run_cli("--lang", "zh_CN", *args)
    assert en.returncode == zh.returncode == 0 and en.stdout == zh.stdout
    assert (
        "rule moderation.strike on s1: moderation.strike sent by troll, who is not a "
        "moderator (moderation.moderators): ignored"
    ) in en.stderr
    assert (
        "规则 moderation.strike 处理 s1 时：moderation.strike 由 troll 发出，但此人不是管理员"
        "（moderation.moderators）：已忽略"
    ) in zh.stderr
    assert "moderation.strike 没有注明发出的成员" in zh.stderr


def test_test_and_explain_tell_rule_errors_in_chinese(tmp_path: Path) -> None:
    (tmp_path / "club.yaml").write_text(
        "engage_rules: 1\nname: club\ncommunity: {timezone: Asia/Shanghai}\n" + PLAYBOOK, "utf-8"
    )
    (tmp_path / "club.test.yaml").write_text(
        "playbook: club.yaml\ncases:\n  - name: paid\n    events:\n"
        "      - {type: pay.me, member: u1, data: {n: abc}}\n    expect:\n      actions: []\n",
        "utf-8",
    )
    en = run_cli("test", tmp_path / "club.test.yaml")
    zh = run_cli("--lang", "zh_CN", "test", tmp_path / "club.test.yaml")
    assert en.returncode == zh.returncode == 1
    assert "award: amount 'abc' is not a number" in en.stdout + en.stderr
    assert "award: 数量 'abc' 不是数字" in zh.stdout + zh.stderr
    events = tmp_path / "events.jsonl"
    events.write_text(event_line("pay.me", "u1", id="p1", data={"n": "abc"}) + "\n", "utf-8")
    args = ["explain", tmp_path / "club.yaml", events, "--event", "p1"]
    en, zh = run_cli(*args), run_cli("--lang", "zh_CN", *args)
    assert en.returncode == zh.returncode == 0, en.stderr
    assert "award: amount 'abc' is not a number" in en.stdout
    assert "award: 数量 'abc' 不是数字" in zh.stdout
    json_args = ["explain", tmp_path / "club.yaml", events, "--event", "p1", "--json"]
    data = [json.loads(run_cli(*a, *json_args).stdout) for a in ([], ["--lang", "zh_CN"])]
    assert data[0] == data[1]  # the data stays English


def test_the_service_logs_rule_errors_in_the_current_language(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from engage_rules.model.decision import Decision, RuleFailure
    from engage_rules.runtime.service import Service

    d = Decision(cause="e1", at=EVENTS[0].at)
    d.add_error(RuleFailure("pay", "e1", next(iter(TOLD)), EVENTS[0].at))
    service = Service.__new__(Service)
    service.stats = type("Stats", (), {"actions": {}, "rule_errors": 0})()
    with caplog.at_level(logging.WARNING), use_language("zh_CN"):
        service._count_actions_and_errors([d])
    assert "award: 数量 'abc' 不是数字" in caplog.text


def test_the_templates_made_with_gettext_are_still_marked_where_they_are_made() -> None:
    from babel.messages.extract import extract_from_file

    package = ROOT / "src" / "engage_rules"
    for where, templates in rule_problems.MARKED_WHERE_MADE.items():
        marked = {found[1] for found in extract_from_file("python", str(package / where))}
        assert set(templates) <= marked, where
        assert set(templates) <= set(TEMPLATES)


def test_an_expression_error_of_a_rule_is_told_in_chinese() -> None:
    pb = playbook(
        'rules:\n  - id: big\n    on: big.me\n    if: "range(0, 10, event.data.s) | length > 0"\n'
        "    do: [{award: {amount: 1}}]\n"
    )
    with use_language("zh_CN"):
        (d,) = run_decisions(pb, [event("big.me", id="b1", data={"s": 0})])
        (failure,) = d.errors
        told = in_words(failure.message)
    assert "range() arg 3 must not be zero" in failure.message
    assert not CJK.search(failure.message) and CJK.search(told), told
