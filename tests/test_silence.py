"""Silence deadlines, typical_gap and delayed triggers (docs/reference.md §5.6), from YAML to
actions and state, through the engine API."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage_rules import Engine
from engage_rules.errors import PlaybookError
from engage_rules.model.decision import ActionRecord
from engage_rules.model.state import MemberState, Timer
from engage_rules.testing import T0, event
from engage_rules.testing import strategies as est
from helpers import playbook, run

DAY = 86400

WINBACK = """
rules:
  - id: winback
    on: {silent_for: 14d}
    do: [{send: {text: "好久不见 {{ member.silent_for.days }} 天"}}]
  - id: any-silence
    on: member.silent
    do: [{tag: "silent-{{ event.data.rule }}"}]
"""


def advance(engine: Engine, at: datetime) -> list[ActionRecord]:
    return [a for d in engine.advance_to(at) for a in d.actions]


def member(engine: Engine, mid: str = "u1") -> MemberState:
    return engine.state.community("default").members[mid]


def test_silent_for_fires_once_per_silence_period_and_rearms_on_activity() -> None:
    engine = Engine(playbook(WINBACK))
    run(engine, event("message.posted", "u1", 0, text="hi"))
    assert advance(engine, T0 + timedelta(days=14, seconds=-1)) == []
    acts = advance(engine, T0 + timedelta(days=30))
    assert [(a.type, a.rule, a.params.get("text") or a.params.get("name")) for a in acts] == [
        ("send", "winback", "好久不见 14 天"),
        ("tag", "any-silence", "silent-winback"),
    ]
    assert acts[0].at == T0 + timedelta(days=14)
    assert acts[0].cause.startswith("silence:default:u1:winback:")
    # Once per period: nothing more however long the silence lasts.
    assert advance(engine, T0 + timedelta(days=90)) == []
    # The next activity re-arms; a new silence fires again, 14 days after it.
    run(engine, event("reaction.added", "u1", 100 * DAY))
    acts = advance(engine, T0 + timedelta(days=120))
    assert [(a.rule, a.at) for a in acts] == [("winback", T0 + timedelta(days=114))]


def test_activity_moves_the_deadline_with_one_pending_timer_per_member() -> None:
    engine = Engine(playbook(WINBACK))
    for day in range(0, 40, 3):  # active every 3 days: never 14 days silent
        run(engine, event("checkin", "u1", day * DAY))
        assert len(engine.state.timers) == 1
    # The deadline re-schedules itself from the last activity instead of firing.
    fired = engine.advance_to(T0 + timedelta(days=39 + 13))
    assert all(d.actions == [] for d in fired)
    acts = advance(engine, T0 + timedelta(days=39 + 14))
    assert [a.rule for a in acts] == ["winback", "any-silence"]
    assert acts[0].at == T0 + timedelta(days=39 + 14)


def test_member_silent_event_data() -> None:
    engine = Engine(
        playbook("""
rules:
  - id: quiet
    on: {silent_for: 7d}
    do: [{set: {seen: "{{ event.type }} {{ event.data.silent_for }} {{ event.data.threshold }}"}}]
""")
    )
    run(engine, event("message.posted", "u1", 0, text="x"))
    advance(engine, T0 + timedelta(days=8))
    assert member(engine).attrs["seen"] == "member.silent 604800.0 604800.0"


def test_silence_counts_from_joining_and_ignores_members_who_left() -> None:
    engine = Engine(playbook(WINBACK))
    run(
        engine,
        event("member.joined", "u1", 0),
        event("member.joined", "u2", 0),
        event("member.left", "u2", DAY),
    )
    acts = advance(engine, T0 + timedelta(days=20))
    assert [(a.rule, a.member) for a in acts] == [("winback", "u1"), ("any-silence", "u1")]
    assert "winback" not in member(engine, "u2").silence
    # Coming back starts a new silence period from the rejoin.
    run(engine, event("member.joined", "u2", 30 * DAY))
    acts = advance(engine, T0 + timedelta(days=50))
    assert [(a.rule, a.member, a.at) for a in acts][:1] == [
        ("winback", "u2", T0 + timedelta(days=44))
    ]


def test_activity_events_are_configurable() -> None:
    engine = Engine(playbook("activity_events: [checkin]\n" + WINBACK))
    assert engine.playbook.activity_events == frozenset({"checkin"})
    run(engine, event("checkin", "u1", 0))
    run(engine, event("message.posted", "u1", 10 * DAY, text="not activity here"))
    acts = advance(engine, T0 + timedelta(days=15))
    assert [a.at for a in acts][:1] == [T0 + timedelta(days=14)]
    assert member(engine).last_active_at == T0


def test_member_silent_for_in_expressions() -> None:
    engine = Engine(
        playbook("""
rules:
  - id: welcome-back
    on: message.posted
    if: "member.silent_for >= days(7)"
    do: [{send: {text: 欢迎回来}}]
""")
    )
    # silent_for is measured before this event's activity is recorded? No: from the
    # previous activity, as the condition reads the state the event left.
    run(engine, event("checkin", "u1", 0))
    assert run(engine, event("checkin", "u1", 8 * DAY)) == []
    view = engine.state.community("default").members["u1"]
    assert view.last_active_at == T0 + timedelta(days=8)


def test_typical_gap_is_the_median_of_recent_gaps_of_an_hour_or_more() -> None:
    engine = Engine(
        playbook("""
rules:
  - id: show
    on: poll.voted
    do: [{set: {gap: "{{ member.typical_gap }}"}}]
""")
    )
    assert engine.playbook.track_gaps
    times = [0, 60, 2 * DAY, 3 * DAY, 3 * DAY + 600, 5 * DAY, 12 * DAY]
    for t in times:
        run(engine, event("message.posted", "u1", t, text="x"))
    m = member(engine)
    assert len(m.gaps) == 4  # the 60 s and 600 s gaps are the same visit
    assert m.typical_gap() == timedelta(days=2) - timedelta(seconds=60 + 600) / 2
    run(engine, event("poll.voted", "u1", 12 * DAY + 1))
    gap = m.typical_gap()
    assert gap is not None and m.attrs["gap"] == gap.total_seconds()


def test_typical_gap_is_unknown_with_few_gaps_and_not_kept_unless_used() -> None:
    engine = Engine(
        playbook("""
rules:
  - {id: x, on: poll.voted, if: "member.typical_gap is none", do: [{tag: new}]}
""")
    )
    run(
        engine,
        event("message.posted", "u1", 0, text="x"),
        event("message.posted", "u1", DAY, text="y"),
    )
    assert [a.type for a in run(engine, event("poll.voted", "u1", DAY + 1))] == ["tag"]
    plain = Engine(playbook(WINBACK))
    assert not plain.playbook.track_gaps
    run(
        plain,
        event("message.posted", "u1", 0, text="x"),
        event("message.posted", "u1", DAY, text="y"),
    )
    assert member(plain).gaps == []


FACTOR = """
rules:
  - id: cycle
    on: {silent_for: {factor: 3, min: 3d, max: 30d}}
    do: [{send: {text: "你的沉默周期到了"}}]
"""


def test_silent_for_factor_uses_the_members_own_rhythm() -> None:
    engine = Engine(playbook(FACTOR))
    # A daily visitor: typical gap 1 day, threshold 3 days.
    for day in range(6):
        run(engine, event("checkin", "u1", day * DAY))
    acts = advance(engine, T0 + timedelta(days=20))
    assert [(a.member, a.at) for a in acts] == [("u1", T0 + timedelta(days=5 + 3))]


def test_silent_for_factor_is_clamped_and_uses_max_while_unknown() -> None:
    engine = Engine(playbook(FACTOR))
    run(engine, event("checkin", "new", 0))  # no gaps yet: max (30 days)
    for week in range(5):  # weekly visitor: 3 x 7d = 21d
        run(engine, event("checkin", "weekly", week * 7 * DAY))
    for n in range(5):  # every 2 hours: 3 x 2h is below min, so 3 days
        run(engine, event("checkin", "busy", n * 7200))
    acts = advance(engine, T0 + timedelta(days=70))
    got = {a.member: a.at for a in acts}
    assert got == {
        "busy": T0 + timedelta(seconds=4 * 7200, days=3),
        "weekly": T0 + timedelta(days=28 + 21),
        "new": T0 + timedelta(days=30),
    }


def test_after_fires_the_delay_after_each_event_for_that_rule_only() -> None:
    engine = Engine(
        playbook("""
rules:
  - id: day3
    on: {after: member.joined, delay: 3d}
    if: "member.status == 'active'"
    do: [{send: {text: "{{ event.type }} {{ event.id }} {{ event.data.source }}"}}]
  - id: joined
    on: member.joined
    do: [{award: {points: 1, reason: join}}]
""")
    )
    run(
        engine,
        event("member.joined", "u1", 0, id="j1", source="ad"),
        event("member.joined", "u2", 3600, id="j2"),
        event("member.left", "u2", 7200),
    )
    acts = advance(engine, T0 + timedelta(days=4))
    assert [(a.rule, a.member, a.params["text"], a.at) for a in acts] == [
        ("day3", "u1", "member.joined after:default:day3:j1 ad", T0 + timedelta(days=3))
    ]
    assert member(engine).balances == {"points": 1}  # `joined` did not see the copy
    assert member(engine, "u2").status == "left"


def test_after_rule_state_survives_a_json_round_trip() -> None:
    engine = Engine(playbook(FACTOR))
    for day in range(5):
        run(engine, event("checkin", "u1", day * DAY))
    m = member(engine)
    assert MemberState.from_json(m.to_json()) == m
    assert m.gaps and m.silence


def test_stale_silence_timers_are_harmless() -> None:
    engine = Engine(playbook(WINBACK))
    run(engine, event("message.posted", "u1", 0, text="x"))
    before = member(engine).to_json()
    for n, payload in enumerate([{"rule": "winback"}, {"rule": "gone"}]):
        engine.state.add_timer(
            Timer(
                T0.timestamp() + DAY, 0, f"stale{n}", "silence", "default", "u1", "winback", payload
            )
        )
    decisions = engine.advance_to(T0 + timedelta(days=2))
    assert [d.actions for d in decisions] == [[], []]
    assert member(engine).to_json() == before


@pytest.mark.parametrize(
    ("on", "message"),
    [
        ("{silent_for: 14x}", "'14x' is not a duration"),
        ("{silent_for: {factor: 3, min: 30d, max: 3d}}", "`min` is longer than `max`"),
        ("{silent_for: {factor: 3, min: 3d}}", "missing required key 'max'"),
        ("{silent_four: 14d}", "did you mean 'silent_for'?"),
        ("{after: member.joined}", "missing required key 'delay'"),
        ("{after: Joined, delay: 3d}", "test.yaml:7:17: 'on.after'"),
    ],
)
def test_trigger_problems_are_reported_with_positions(on: str, message: str) -> None:
    with pytest.raises(PlaybookError) as exc:
        playbook(f"""
rules:
  - id: r
    on: {on}
    do: [{{tag: x}}]
""")
    text = "\n".join(map(str, exc.value.problems))
    assert message in text, text


# -- properties -----------------------------------------------------------------------------
@given(
    st.lists(st.integers(min_value=0, max_value=60 * 24), min_size=1, max_size=25),
    est.durations("h", max_count=72),
)
def test_silence_fires_exactly_once_per_gap_of_the_threshold_or_more(
    offsets: list[int], silence: est.Duration
) -> None:
    """Activity at arbitrary times (minutes): the rule fires at a + T for exactly the
    activities a followed by no activity within T, and every timer fires at most once."""
    engine = Engine(
        playbook(f"""
rules:
  - id: s
    on: {{silent_for: {silence.text}}}
    do: [{{tag: "t{{{{ now.timestamp() | int }}}}"}}]
""")
    )
    times = sorted(set(offsets))
    decisions = []
    for t in times:
        decisions += engine.process(event("checkin", "u1", t * 60))
    end = times[-1] * 60 + silence.seconds + 10
    decisions += engine.advance_to(T0 + timedelta(seconds=end))
    fired = [a.at for d in decisions for a in d.actions]
    threshold = silence.seconds // 60
    expected = [
        T0 + timedelta(minutes=a + threshold)
        for a, b in zip(times, [*times[1:], 10**9], strict=True)
        if b - a >= threshold
    ]
    assert fired == expected
    timer_ids = [d.cause for d in decisions if d.is_timer]
    assert len(timer_ids) == len(set(timer_ids))


def test_a_rejoin_while_a_deadline_is_pending_starts_a_new_period() -> None:
    engine = Engine(playbook(WINBACK))
    run(
        engine,
        event("message.posted", "u1", 0, text="x"),
        event("member.left", "u1", DAY),
        event("member.joined", "u1", 10 * DAY),
    )
    acts = advance(engine, T0 + timedelta(days=40))
    assert [(a.rule, a.at) for a in acts][:1] == [("winback", T0 + timedelta(days=24))]


def test_typical_gap_in_a_segment_is_kept() -> None:
    engine = Engine(
        playbook("""
segments:
  regulars: "member.typical_gap is not none and member.typical_gap <= days(2)"
rules:
  - {id: r, on: poll.voted, if: "segment('regulars')", do: [{tag: regular}]}
""")
    )
    assert engine.playbook.track_gaps
    for day in range(5):
        run(engine, event("checkin", "u1", day * DAY))
    assert [a.type for a in run(engine, event("poll.voted", "u1", 5 * DAY))] == ["tag"]
