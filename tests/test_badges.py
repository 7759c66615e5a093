"""Badges and honour titles (docs/reference.md §5.5): from YAML to emitted actions and state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engage_rules import Engine
from engage_rules.compile.measures import event_types
from engage_rules.errors import PlaybookError
from engage_rules.testing import T0, event
from helpers import playbook, run, types

DAY = 24 * 3600

BADGES = """
badges:
  first-post: {name: 首帖, description: 第一次发帖}
  helper:
    name: 热心助人
    tiers: [{at: 2, name: 铜}, {at: 4, name: 银}, {at: 6, name: 金}]
    counts: "count('reaction.added')"
  top-contributor: {name: 优秀贡献者, title: true, revoke_after: 30d}
  veteran: {name: 元老, title: true}
"""

RULES = (
    BADGES
    + """
rules:
  - id: first-post
    on: message.posted
    do: [{grant_badge: first-post}]
  - id: crown
    on: crown
    do: [{grant_badge: {badge: top-contributor, to: "{{ event.data.who }}"}}]
  - id: uncrown
    on: uncrown
    do: [{revoke_badge: top-contributor}]
  - id: veteran
    on: veteran
    do: [{grant_badge: veteran}]
  - id: congratulate
    on: badge.granted
    do: [{send: {text: "恭喜获得 {{ event.data.badge }} {{ event.data.tier_name | default('') }}"}}]
  - id: console
    on: badge.revoked
    do: [{tag: "lost-{{ event.data.badge }}"}]
"""
)


def _member(engine: Engine, mid: str = "u1") -> object:
    return engine.state.community("default").members[mid]


def test_a_one_off_badge_is_granted_once_and_its_event_reaches_rules() -> None:
    engine = Engine(playbook(RULES))
    first = run(engine, event("message.posted", "u1", 0, id="p1"))
    assert [(a.type, a.rule, a.params) for a in first] == [
        ("grant_badge", "first-post", {"badge": "first-post", "name": "首帖"}),
        ("send", "congratulate", {"text": "恭喜获得 first-post "}),
    ]
    assert first[1].cause == "p1/badge.granted:first-post:u1"
    assert run(engine, event("message.posted", "u1", 60)) == []
    m = engine.state.community("default").members["u1"]
    assert m.badges == {"first-post": {"granted_at": T0.isoformat(), "count": 1}}
    assert m.titles == []
    assert engine.state.snapshot()["members"]["u1"]["badges"] == ["first-post"]


def test_tiers_upgrade_bronze_silver_gold_as_the_measure_grows() -> None:
    engine = Engine(playbook(RULES))
    got = []
    for i in range(7):
        for a in run(engine, event("reaction.added", "u1", i * 60, id=f"r{i}")):
            got.append((a.cause, a.type, a.rule, a.params))
    assert got == [
        (
            "r1",
            "grant_badge",
            "badges.helper",
            {"badge": "helper", "name": "热心助人", "tier": 1, "tier_name": "铜"},
        ),
        ("r1/badge.granted:helper:u1:1", "send", "congratulate", {"text": "恭喜获得 helper 铜"}),
        (
            "r3",
            "grant_badge",
            "badges.helper",
            {"badge": "helper", "name": "热心助人", "tier": 2, "tier_name": "银"},
        ),
        ("r3/badge.granted:helper:u1:2", "send", "congratulate", {"text": "恭喜获得 helper 银"}),
        (
            "r5",
            "grant_badge",
            "badges.helper",
            {"badge": "helper", "name": "热心助人", "tier": 3, "tier_name": "金"},
        ),
        ("r5/badge.granted:helper:u1:3", "send", "congratulate", {"text": "恭喜获得 helper 金"}),
    ]
    m = engine.state.community("default").members["u1"]
    assert m.badges["helper"] == {
        "granted_at": (T0 + timedelta(minutes=5)).isoformat(),
        "count": 3,
        "tier": 3,
        "tier_name": "金",
    }
    # Other event types never re-evaluate a count-only measure.
    assert run(engine, event("message.posted", "u1", 900))[0].params["badge"] == "first-post"


def test_a_tiered_title_and_revoking_a_tier_until_the_measure_next_changes() -> None:
    engine = Engine(
        playbook("""
badges:
  star: {name: 明星, title: true, tiers: [{at: 1, name: 一星}, {at: 3, name: 三星}],
         counts: "count('checkin')"}
rules:
  - id: strip
    on: strip
    do: [{revoke_badge: star}]
""")
    )
    acts = run(engine, event("checkin", "u1", 0))
    assert acts[0].params == {
        "badge": "star",
        "name": "明星",
        "tier": 1,
        "tier_name": "一星",
        "title": True,
    }
    m = engine.state.community("default").members["u1"]
    assert m.titles == ["star"]
    assert [(a.type, a.rule) for a in run(engine, event("strip", "u1", 10))] == [
        ("revoke_badge", "strip")
    ]
    assert m.titles == [] and m.badges == {}
    assert run(engine, event("strip", "u1", 20)) == []  # the measure did not change
    again = run(engine, event("checkin", "u1", 30))
    assert [(a.type, a.params["tier"]) for a in again] == [("grant_badge", 1)]
    assert m.badges["star"]["count"] == 1 and m.titles == ["star"]


def test_a_measure_that_jumps_grants_the_highest_tier_reached_at_once() -> None:
    engine = Engine(
        playbook("""
badges:
  rich: {name: 富, tiers: [{at: 10, name: 铜}, {at: 50, name: 银}], counts: "member.points"}
rules:
  - id: jackpot
    on: jackpot
    do: [{award: {points: 60, reason: jackpot}}]
""")
    )
    acts = run(engine, event("jackpot", "u1", 0, id="j"))
    assert [(a.type, a.params.get("tier")) for a in acts] == [("award", None), ("grant_badge", 2)]
    assert engine.state.community("default").members["u1"].badges["rich"]["count"] == 1


def test_a_measure_reading_member_state_is_evaluated_for_members_touched_by_to() -> None:
    engine = Engine(
        playbook("""
badges:
  popular: {name: 人气王, tiers: [{at: 10, name: 一星}], counts: "member.points"}
rules:
  - id: tip
    on: tip
    do: [{award: {points: 10, reason: tip, to: "{{ event.data.to }}"}}]
""")
    )
    acts = run(engine, event("tip", "u1", 0, to="u2"))
    assert [(a.type, a.member) for a in acts] == [("award", "u2"), ("grant_badge", "u2")]


def test_a_failing_measure_is_a_rule_error_not_a_crash() -> None:
    engine = Engine(
        playbook("""
badges:
  odd: {name: 怪, tiers: [{at: 1, name: 一}], counts: "member.attrs.score"}
rules:
  - id: s
    on: s
    do: [{set: {score: "abc"}}]
""")
    )
    (d,) = engine.process(event("s", "u1", 0))
    assert [a.type for a in d.actions] == ["set"]
    assert d.errors[0].rule == "badges.odd"
    assert "must give a number" in d.errors[0].message


def test_a_title_is_granted_with_its_badge_and_expires_without_events() -> None:
    engine = Engine(playbook(RULES))
    acts = run(engine, event("crown", "admin", 0, id="c1", who="u1"))
    assert [(a.type, a.member) for a in acts] == [("grant_badge", "u1"), ("send", "u1")]
    expires = (T0 + timedelta(days=30)).isoformat()
    assert acts[0].params == {
        "badge": "top-contributor",
        "name": "优秀贡献者",
        "title": True,
        "expires": expires,
    }
    m = engine.state.community("default").members["u1"]
    assert m.titles == ["top-contributor"]
    assert engine.state.snapshot()["members"]["u1"]["titles"] == ["top-contributor"]
    assert engine.advance_to(T0 + timedelta(days=29)) == []
    (d,) = engine.advance_to(T0 + timedelta(days=31))
    assert [(a.type, a.member, a.rule, a.params) for a in d.actions] == [
        (
            "revoke_badge",
            "u1",
            "badges.top-contributor",
            {"badge": "top-contributor", "reason": "expired"},
        ),
        ("tag", "u1", "console", {"name": "lost-top-contributor"}),
    ]
    assert d.actions[0].at == T0 + timedelta(days=30)
    assert m.titles == [] and "top-contributor" not in m.badges


def test_a_re_grant_renews_the_title_and_the_first_timer_does_nothing() -> None:
    engine = Engine(playbook(RULES))
    run(engine, event("crown", "admin", 0, who="u1"))
    again = run(engine, event("crown", "admin", 20 * DAY, id="c2", who="u1"))
    assert again[0].params["renewed"] is True
    assert again[0].params["expires"] == (T0 + timedelta(days=50)).isoformat()
    assert again[1].params["text"] == "恭喜获得 top-contributor "
    m = engine.state.community("default").members["u1"]
    assert m.badges["top-contributor"]["count"] == 2
    # Day 30: the first grant's timer fires and finds the grant renewed.
    fired = engine.advance_to(T0 + timedelta(days=31))
    assert [a for d in fired for a in d.actions] == []
    assert m.titles == ["top-contributor"]
    (d,) = engine.advance_to(T0 + timedelta(days=51))
    assert types(d.actions) == ["revoke_badge", "tag"]
    assert m.titles == []


def test_a_re_grant_of_a_permanent_badge_or_title_does_nothing() -> None:
    engine = Engine(playbook(RULES))
    assert types(run(engine, event("veteran", "u1", 0))) == ["grant_badge", "send"]
    assert run(engine, event("veteran", "u1", 60)) == []
    assert engine.state.community("default").members["u1"].titles == ["veteran"]
    assert engine.advance_to(T0 + timedelta(days=400)) == []


def test_revoke_badge_removes_the_title_and_a_later_timer_does_nothing() -> None:
    engine = Engine(playbook(RULES))
    run(engine, event("crown", "admin", 0, who="u1"))
    acts = run(engine, event("uncrown", "u1", DAY, id="x"))
    assert [(a.type, a.rule, a.params) for a in acts] == [
        ("revoke_badge", "uncrown", {"badge": "top-contributor"}),
        ("tag", "console", {"name": "lost-top-contributor"}),
    ]
    assert acts[1].cause == "x/badge.revoked:top-contributor:u1"
    assert engine.state.community("default").members["u1"].titles == []
    assert run(engine, event("uncrown", "u1", 2 * DAY)) == []
    assert [a for d in engine.advance_to(T0 + timedelta(days=40)) for a in d.actions] == []


def test_a_revoked_title_granted_again_gets_a_fresh_expiry() -> None:
    engine = Engine(playbook(RULES))
    run(engine, event("crown", "admin", 0, who="u1"))
    run(engine, event("uncrown", "u1", DAY))
    again = run(engine, event("crown", "admin", 2 * DAY, who="u1"))
    assert "renewed" not in again[0].params
    assert [a for d in engine.advance_to(T0 + timedelta(days=31)) for a in d.actions] == []
    (d,) = engine.advance_to(T0 + timedelta(days=33))
    assert types(d.actions) == ["revoke_badge"]  # already tagged lost-top-contributor


def test_playbooks_without_a_badges_section_grant_any_badge_id() -> None:
    engine = Engine(
        playbook("""
rules:
  - id: p
    on: message.posted
    do: [{grant_badge: anything}]
""")
    )
    (a,) = run(engine, event("message.posted", "u1", 0))
    assert a.params == {"badge": "anything"}


def test_event_types_of_measures() -> None:
    assert event_types("count('a') * 2 + count('b', within='7d')") == {"a", "b"}
    assert event_types("streak('checkin') + vars.bonus") == {"checkin"}
    assert event_types("count('a') + days(1).days") == {"a"}
    assert event_types("count('a')") == {"a"}
    assert event_types("member.points") is None
    assert event_types("now") is None
    assert event_types("count('a') if now else 0") is None
    assert event_types("count(vars.kind)") is None


# -- bad YAML ---------------------------------------------------------------------------------


def _problems(body: str) -> list[str]:
    with pytest.raises(PlaybookError) as info:
        playbook(body)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "badges:\n  a: {name: A, titel: true}\n",
            "test.yaml:5:16: unknown key 'titel' in 'badges.a'; did you mean 'title'?",
        ),
        (
            "badges:\n  a: {name: A, tiers: [{at: 1, name: x}]}\n",
            "test.yaml:5:6: 'badges.a': a tiered badge needs `counts:`",
        ),
        (
            "badges:\n  a: {name: A, counts: \"count('x')\"}\n",
            "test.yaml:5:6: 'badges.a': `counts:` measures a tiered badge: add `tiers:`",
        ),
        (
            "badges:\n  a: {name: A, counts: \"count('x')\", tiers: [{at: 5, name: x}, "
            "{at: 5, name: y}]}\n",
            "test.yaml:5:6: 'badges.a': tier 'y' (at 5) must be above tier 'x' (at 5)",
        ),
        (
            "badges:\n  a: {name: A, revoke_after: 30 days}\n",
            "test.yaml:5:30: 'badges.a.revoke_after': '30 days' is not a duration",
        ),
        (
            "badges:\n  a: {name: A, counts: \"count('x')\", tiers: [{at: 1, name: x}], "
            "revoke_after: 1d}\n",
            "test.yaml:5:6: 'badges.a': a tiered badge follows its measure",
        ),
        (
            "badges:\n  a: {name: A, counts: \"count('x'\", tiers: [{at: 1, name: x}]}\n",
            "test.yaml:5:24: syntax error",
        ),
        (
            'badges:\n  a: {name: A, counts: "membr.points", tiers: [{at: 1, name: x}]}\n',
            "test.yaml:5:24: unknown name `membr`; did you mean `member`?",
        ),
        (
            "badges:\n  a: {description: x}\n",
            "test.yaml:5:6: missing required key 'name' in 'badges.a'",
        ),
        (
            "badges:\n  'bad id': {name: A}\n",
            "test.yaml:5:3: 'badges': badge id 'bad id' must start with a letter",
        ),
        (
            "badges:\n  first-post: {name: A}\nrules:\n"
            "  - {id: r, on: x, do: [{grant_badge: first-pots}]}\n",
            "test.yaml:7:39: unknown badge 'first-pots'; did you mean 'first-post'?",
        ),
        (
            "badges:\n  a: {name: A}\n"
            "rules:\n  - {id: r, on: x, do: [{revoke_badge: {badge: zzz}}]}\n",
            "test.yaml:7:48: unknown badge 'zzz' (defined badges: a)",
        ),
        (
            "badges:\n  h: {name: H, counts: \"count('x')\", tiers: [{at: 1, name: x}]}\n"
            "rules:\n  - {id: r, on: x, do: [{grant_badge: h}]}\n",
            "test.yaml:7:39: badge 'h' is tiered",
        ),
    ],
)
def test_bad_badges_get_located_errors(body: str, expected: str) -> None:
    found = _problems(body)
    assert any(p.startswith(expected) for p in found), found
