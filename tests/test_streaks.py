"""streak(type): consecutive calendar days with an event of a type, in the community
time zone (docs/reference.md §5.2, §5.5)."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from engage_rules import Engine
from engage_rules.testing import event
from helpers import playbook, run

PB = """
rules:
  - id: checkin
    on: checkin
    do: [{set: {streak: "{{ streak('checkin') }}"}}]
  - id: seven-days
    on: checkin
    if: "streak('checkin') == 7"
    do: [{award: {points: 70, reason: 连续签到7天}}]
"""


def _at(local: str, tz: str = "+08:00") -> datetime:
    return datetime.fromisoformat(local + tz)


def _streaks(engine: Engine, times: list[datetime], member: str = "u1") -> list[int]:
    out = []
    for t in times:
        run(engine, event("checkin", member, t))
        out.append(engine.state.community("default").members[member].attrs["streak"])
    return out


def test_consecutive_days_count_and_a_missed_day_restarts() -> None:
    engine = Engine(playbook(PB))
    times = [_at(f"2026-03-{d:02d}T09:00:00") for d in (1, 2, 3, 5, 6)]
    assert _streaks(engine, times) == [1, 2, 3, 1, 2]


def test_days_are_calendar_days_in_the_community_time_zone() -> None:
    engine = Engine(playbook(PB))
    # 23:59 and 00:01 Asia/Shanghai are two days, two minutes apart; in UTC both
    # fall on the same day.
    times = [_at("2026-03-01T23:59:00"), _at("2026-03-02T00:01:00"), _at("2026-03-02T23:00:00")]
    assert _streaks(engine, times) == [1, 2, 2]


def test_a_streak_is_alive_until_the_day_after_is_over() -> None:
    pb = playbook(
        PB
        + """
  - id: ask
    on: streak.query
    do: [{set: {asked: "{{ streak('checkin') }}"}}]
"""
    )
    engine = Engine(pb)
    run(
        engine,
        event("checkin", "u1", _at("2026-03-01T09:00:00")),
        event("checkin", "u1", _at("2026-03-02T09:00:00")),
    )
    m = engine.state.community("default").members["u1"]
    run(engine, event("streak.query", "u1", _at("2026-03-03T22:00:00")))
    assert m.attrs["asked"] == 2  # no check-in yet today: yesterday's streak stands
    run(engine, event("streak.query", "u1", _at("2026-03-04T00:30:00")))
    assert m.attrs["asked"] == 0  # a whole day missed


def test_dst_days_of_23_and_25_hours_are_one_day_each() -> None:
    header = "engage_rules: 1\nname: t\ncommunity: {name: c, timezone: Europe/Berlin}\n"
    engine = Engine(playbook(PB, header))
    # 2026-03-29 (23 h) and 2026-10-25 (25 h) are DST change days in Berlin.
    spring = [
        _at("2026-03-28T23:30:00", "+01:00"),
        _at("2026-03-29T23:30:00", "+02:00"),
        _at("2026-03-30T00:10:00", "+02:00"),
    ]
    assert _streaks(engine, spring) == [1, 2, 3]
    autumn = [
        _at("2026-10-24T00:30:00", "+02:00"),
        _at("2026-10-25T23:50:00", "+01:00"),
        _at("2026-10-26T00:05:00", "+01:00"),
    ]
    assert _streaks(engine, autumn, "u2") == [1, 2, 3]


def test_a_late_event_fills_its_day() -> None:
    engine = Engine(playbook(PB))
    run(
        engine,
        event("checkin", "u1", _at("2026-03-01T09:00:00")),
        event("checkin", "u1", _at("2026-03-03T09:00:00")),
    )
    # As of the late event's own time the streak is two days; from then on, three.
    assert _streaks(engine, [_at("2026-03-02T09:00:00"), _at("2026-03-03T10:00:00")]) == [2, 3]


def test_seven_day_reward_end_to_end() -> None:
    engine = Engine(playbook(PB))
    actions = []
    for d in range(1, 9):
        actions += run(engine, event("checkin", "u1", _at(f"2026-03-{d:02d}T08:00:00")))
    awards = [a for a in actions if a.type == "award"]
    assert [(a.params["amount"], a.at.day) for a in awards] == [(70, 7)]


def test_streak_needs_a_literal_type() -> None:
    import pytest

    from engage_rules.errors import PlaybookError

    with pytest.raises(PlaybookError, match="quoted name"):
        playbook("""
rules:
  - id: r
    on: checkin
    if: "streak(event.type) > 1"
    do: [{tag: x}]
""")


def test_days_are_kept_only_for_types_a_playbook_streaks() -> None:
    engine = Engine(playbook(PB))
    run(engine, event("message.posted", "u1", 0), event("checkin", "u1", 0))
    assert list(engine.state.community("default").members["u1"].streak_days) == ["checkin"]


@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=40))
def test_streak_matches_a_direct_count(day_offsets: list[int]) -> None:
    from engage_rules.model.state import MemberState

    m = MemberState("u", "c")
    base = datetime(2026, 1, 1).toordinal()
    for off in day_offsets:
        m.note_day("checkin", base + off)
    days = set(day_offsets)
    for today in range(0, 45):
        start = today if today in days else today - 1
        expected = 0
        while start in days:
            expected += 1
            start -= 1
        assert m.streak("checkin", base + today) == expected
    assert m.streak_days["checkin"] == sorted({base + o for o in day_offsets})


def test_streak_days_survive_a_json_round_trip() -> None:
    from engage_rules.model.state import MemberState

    m = MemberState("u", "c")
    m.note_day("checkin", 700000)
    m.note_day("checkin", 700001)
    again = MemberState.from_json(m.to_json())
    assert again.streak("checkin", 700001) == 2
