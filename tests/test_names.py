"""One naming rule for what operators name (lang/names.py), the same in the loader and
the published schema, Chinese names included; and `on:` event types that can never match
an event are refused with the type they likely mean."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.api import load_text
from engage_rules.engine.core import Engine
from engage_rules.errors import PlaybookError
from engage_rules.lang.names import NAME, event_type_problem, is_name
from engage_rules.lang.yaml_source import safe_load
from engage_rules.model.events import event_from_obj
from engage_rules.testing import run_events

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "docs" / "playbook.schema.json").read_text("utf-8")
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

CHINESE = """\
engage_rules: 1
name: 中文命名
community: {name: 测试群, timezone: Asia/Shanghai}
currencies: [积分, {name: 金币, expires_after: 30d}]
segments:
  核心成员: "member.balances.get('积分', 0) >= 2"
badges:
  签到达人: {name: 签到达人}
leaderboards:
  本周积分榜:
    measure: 积分
    period: week
    size: 3
flows:
  新人引导:
    steps:
      - send: {text: 欢迎}
rules:
  - id: 新人
    on: member.joined
    do:
      - start_flow: 新人引导
  - id: 签到奖励
    on: checkin
    do:
      - award: {points: 1, reason: 签到}
      - award: {currency: 金币, amount: 2}
      - grant_badge: 签到达人
  - id: 核心标记
    on: checkin
    if: "segment('核心成员')"
    do:
      - tag: 核心
"""


def _events(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"c{i}",
            "type": "checkin",
            "at": f"2026-03-0{i + 1}T09:00:00+08:00",
            "community": "测试群",
            "member": {"id": "小明"},
        }
        for i in range(n)
    ]


def test_chinese_names_work_end_to_end() -> None:
    playbook = load_text(CHINESE, "zh.yaml")
    engine = Engine(playbook)
    actions = run_events(engine, [event_from_obj(e) for e in _events(3)])
    assert ("award", "签到奖励") in [(a.type, a.rule) for a in actions]
    assert {a.params["badge"] for a in actions if a.type == "grant_badge"} == {"签到达人"}
    tags = [(a.params["name"], a.cause) for a in actions if a.type == "tag"]
    assert tags == [("核心", "c1")]  # in the segment from the second check-in on
    member = engine.state.communities["测试群"].members["小明"]
    assert member.balances == {"积分": 3, "金币": 6}


def test_the_chinese_playbook_passes_the_published_schema() -> None:
    VALIDATOR.validate(safe_load(CHINESE))


@pytest.mark.parametrize(
    ("section", "body"),
    [
        ("currencies", "currencies: ['积分 余额']"),
        ("segments", "segments: {'核心 成员': 'true'}"),
        ("badges", "badges: {'签到，达人': {name: x}}"),
        ("leaderboards", "leaderboards: {'_榜': {measure: points, period: week}}"),
        ("rules", "rules: [{id: '签到 奖励', on: checkin, do: [{tag: x}]}]"),
    ],
)
def test_a_bad_name_is_refused_alike_by_loader_and_schema(section: str, body: str) -> None:
    text = f"engage_rules: 1\nname: t\ncommunity: {{name: c, timezone: UTC}}\n{body}\n"
    with pytest.raises(PlaybookError) as info:
        load_text(text, "bad.yaml")
    assert any("must start with a letter or digit" in str(p) for p in info.value.problems), [
        str(p) for p in info.value.problems
    ]
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(safe_load(text))


_ALPHABET = st.sampled_from([*"aZ9_-.:积分。， !é\t", "\u3000", "ｘ"])


@settings(max_examples=200, deadline=None)
@given(st.text(_ALPHABET, min_size=1, max_size=6))
def test_the_schema_pattern_and_the_loader_agree_on_every_name(name: str) -> None:
    by_schema = re.search(NAME, name) is not None
    assert is_name(name) == by_schema
    assert VALIDATOR.is_valid({"segments": {name: "true"}}) == is_name(name)


@pytest.mark.parametrize(
    ("on", "meant"),
    [
        ("签到", "checkin"),
        ("Check In", "checkin"),
        ("点赞", "reaction.added"),
        ("Message Posted", "message.posted"),
        ("入群欢迎", "member.joined"),
    ],
)
def test_an_event_type_no_event_can_have_is_refused_with_what_it_means(on: str, meant: str) -> None:
    text = (
        "engage_rules: 1\nname: t\ncommunity: {name: c, timezone: UTC}\n"
        f"rules:\n  - id: r\n    on: '{on}'\n    do: [{{tag: x}}]\n"
    )
    with pytest.raises(PlaybookError) as info:
        load_text(text, "on.yaml")
    (problem,) = info.value.problems
    assert str(problem).startswith("on.yaml:6:9: ")
    assert f"did you mean `{meant}`?" in str(problem)


def test_event_types_in_lists_are_checked_too() -> None:
    text = (
        "engage_rules: 1\nname: t\ncommunity: {name: c, timezone: UTC}\n"
        "rules:\n  - id: r\n    on: [checkin, 签到]\n    do: [{tag: x}]\n"
    )
    with pytest.raises(PlaybookError, match="did you mean `checkin`"):
        load_text(text, "on.yaml")


def test_valid_event_types_have_no_problem() -> None:
    for t in ("checkin", "message.posted", "custom.badge_earned", "a1.b_2"):
        assert event_type_problem(t) is None


def test_a_literal_tag_name_is_checked_at_load_and_a_templated_one_when_it_runs() -> None:
    head = "engage_rules: 1\nname: t\ncommunity: {name: c, timezone: UTC}\n"
    with pytest.raises(PlaybookError, match="tag name '核心 成员' must start"):
        load_text(head + "rules:\n  - {id: r, on: checkin, do: [{tag: '核心 成员'}]}\n", "t.yaml")
    playbook = load_text(
        head + "rules:\n  - {id: r, on: checkin, do: [{tag: '{{ event.data.word }}'}]}\n",
        "t.yaml",
    )
    engine = Engine(playbook)
    good, bad = (
        event_from_obj(
            {
                "id": f"e{i}",
                "type": "checkin",
                "at": "2026-03-01T09:00:00+00:00",
                "community": "c",
                "member": {"id": "m"},
                "data": {"word": word},
            }
        )
        for i, word in enumerate(["早起", "早 起"])
    )
    (d1,) = engine.process(good)
    assert [a.params["name"] for a in d1.actions] == ["早起"]
    (d2,) = engine.process(bad)
    assert d2.actions == []
    assert [e.message for e in d2.errors] == [
        "tag: " + "tag name '早 起' is not a name (docs/language.md, \"Names\")"
    ]
