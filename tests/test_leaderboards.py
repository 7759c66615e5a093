"""Leaderboards (docs/reference.md §5.5): from YAML to scores, closes, prizes and rankings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage_rules import Engine, Event
from engage_rules.errors import PlaybookError
from engage_rules.features.leaderboards import period_bounds, periods, standings
from engage_rules.model.decision import ActionRecord
from engage_rules.shell.runner import Runner
from engage_rules.testing import T0, event, open_store
from engage_rules.testing import strategies as est
from helpers import playbook, run

HOUR = 3600
DAY = 24 * HOUR
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")

#: T0 is Monday 2026-03-02 10:00 in Shanghai: week 2026-W10 ends Monday 03-09 00:00.
WEEKLY = """
badges:
  top-contributor: {name: 优秀贡献者, title: true, revoke_after: 30d}
leaderboards:
  weekly-stars:
    measure: points
    period: week
    size: 3
    tie_break: earliest
    on_close:
      - {rank: 1, do: [{grant_badge: top-contributor},
                       {award: {points: 100, reason: "weekly champion #{{ event.data.rank }}"}}]}
      - {rank: [2, 3], do: [{award: {points: 30, reason: weekly top 3}}]}
rules:
  - id: post
    on: message.posted
    do: [{award: {points: "{{ event.data.n | default(5) }}", reason: post}}]
  - id: removed
    on: message.deleted
    do: [{revoke: {event: "{{ event.data.message_id }}"}}]
  - id: shop
    on: redeem.requested
    do: [{spend: {points: 5, reason: shop}}]
  - id: announce
    on: leaderboard.closed
    do:
      - broadcast:
          text: "{{ event.data.period }}: {% for r in event.data.ranking %}\\
            {{ r.rank }}.{{ r.member }}({{ r.score }}) {% endfor %}"
"""


def week_end() -> datetime:
    return datetime(2026, 3, 9, tzinfo=SHANGHAI)


def test_scores_rank_by_points_with_ties_to_who_reached_them_first() -> None:
    engine = Engine(playbook(WEEKLY))
    run(
        engine,
        event("message.posted", "u1", 0, n=10),
        event("message.posted", "u2", 60, n=5),
        event("message.posted", "u3", 120, n=10),
        event("message.posted", "u2", 180, n=5),
        event("message.posted", "u4", 240, n=1),
    )
    # u1 and u3 reached 10 before u2 did: u1 (first), u3, then u2.
    assert standings(engine.state, "default", "weekly-stars") == [
        {"rank": 1, "member": "u1", "score": 10},
        {"rank": 2, "member": "u3", "score": 10},
        {"rank": 3, "member": "u2", "score": 10},
        {"rank": 4, "member": "u4", "score": 1},
    ]
    assert periods(engine.state, "default", "weekly-stars") == {"open": ["2026-W10"], "closed": []}


def test_the_close_ranks_pays_prizes_by_rank_and_raises_leaderboard_closed() -> None:
    engine = Engine(playbook(WEEKLY))
    run(
        engine,
        event("message.posted", "u1", 0, n=10),
        event("message.posted", "u2", 60, n=20),
        event("message.posted", "u3", 120, n=10),
        event("message.posted", "u4", 180, n=1),
    )
    assert engine.advance_to(week_end() - timedelta(seconds=1)) == []
    (d,) = engine.advance_to(week_end())
    assert d.cause == "leaderboard_close:default:weekly-stars:2026-W10"
    got = [(a.type, a.member, a.rule, a.cause.rsplit("/", 1)[-1], a.params) for a in d.actions]
    assert got == [
        (
            "grant_badge",
            "u2",
            "leaderboards.weekly-stars",
            "rank.1",
            {
                "badge": "top-contributor",
                "name": "优秀贡献者",
                "title": True,
                "expires": "2026-04-08T00:00:00+08:00",
            },
        ),
        (
            "award",
            "u2",
            "leaderboards.weekly-stars",
            "rank.1",
            {"currency": "points", "amount": 100, "reason": "weekly champion #1"},
        ),
        (
            "award",
            "u1",
            "leaderboards.weekly-stars",
            "rank.2",
            {"currency": "points", "amount": 30, "reason": "weekly top 3"},
        ),
        (
            "award",
            "u3",
            "leaderboards.weekly-stars",
            "rank.3",
            {"currency": "points", "amount": 30, "reason": "weekly top 3"},
        ),
        (
            "broadcast",
            None,
            "announce",
            "closed",
            {"text": "2026-W10: 1.u2(20) 2.u1(10) 3.u3(10) "},
        ),
    ]
    assert all(a.at == week_end() for a in d.actions)
    assert len({a.key for a in d.actions}) == len(d.actions)
    members = engine.state.community("default").members
    assert members["u2"].titles == ["top-contributor"]
    assert members["u2"].balances == {"points": 120}
    snapshot = engine.state.snapshot()
    closed = snapshot["community"]["leaderboards"]["weekly-stars"]["closed"]["2026-W10"]
    assert closed == {
        "start": "2026-03-02T00:00:00+08:00",
        "end": "2026-03-09T00:00:00+08:00",
        "ranking": [
            {"rank": 1, "member": "u2", "score": 20},
            {"rank": 2, "member": "u1", "score": 10},
            {"rank": 3, "member": "u3", "score": 10},
        ],
    }
    assert snapshot["members"]["u2"]["titles"] == ["top-contributor"]
    # Prizes are not scores of the next period, and nothing is open until someone scores.
    assert periods(engine.state, "default", "weekly-stars") == {"open": [], "closed": ["2026-W10"]}
    assert engine.state.timers[0].kind == "badge_revoke"


def test_a_closed_ranking_stays_queryable_after_later_periods() -> None:
    engine = Engine(playbook(WEEKLY))
    run(engine, event("message.posted", "u1", 0, n=10))
    run(engine, event("message.posted", "u2", 7 * DAY, n=10))
    run(
        engine,
        event("message.posted", "u3", 14 * DAY, n=10),
        event("message.posted", "u1", 14 * DAY + 60, n=3),
    )
    engine.advance_to(T0 + timedelta(days=30))
    assert periods(engine.state, "default", "weekly-stars")["closed"] == [
        "2026-W10",
        "2026-W11",
        "2026-W12",
    ]
    assert standings(engine.state, "default", "weekly-stars", "2026-W10") == [
        {"rank": 1, "member": "u1", "score": 10}
    ]
    assert standings(engine.state, "default", "weekly-stars", "2026-W12") == [
        {"rank": 1, "member": "u3", "score": 10},
        {"rank": 2, "member": "u1", "score": 3},
    ]
    assert standings(engine.state, "default", "weekly-stars") == standings(
        engine.state, "default", "weekly-stars", "2026-W12"
    )
    assert standings(engine.state, "default", "weekly-stars", "2030-W01") == []
    assert standings(engine.state, "default", "nope") == []


def test_revokes_lower_an_open_score_and_spending_does_not() -> None:
    engine = Engine(playbook(WEEKLY))
    run(
        engine,
        event("message.posted", "u1", 0, n=10, message_id="m1"),
        event("message.posted", "u1", 60, n=7, message_id="m2"),
        event("message.posted", "u2", 120, n=12),
        event("redeem.requested", "u1", 150),
    )
    assert standings(engine.state, "default", "weekly-stars")[0] == {
        "rank": 1,
        "member": "u1",
        "score": 17,
    }
    run(engine, event("message.deleted", "u1", 180, message_id="m1"))
    assert standings(engine.state, "default", "weekly-stars") == [
        {"rank": 1, "member": "u2", "score": 12},
        {"rank": 2, "member": "u1", "score": 7},
    ]
    # u1 spent 5 of the 17: only the 2 points left can be reversed (balances never go
    # below zero), and the score drops by what was actually reversed.
    run(engine, event("message.deleted", "u1", 200, message_id="m2"))
    assert standings(engine.state, "default", "weekly-stars") == [
        {"rank": 1, "member": "u2", "score": 12},
        {"rank": 2, "member": "u1", "score": 5},
    ]
    run(
        engine,
        event("message.posted", "u3", 300, n=3, message_id="m3"),
        event("message.deleted", "u3", 400, message_id="m3"),
    )
    # A member whose score fell to 0 is not ranked.
    assert [r["member"] for r in standings(engine.state, "default", "weekly-stars")] == ["u2", "u1"]


def test_a_revoke_after_the_close_leaves_the_closed_ranking_alone() -> None:
    engine = Engine(playbook(WEEKLY))
    run(engine, event("message.posted", "u1", 0, n=10, message_id="m1"))
    run(engine, event("message.deleted", "u1", 8 * DAY, message_id="m1"))
    assert standings(engine.state, "default", "weekly-stars", "2026-W10") == [
        {"rank": 1, "member": "u1", "score": 10}
    ]
    assert periods(engine.state, "default", "weekly-stars")["open"] == []


def test_a_late_award_for_an_ended_period_is_dropped_and_one_still_open_counts() -> None:
    engine = Engine(playbook(WEEKLY))
    run(engine, event("message.posted", "u1", 8 * DAY, n=10))  # week 11; week 10 never opened
    run(engine, event("message.posted", "u2", 0, n=50))  # late: week 10 is over
    run(engine, event("message.posted", "u3", 7 * DAY + 60, n=4))  # late, but week 11 is open
    assert periods(engine.state, "default", "weekly-stars") == {"open": ["2026-W11"], "closed": []}
    assert [r["member"] for r in standings(engine.state, "default", "weekly-stars")] == ["u1", "u3"]


def test_no_timer_and_no_state_until_something_is_scored() -> None:
    engine = Engine(playbook(WEEKLY))
    run(engine, event("member.joined", "u1", 0), event("redeem.requested", "u1", 10))
    assert engine.state.timers == []
    assert engine.state.community("default").data == {}
    run(engine, event("message.posted", "u1", 20, n=5))
    assert [(t.kind, t.member, t.due) for t in engine.state.timers] == [
        ("leaderboard_close", None, week_end().timestamp())
    ]


def test_an_expression_measure_scores_its_latest_value() -> None:
    engine = Engine(
        playbook("""
leaderboards:
  chatty:
    measure: "count('message.posted', within='1d') * 2"
    period: day
    size: 2
rules:
  - id: noop
    on: reaction.added
    do: [{tag: reacted}]
""")
    )
    run(engine, event("reaction.added", "u3", 0))
    assert engine.state.community("default").data == {}  # nothing scored: nothing kept
    run(
        engine,
        event("message.posted", "u1", 0),
        event("message.posted", "u2", 10),
        event("message.posted", "u2", 20),
        event("reaction.added", "u3", 30),
        event("message.posted", "u1", 40),
    )
    assert standings(engine.state, "default", "chatty") == [
        {"rank": 1, "member": "u2", "score": 4},
        {"rank": 2, "member": "u1", "score": 4},
    ]
    (d,) = engine.advance_to(datetime(2026, 3, 3, tzinfo=SHANGHAI))
    assert d.actions == []
    assert standings(engine.state, "default", "chatty", "2026-03-02") == [
        {"rank": 1, "member": "u2", "score": 4},
        {"rank": 2, "member": "u1", "score": 4},
    ]


def test_another_currency_is_its_own_measure() -> None:
    engine = Engine(
        playbook("""
currencies: [points, coins]
leaderboards:
  coins-month: {measure: coins, period: month}
rules:
  - id: p
    on: message.posted
    do: [{award: {points: 5}}, {award: {currency: coins, amount: 2}}]
""")
    )
    run(engine, event("message.posted", "u1", 0), event("message.posted", "u1", 10))
    assert standings(engine.state, "default", "coins-month") == [
        {"rank": 1, "member": "u1", "score": 4}
    ]
    assert periods(engine.state, "default", "coins-month")["open"] == ["2026-03"]


def test_each_community_has_its_own_boards() -> None:
    engine = Engine(playbook(WEEKLY))
    a = event("message.posted", "u1", 0, n=3)
    b = orjson.loads(
        orjson.dumps(
            {
                "id": "b1",
                "type": "message.posted",
                "community": "other",
                "at": T0.isoformat(),
                "member": {"id": "u9"},
                "data": {"n": 7},
            }
        )
    )
    from engage_rules import parse_event

    run(engine, a, parse_event(orjson.dumps(b)))
    assert standings(engine.state, "default", "weekly-stars")[0]["member"] == "u1"
    assert standings(engine.state, "other", "weekly-stars")[0]["member"] == "u9"
    decisions = engine.advance_to(week_end())
    assert sorted(d.cause for d in decisions) == [
        "leaderboard_close:default:weekly-stars:2026-W10",
        "leaderboard_close:other:weekly-stars:2026-W10",
    ]
    other = [a for d in decisions for a in d.actions if a.community == "other"]
    assert [(a.type, a.member) for a in other] == [
        ("grant_badge", "u9"),
        ("award", "u9"),
        ("broadcast", None),
    ]


# -- calendar periods -------------------------------------------------------------------------


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("at", "period", "tz", "key", "start", "end"),
    [
        # Shanghai (no DST): local midnights are 16:00 UTC the day before.
        (
            "2026-03-02T23:59:59+08:00",
            "day",
            SHANGHAI,
            "2026-03-02",
            "2026-03-01T16:00:00+00:00",
            "2026-03-02T16:00:00+00:00",
        ),
        (
            "2026-03-03T00:00:00+08:00",
            "day",
            SHANGHAI,
            "2026-03-03",
            "2026-03-02T16:00:00+00:00",
            "2026-03-03T16:00:00+00:00",
        ),
        (
            "2026-03-08T23:59:00+08:00",
            "week",
            SHANGHAI,
            "2026-W10",
            "2026-03-01T16:00:00+00:00",
            "2026-03-08T16:00:00+00:00",
        ),
        (
            "2026-02-28T12:00:00+08:00",
            "month",
            SHANGHAI,
            "2026-02",
            "2026-01-31T16:00:00+00:00",
            "2026-02-28T16:00:00+00:00",
        ),
        (
            "2026-12-31T20:00:00+08:00",
            "month",
            SHANGHAI,
            "2026-12",
            "2026-11-30T16:00:00+00:00",
            "2026-12-31T16:00:00+00:00",
        ),
        # ISO week 1 of 2027 starts on Monday 2027-01-04; 2027-01-03 is in 2026-W53.
        (
            "2027-01-03T12:00:00+08:00",
            "week",
            SHANGHAI,
            "2026-W53",
            "2026-12-27T16:00:00+00:00",
            "2027-01-03T16:00:00+00:00",
        ),
        # Berlin: the week of the spring change (Sun 2026-03-29) is 167 hours long, and ends
        # at Monday 00:00 CEST (22:00 UTC); the day of the change is 23 hours long.
        (
            "2026-03-29T12:00:00+02:00",
            "week",
            BERLIN,
            "2026-W13",
            "2026-03-22T23:00:00+00:00",
            "2026-03-29T22:00:00+00:00",
        ),
        (
            "2026-03-29T12:00:00+02:00",
            "day",
            BERLIN,
            "2026-03-29",
            "2026-03-28T23:00:00+00:00",
            "2026-03-29T22:00:00+00:00",
        ),
        (
            "2026-03-31T23:30:00+02:00",
            "month",
            BERLIN,
            "2026-03",
            "2026-02-28T23:00:00+00:00",
            "2026-03-31T22:00:00+00:00",
        ),
        # The autumn change (Sun 2026-10-25): the month ends at 00:00 CET (23:00 UTC).
        (
            "2026-10-25T02:30:00+01:00",
            "week",
            BERLIN,
            "2026-W43",
            "2026-10-18T22:00:00+00:00",
            "2026-10-25T23:00:00+00:00",
        ),
        (
            "2026-10-31T23:59:00+01:00",
            "month",
            BERLIN,
            "2026-10",
            "2026-09-30T22:00:00+00:00",
            "2026-10-31T23:00:00+00:00",
        ),
    ],
)
def test_period_bounds(at: str, period: str, tz: ZoneInfo, key: str, start: str, end: str) -> None:
    got_key, got_start, got_end = period_bounds(datetime.fromisoformat(at), period, tz)
    assert (got_key, got_start.astimezone(UTC), got_end.astimezone(UTC)) == (
        key,
        _utc(start),
        _utc(end),
    )


def _local(at: datetime) -> str:
    return at.astimezone(BERLIN).isoformat()


BERLIN_PB = """
leaderboards:
  weekly: {measure: points, period: week}
  monthly: {measure: points, period: month}
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 1}}]
  - id: announce
    on: leaderboard.closed
    do: [{broadcast: {text: "{{ event.data.leaderboard }} {{ event.data.period }}"}}]
"""


def test_berlin_week_and_month_close_at_local_midnight_across_dst() -> None:
    engine = Engine(
        playbook(
            BERLIN_PB,
            header=("engage_rules: 1\nname: test\ncommunity: {name: b, timezone: Europe/Berlin}\n"),
        )
    )
    run(engine, event("message.posted", "u1", datetime.fromisoformat("2026-03-28T12:00:00+01:00")))
    due = sorted((t.payload["leaderboard"], t.due) for t in engine.state.timers)
    assert due == [
        ("monthly", _utc("2026-03-31T22:00:00+00:00").timestamp()),
        ("weekly", _utc("2026-03-29T22:00:00+00:00").timestamp()),
    ]
    fired = engine.advance_to(_utc("2026-04-01T00:00:00+00:00"))
    assert [(a.params["text"], _local(a.at)) for d in fired for a in d.actions] == [
        ("weekly 2026-W13", "2026-03-30T00:00:00+02:00"),
        ("monthly 2026-03", "2026-04-01T00:00:00+02:00"),
    ]
    run(engine, event("message.posted", "u1", datetime.fromisoformat("2026-10-30T12:00:00+01:00")))
    fired = engine.advance_to(_utc("2026-11-02T00:00:00+00:00"))
    assert [(a.params["text"], _local(a.at)) for d in fired for a in d.actions] == [
        ("monthly 2026-10", "2026-11-01T00:00:00+01:00"),
        ("weekly 2026-W44", "2026-11-02T00:00:00+01:00"),
    ]


def test_a_shanghai_day_board_closes_at_local_midnight() -> None:
    engine = Engine(
        playbook("""
leaderboards:
  daily: {measure: points, period: day, size: 1, on_close: [{rank: 1, do: [{tag: daily-star}]}]}
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 1}}]
""")
    )
    run(
        engine,
        event("message.posted", "u1", datetime.fromisoformat("2026-03-02T23:59:00+08:00")),
        event("message.posted", "u2", datetime.fromisoformat("2026-03-03T00:00:00+08:00")),
        event("message.posted", "u2", datetime.fromisoformat("2026-03-03T00:01:00+08:00")),
    )
    days = periods(engine.state, "default", "daily")
    assert days == {"open": ["2026-03-03"], "closed": ["2026-03-02"]}
    assert standings(engine.state, "default", "daily", "2026-03-02") == [
        {"rank": 1, "member": "u1", "score": 1}
    ]
    assert engine.state.community("default").member("u1").tag_names(T0) == ["daily-star"]


# -- stores ----------------------------------------------------------------------------------


def test_sqlite_round_trip_of_open_scores_closed_rankings_and_close_timers(tmp_path: Path) -> None:
    pb = playbook(WEEKLY)
    db = tmp_path / "s.db"
    first = Runner(pb, open_store(f"sqlite:///{db}"))
    for e in (
        event("message.posted", "u1", 0, n=10),
        event("message.posted", "u2", 60, n=20),
        event("message.posted", "u1", 7 * DAY + 60, n=4),
    ):
        first.feed(e)
    first.close()
    second = Runner(pb, open_store(f"sqlite:///{db}"))
    state = second.state
    assert standings(state, "default", "weekly-stars", "2026-W10")[0]["member"] == "u2"
    assert standings(state, "default", "weekly-stars") == [{"rank": 1, "member": "u1", "score": 4}]
    assert [t.id for t in state.timers if t.kind == "leaderboard_close"] == [
        "leaderboard_close:default:weekly-stars:2026-W11"
    ]
    committed: list[ActionRecord] = []
    second.on_commit = committed.extend
    second.feed(event("message.posted", "u3", 7 * DAY + 120, n=9))
    second.advance_to(T0 + timedelta(days=14))
    second.close()
    assert [(a.type, a.member) for a in committed if a.rule.startswith("leaderboards.")] == [
        ("grant_badge", "u3"),
        ("award", "u3"),
        ("award", "u1"),
    ]
    third = open_store(f"sqlite:///{db}")
    try:
        state = third.open()
        assert periods(state, "default", "weekly-stars")["closed"] == ["2026-W10", "2026-W11"]
        # The champions' titles, and the timers that revoke them, survive a restart too.
        assert state.community("default").member("u3").titles == ["top-contributor"]
        assert sorted((t.kind, t.member) for t in state.timers) == [
            ("badge_revoke", "u2"),
            ("badge_revoke", "u3"),
        ]
    finally:
        third.close()


# -- determinism -----------------------------------------------------------------------------

_events = st.lists(
    st.tuples(
        est.member_ids(["u1", "u2", "u3", "u4"]),
        st.integers(min_value=0, max_value=20 * DAY),
        st.sampled_from(["post", "delete", "shop"]),
        st.integers(min_value=1, max_value=5),
    ),
    max_size=30,
)


def _log(spec: list[tuple[str, int, str, int]]) -> list[Event]:
    out = []
    for i, (member, at, kind, n) in enumerate(sorted(spec, key=lambda x: x[1])):
        if kind == "post":
            out.append(event("message.posted", member, at, id=f"e{i}", n=n, message_id=f"m{n}"))
        elif kind == "delete":
            out.append(event("message.deleted", member, at, id=f"e{i}", message_id=f"m{n}"))
        else:
            out.append(event("redeem.requested", member, at, id=f"e{i}"))
    return out


def _replay(events: list[Event]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    engine = Engine(playbook(WEEKLY))
    actions = run(engine, *events)
    actions += [a for d in engine.advance_to(T0 + timedelta(days=40)) for a in d.actions]
    return [a.to_json() for a in actions], engine.state.snapshot()


@given(_events)
def test_replaying_the_same_log_gives_identical_rankings_and_actions(
    spec: list[tuple[str, int, str, int]],
) -> None:
    events = _log(spec)
    first_actions, first_state = _replay(events)
    second_actions, second_state = _replay(events)
    assert first_actions == second_actions
    assert first_state == second_state
    boards = first_state["community"].get("leaderboards", {}).get("weekly-stars", {})
    assert boards.get("open", {}) == {}
    for closed in boards.get("closed", {}).values():
        ranking = closed["ranking"]
        assert [r["rank"] for r in ranking] == list(range(1, len(ranking) + 1))
        assert len(ranking) <= 3
        scores = [r["score"] for r in ranking]
        assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)


@given(
    st.lists(
        st.tuples(
            est.member_ids(),
            st.integers(min_value=0, max_value=6 * DAY),
            st.integers(min_value=1, max_value=3),
        ),
        max_size=25,
    )
)
def test_awards_only_rankings_match_a_simple_model(spec: list[tuple[str, int, int]]) -> None:
    ordered = sorted(spec, key=lambda x: x[1])
    engine = Engine(playbook(WEEKLY))
    run(engine, *[event("message.posted", m, at, n=n) for m, at, n in ordered])
    totals: dict[str, int] = {}
    reached: dict[str, int] = {}
    for i, (m, _, n) in enumerate(ordered):
        totals[m] = totals.get(m, 0) + n
        reached[m] = i
    expected = sorted(totals, key=lambda m: (-totals[m], reached[m]))
    got = standings(engine.state, "default", "weekly-stars")
    assert [(r["member"], r["score"]) for r in got] == [(m, totals[m]) for m in expected]


# -- bad YAML ---------------------------------------------------------------------------------


def _problems(body: str) -> list[str]:
    with pytest.raises(PlaybookError) as info:
        playbook(body)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "leaderboards:\n  w: {measure: points, period: week, sise: 10}\n",
            "test.yaml:5:38: unknown key 'sise' in 'leaderboards.w'; did you mean 'size'?",
        ),
        (
            "leaderboards:\n  w: {measure: points, period: year}\n",
            "test.yaml:5:32: 'leaderboards.w.period'",
        ),
        (
            "leaderboards:\n  w: {measure: points}\n",
            "test.yaml:5:6: missing required key 'period' in 'leaderboards.w'",
        ),
        (
            "leaderboards:\n  w: {measure: points, period: week, size: 0}\n",
            "test.yaml:5:44: 'leaderboards.w.size'",
        ),
        (
            "leaderboards:\n  w: {measure: points, period: week, tie_break: latest}\n",
            "test.yaml:5:49: 'leaderboards.w.tie_break'",
        ),
        (
            "leaderboards:\n  w: {measure: coins, period: week}\n",
            "test.yaml:5:16: unknown currency 'coins'; the playbook's currencies are points (or ",
        ),
        (
            "leaderboards:\n  w: {measure: \"count('x'\", period: week}\n",
            "test.yaml:5:16: syntax error",
        ),
        (
            'leaderboards:\n  w: {measure: "membr.points * 2", period: week}\n',
            "test.yaml:5:16: unknown name `membr`; did you mean `member`?",
        ),
        (
            "leaderboards:\n  w:\n    measure: points\n    period: week\n    size: 5\n"
            "    on_close: [{rank: [2, 8], do: []}]\n",
            "test.yaml:6:5: 'leaderboards.w': rank 8 is beyond the leaderboard's size (5)",
        ),
        (
            "leaderboards:\n  w:\n    measure: points\n    period: week\n"
            "    on_close: [{rank: 1, do: []}, {rank: [1, 3], do: []}]\n",
            "test.yaml:6:5: 'leaderboards.w': rank 1 is in two `on_close` steps",
        ),
        (
            "leaderboards:\n  w:\n    measure: points\n    period: week\n"
            "    on_close: [{rank: [3, 2], do: []}]\n",
            "test.yaml:8:23: 'leaderboards.w.on_close[0].rank': the range [3, 2] is empty",
        ),
        (
            "leaderboards:\n  w:\n    measure: points\n    period: week\n"
            "    on_close: [{rank: [1, 2, 3], do: []}]\n",
            "test.yaml:8:23: 'leaderboards.w.on_close[0].rank': `rank` is a rank such as 1, or a "
            "range such as [2, 10]",
        ),
        (
            "leaderboards:\n  w:\n    measure: points\n    period: week\n"
            "    on_close: [{rank: 1, do: [{awrd: {points: 1}}]}]\n",
            "test.yaml:8:32: unknown action 'awrd'; did you mean 'award'?",
        ),
        (
            "leaderboards:\n  w:\n    measure: points\n    period: week\n"
            "    on_close: [{rank: 1, do: [{award: {points: 1, resaon: x}}]}]\n",
            "test.yaml:8:51: unknown key 'resaon' in action 'award'; did you mean 'reason'?",
        ),
        (
            "badges:\n  top: {name: T}\nleaderboards:\n  w:\n    measure: points\n"
            "    period: week\n    on_close: [{rank: 1, do: [{grant_badge: tpo}]}]\n",
            "test.yaml:10:45: unknown badge 'tpo'; did you mean 'top'?",
        ),
        (
            "leaderboards:\n  w:\n    measure: points\n    period: week\n"
            "    on_close: [{rank: 1, do: [{send: {template: nope}}]}]\n",
            "test.yaml:8:49: unknown template 'nope'",
        ),
        (
            "leaderboards:\n  w:\n    measure: points\n    period: week\n"
            "    on_close: [{rank: 1, dos: []}]\n",
            "test.yaml:8:26: unknown key 'dos' in 'leaderboards.w.on_close[0]'; did you mean 'do'?",
        ),
    ],
)
def test_bad_leaderboards_get_located_errors(body: str, expected: str) -> None:
    found = _problems(body)
    assert any(p.startswith(expected) for p in found), found
