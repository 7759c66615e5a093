"""Level ladders (docs/reference.md §5.4): promotion, demotion with hysteresis and grace, demotion
of silent members on time, `lock_level` and `set_level`."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engage_rules import Engine
from engage_rules.errors import PlaybookError
from engage_rules.features.levels import LEVELS
from engage_rules.features.points import POINTS
from engage_rules.model.decision import ActionRecord
from engage_rules.model.state import MemberState
from engage_rules.shell.runner import Runner
from engage_rules.store import SQLiteStore
from engage_rules.testing import T0, event
from helpers import playbook, run, types

DAY = 86400

BY_POINTS = """
levels:
  by: points
  ladder:
    - {level: 1, name: 新手, at: 0}
    - {level: 2, name: 活跃成员, at: 100}
    - {level: 3, name: 核心成员, at: 500}
  demotion: {below: 0.9, grace: 14d}
rules:
  - id: post
    on: message.posted
    do: [{award: {points: "{{ event.data.n }}", reason: post}}]
  - id: removed
    on: message.deleted
    do: [{revoke: {event: "{{ event.data.message_id }}"}}]
  - id: shop
    on: redeem.requested
    do: [{spend: {points: "{{ event.data.cost }}"}}]
  - id: congrats
    on: member.level_changed
    if: "event.data.direction == 'up'"
    do: [{send: {text: "{{ event.data.from }}→{{ event.data.to }} {{ member.level_name }}"}}]
  - id: show
    on: poll.voted
    do: [{reply: {text: "L{{ member.level }} {{ member.level_name }}"}}]
  - id: vip
    on: checkin
    if: "member.level >= 3"
    do: [{tag: vip}]
  - id: pin
    on: feedback.submitted
    do: [{set_level: "{{ event.data.level }}"}, {lock_level: true}]
  - id: unpin
    on: activity.attended
    do: [{lock_level: false}]
"""


def _m(engine: Engine, mid: str = "u1") -> MemberState:
    return engine.state.community("default").member(mid)


def _advance(engine: Engine, at: datetime) -> list[ActionRecord]:
    return [a for d in engine.advance_to(at) for a in d.actions]


def _changes(actions: list[ActionRecord]) -> list[tuple[str, object, object, str]]:
    return [
        (a.type, a.params["from"], a.params["to"], a.params["direction"])
        for a in actions
        if a.type in ("level_changed", "set_level")
    ]


def test_members_start_at_the_lowest_level_without_a_change() -> None:
    engine = Engine(playbook(BY_POINTS))
    (reply,) = run(engine, event("poll.voted", "u1", 0))
    assert reply.params["text"] == "L1 新手"  # the first event's rules see the lowest level
    m = _m(engine)
    assert (m.level, m.level_name) == (1, "新手")
    assert engine.state.snapshot()["members"]["u1"]["level"] == 1


def test_promotion_emits_level_changed_and_raises_member_level_changed() -> None:
    engine = Engine(playbook(BY_POINTS))
    acts = run(
        engine, event("message.posted", "u1", 0, n=60), event("message.posted", "u1", 60, n=60)
    )
    assert types(acts) == ["award", "award", "level_changed", "send"]
    change, send = acts[2:]
    assert (change.rule, change.member, change.params) == (
        "levels",
        "u1",
        {"from": 1, "to": 2, "direction": "up", "name": "活跃成员"},
    )
    assert send.params["text"] == "1→2 活跃成员"
    assert send.cause == f"{change.cause}/level:u1:1"
    snap = engine.state.snapshot()["members"]["u1"]
    assert (snap["level"], snap["level_name"]) == (2, "活跃成员")


def test_a_jump_over_several_steps_is_one_change() -> None:
    engine = Engine(playbook(BY_POINTS))
    acts = run(engine, event("message.posted", "u1", 0, n=800), event("checkin", "u1", 60))
    assert _changes(acts) == [("level_changed", 1, 3, "up")]
    assert types(acts)[-1] == "tag"  # `member.level >= 3` holds on the next event


def test_spending_never_demotes_but_a_revoke_does_after_the_grace() -> None:
    engine = Engine(playbook(BY_POINTS))
    run(engine, event("message.posted", "u2", 0, n=100))
    assert _changes(run(engine, event("redeem.requested", "u2", 60, cost=100))) == []
    assert _m(engine, "u2").level == 2 and _m(engine, "u2").balances["points"] == 0
    run(
        engine,
        event("message.posted", "u1", 0, n=120, message_id="m1"),
        event("redeem.requested", "u1", 60, cost=20),
        event("message.posted", "u1", 120, n=5, message_id="m2"),
    )
    # Revoking the 120 within the grace period does not demote yet (55 < 90)...
    acts = run(
        engine,
        event("message.posted", "u1", DAY, n=50, message_id="m3"),
        event("message.deleted", "u1", DAY + 60, message_id="m1"),
    )
    assert _changes(acts) == [] and _m(engine).level == 2
    # ...the grace ends 14 days after the promotion, and the member is demoted then,
    # with no event of theirs.
    assert _advance(engine, T0 + timedelta(days=14) - timedelta(seconds=1)) == []
    acts = _advance(engine, T0 + timedelta(days=14))
    assert _changes(acts) == [("level_changed", 2, 1, "down")]
    assert acts[0].at == T0 + timedelta(days=14)
    assert "send" not in types(acts)  # `congrats` is for promotions only


def test_a_level_by_an_expiring_currency_measures_what_was_earned_in_the_period() -> None:
    expiring = "currencies: [{name: points, expires_after: 30d}]\nlevels:"
    engine = Engine(playbook(BY_POINTS.replace("levels:", expiring, 1)))
    run(
        engine,
        event("message.posted", "u1", 0, n=60),
        event("message.posted", "u1", 10 * DAY, n=60),
    )
    assert _m(engine).level == 2
    # Spending everything does not demote...
    assert _changes(run(engine, event("redeem.requested", "u1", 11 * DAY, cost=120))) == []
    # ...but when the first credit expires (spent, so nothing is written off), the
    # measure falls to 60 < 90: demoted then, without any event of the member.
    acts = _advance(engine, T0 + timedelta(days=31))
    assert types(acts) == ["level_changed"]
    assert acts[0].at == T0 + timedelta(days=30) and acts[0].cause.startswith("expire:")
    m = _m(engine)
    assert (m.level, m.earned["points"], m.forfeited["points"]) == (1, 120, 60)


def test_playbooks_without_levels_or_expiry_add_no_per_event_work() -> None:
    pb = playbook("rules:\n  - {id: r, on: checkin, do: [{award: {points: 5}}]}\n")
    assert pb.member_checks == () and pb.data(LEVELS) is None
    points = pb.data(POINTS)
    assert points is not None and points.expiry == {}  # no lots
    assert pb.rules[0].do[0].execute.__name__ == "award"  # the specialised executor
    engine = Engine(pb)
    run(engine, event("checkin", "u1", 0))
    assert _m(engine).level is None and engine.state.timers == []
    assert _m(engine).revocable == [] and points.targets == frozenset()  # no revoke


def test_hysteresis_keeps_a_member_near_the_threshold() -> None:
    engine = Engine(
        playbook("""
levels:
  by: "member.attrs.get('score', 0)"
  ladder: [{level: 1, name: a, at: 0}, {level: 2, name: b, at: 100}]
  demotion: {below: 0.9}
rules:
  - {id: score, on: poll.voted, do: [{set: {score: "{{ event.data.s }}"}}]}
""")
    )
    seen = []
    for k, score in enumerate([100, 95, 90, 99, 89, 95, 99, 100]):
        acts = run(engine, event("poll.voted", "u1", k, s=score))
        seen.append((score, _m(engine).level, _changes(acts)))
    assert seen == [
        (100, 2, [("level_changed", 1, 2, "up")]),
        (95, 2, []),
        (90, 2, []),
        (99, 2, []),
        (89, 1, [("level_changed", 2, 1, "down")]),
        (95, 1, []),
        (99, 1, []),
        (100, 2, [("level_changed", 1, 2, "up")]),
    ]


def test_no_flapping_around_a_threshold() -> None:
    engine = Engine(
        playbook("""
levels:
  by: "count('message.posted', within='10d')"
  ladder: [{level: 0, name: a, at: 0}, {level: 1, name: b, at: 10}]
  demotion: {below: 0.7}
rules:
  - {id: r, on: message.posted, do: [{set: {x: 1}}]}
""")
    )
    # 10 posts on day 0 promote; from then on one post a day keeps the member between
    # 7 and 10 posts in the window: no demotion, no promotion again.
    acts = run(engine, *(event("message.posted", "u1", k) for k in range(10)))
    assert _changes(acts) == [("level_changed", 0, 1, "up")]
    later = run(engine, *(event("message.posted", "u1", DAY * d + 100) for d in range(1, 30)))
    assert _changes(later) == []
    assert _m(engine).level == 1


WINDOWED = """
levels:
  by: "count('message.posted', within='30d') * 2 + count('reaction.added', within='7d')"
  ladder:
    - {level: 1, name: 新手, at: 0}
    - {level: 2, name: 活跃成员, at: 10}
    - {level: 3, name: 核心成员, at: 40}
  demotion: {below: 0.9, grace: 3d}
rules:
  - id: noted
    on: member.level_changed
    do: [{tag: "level-{{ event.data.to }}-{{ event.data.direction }}"}]
"""


def test_a_silent_member_is_demoted_on_time_without_events() -> None:
    engine = Engine(playbook(WINDOWED))
    # 4 posts (8) + 2 reactions = 10: level 2.
    acts = run(
        engine,
        *(event("message.posted", "u1", k) for k in range(4)),
        event("reaction.added", "u1", 10),
        event("reaction.added", "u1", 11),
    )
    assert _changes(acts) == [("level_changed", 1, 2, "up")]
    assert [t.kind for t in engine.state.timers] == ["level_check"]
    # The first reaction leaves its 7-day window at T0+7d+10s: the measure falls to 9,
    # which is 90% of 10: the member stays.  The second leaves 1s later: 8 < 9.
    assert _advance(engine, T0 + timedelta(days=7, seconds=10)) == []
    assert _m(engine).level == 2
    acts = _advance(engine, T0 + timedelta(days=8))
    assert _changes(acts) == [("level_changed", 2, 1, "down")]
    assert acts[0].at == T0 + timedelta(days=7, seconds=11)
    assert types(acts) == ["level_changed", "tag"]  # rules see the event
    assert acts[1].params["name"] == "level-1-down"
    # At the lowest level nothing can demote the member: no timer is left.
    assert engine.state.timers == []


def test_grace_defers_a_timed_demotion() -> None:
    engine = Engine(playbook(WINDOWED.replace("grace: 3d", "grace: 10d")))
    run(engine, *(event("reaction.added", "u1", k) for k in range(10)))
    assert _m(engine).level == 2
    # The reactions age out after 7 days, but the promotion was less than 10 days ago.
    assert _advance(engine, T0 + timedelta(days=9)) == []
    acts = _advance(engine, T0 + timedelta(days=11))
    assert _changes(acts) == [("level_changed", 2, 1, "down")]
    assert acts[0].at == T0 + timedelta(days=10, seconds=9)  # the 10th reaction promoted


def test_only_members_who_can_be_demoted_get_a_timer() -> None:
    engine = Engine(playbook(WINDOWED))
    for k in range(50):  # 50 members at the lowest level
        run(engine, event("message.posted", f"quiet{k}", k))
    assert engine.state.timers == []
    run(engine, *(event("message.posted", "busy", 100 + k) for k in range(5)))
    assert [t.member for t in engine.state.timers] == ["busy"]
    # More activity moves the check later without piling up timers.
    run(engine, *(event("message.posted", "busy", DAY + k) for k in range(5)))
    assert len(engine.state.timers) == 1


def test_lock_level_freezes_and_set_level_changes_by_hand() -> None:
    engine = Engine(playbook(BY_POINTS))
    acts = run(engine, event("feedback.submitted", "u1", 0, level=3))
    assert [(a.type, a.params) for a in acts] == [
        ("set_level", {"from": 1, "to": 3, "direction": "up", "name": "核心成员"}),
        ("lock_level", {"locked": True, "level": 3}),
        ("send", {"text": "1→3 核心成员"}),  # rules see member.level_changed after the event
    ]
    assert acts[0].rule == "pin"
    m = _m(engine)
    assert (m.level, m.level_locked) == (3, True)
    # Locked: neither the ladder's promotion nor its demotion applies.
    assert _changes(run(engine, event("message.posted", "u1", 60, n=50))) == []
    assert _advance(engine, T0 + timedelta(days=30)) == [] and m.level == 3
    # Unlocked: the ladder applies again (50 < 90% of 500: straight down to 1).
    acts = run(engine, event("activity.attended", "u1", 31 * DAY))
    assert types(acts) == ["lock_level", "level_changed"]
    assert _changes(acts) == [("level_changed", 3, 1, "down")]


def test_set_level_to_the_current_level_does_nothing() -> None:
    engine = Engine(playbook(BY_POINTS))
    assert types(run(engine, event("feedback.submitted", "u1", 0, level=1))) == ["lock_level"]
    assert types(run(engine, event("feedback.submitted", "u1", 1, level=1))) == []


def test_set_level_with_a_level_not_in_the_ladder_fails_the_rule() -> None:
    engine = Engine(playbook(BY_POINTS))
    (d,) = engine.process(event("feedback.submitted", "u1", 0, level=7))
    assert d.actions == []
    assert "7 is not a level of the ladder (1, 2, 3)" in d.errors[0].message


def test_streak_levels_break_at_midnight() -> None:
    engine = Engine(
        playbook("""
levels:
  by: "streak('checkin')"
  ladder: [{level: 1, name: a, at: 0}, {level: 2, name: b, at: 3}]
  demotion: {below: 1}
rules:
  - {id: r, on: checkin, do: [{set: {x: 1}}]}
""")
    )
    acts = run(engine, *(event("checkin", "u1", DAY * k) for k in range(3)))
    assert _changes(acts) == [("level_changed", 1, 2, "up")]
    # The last check-in was on day 2 (Shanghai); the streak survives day 3 and breaks
    # at the start of day 4, local midnight.
    acts = _advance(engine, T0 + timedelta(days=5))
    assert _changes(acts) == [("level_changed", 2, 1, "down")]
    assert acts[0].at == datetime.fromisoformat("2026-03-06T00:00:00+08:00")


def test_pending_level_checks_survive_a_sqlite_restart(tmp_path: Path) -> None:
    pb = playbook(WINDOWED)
    url = tmp_path / "state.db"
    runner = Runner(pb, SQLiteStore(url))
    for e in (*(event("message.posted", "u1", k) for k in range(5)),):
        runner.feed(e)
    runner.close()
    store = SQLiteStore(url)
    engine = Engine(pb, store.open())
    m = _m(engine)
    assert (m.level, m.level_name, m.promoted_at) == (2, "活跃成员", T0 + timedelta(seconds=4))
    assert [t.kind for t in engine.state.timers] == ["level_check"]
    assert m.level_due == engine.state.timers[0].due
    decisions = engine.advance_to(T0 + timedelta(days=31))
    acts = [a for d in decisions for a in d.actions]
    assert _changes(acts) == [("level_changed", 2, 1, "down")]
    store.commit(decisions, engine.state)
    store.close()
    store = SQLiteStore(url)
    state = store.open()
    assert state.community("default").member("u1").level == 1 and state.timers == []
    store.close()


def test_level_playbooks_give_the_same_result_twice() -> None:
    def replay() -> tuple[list[dict[str, object]], dict[str, object]]:
        engine = Engine(playbook(WINDOWED))
        acts = run(
            engine, *(event("message.posted", f"u{k % 3}", k * 3600, id=f"e{k}") for k in range(30))
        )
        acts += _advance(engine, T0 + timedelta(days=40))
        return [a.to_json() for a in acts], engine.state.snapshot()

    assert replay() == replay()


# -- errors -----------------------------------------------------------------------------------
LADDER = "  ladder: [{level: 1, name: a, at: 0}, {level: 2, name: b, at: 10}]\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "levels:\n  by: pionts\n" + LADDER,
            "test.yaml:5:7: unknown currency 'pionts'; did you mean 'points'?",
        ),
        (
            "levels:\n  by: \"count('message.posted', within='30d') +\"\n" + LADDER,
            "test.yaml:5:7: syntax error: unexpected 'end of template'",
        ),
        (
            "levels:\n  by: \"count('message.posted', within='30')\"\n" + LADDER,
            "test.yaml:5:7: count(): '30' has no unit: write 30s, 30m, 30h or 30d",
        ),
        (
            'levels:\n  by: "membr.points"\n' + LADDER,
            "test.yaml:5:7: unknown name `membr`; did you mean `member`?",
        ),
        ('levels:\n  by: "now.day"\n' + LADDER, "test.yaml:5:7: a level measure cannot read `now`"),
        (
            'levels:\n  by: "member.silent_for.days"\n' + LADDER,
            "test.yaml:5:7: a level measure cannot read `member.silent_for`",
        ),
        (
            "levels:\n  by: \"count('message.posted', within=event.data.w)\"\n" + LADDER,
            "test.yaml:5:7: a level measure cannot read `event`",
        ),
        (
            "levels:\n  by: points\n  ladder: [{level: 1, name: a, at: 5}]\n",
            "test.yaml:6:36: the first step is where every member starts: its `at` must be 0",
        ),
        (
            "levels:\n  by: points\n"
            "  ladder: [{level: 1, name: a, at: 0}, {level: 2, name: b, at: 0}]\n",
            "test.yaml:6:64: `at` must increase up the ladder: 0 is not above 0 (level 1)",
        ),
        (
            "levels:\n  by: points\n"
            "  ladder: [{level: 2, name: a, at: 0}, {level: 1, name: b, at: 9}]\n",
            "test.yaml:6:48: levels must increase up the ladder: 1 is not above 2",
        ),
        (
            "levels:\n  by: points\n"
            "  ladder: [{level: 1, name: a, at: 0}, {level: 1, name: b, at: 9}]\n",
            "test.yaml:6:48: level 1 is in the ladder twice",
        ),
        ("levels:\n  by: points\n  ladder: []\n", "test.yaml:6:11: 'levels.ladder'"),
        (
            "levels:\n  by: points\n" + LADDER + "  demotion: {below: 1.5}\n",
            "test.yaml:7:21: 'levels.demotion.below' must be at most 1.0, got 1.5",
        ),
        (
            "levels:\n  by: points\n" + LADDER + "  demotion: {below: 0.9, grace: two weeks}\n",
            "test.yaml:7:33: 'levels.demotion.grace': 'two weeks' is not a duration",
        ),
        (
            "levels:\n  by: points\n" + LADDER + "  promotion: {}\n",
            "test.yaml:7:3: unknown key 'promotion' in 'levels'",
        ),
        (
            "levels:\n  by: points\n"
            + LADDER
            + "rules:\n  - {id: r, on: x, do: [{set_level: 5}]}\n",
            "test.yaml:8:37: level 5 is not in the ladder; its levels are 1, 2",
        ),
        (
            "rules:\n  - {id: r, on: x, do: [{set_level: 1}]}\n",
            "test.yaml:5:37: `set_level` needs a `levels:` section",
        ),
        (
            "rules:\n  - {id: r, on: x, do: [{lock_level: true}]}\n",
            "test.yaml:5:38: `lock_level` needs a `levels:` section",
        ),
        (
            "levels:\n  by: points\n"
            + LADDER
            + "rules:\n  - {id: r, on: x, do: [{lock_level: yes}]}\n",
            "test.yaml:8:38: 'locked': expected true or false, got the string 'yes'",
        ),
    ],
)
def test_bad_levels_yaml_gets_a_located_error(body: str, message: str) -> None:
    with pytest.raises(PlaybookError) as err:
        playbook(body)
    assert any(str(p).startswith(message) for p in err.value.problems), err.value.problems
