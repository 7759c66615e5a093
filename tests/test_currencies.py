"""Currencies (docs/reference.md §5.4): several currencies, expiring credits spent oldest first and
expired by timers without member events, and caps per calendar period."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engage_rules import Engine
from engage_rules.errors import PlaybookError
from engage_rules.features.points import POINTS
from engage_rules.model.decision import ActionRecord
from engage_rules.model.state import MemberState
from engage_rules.shell.runner import Runner
from engage_rules.store import SQLiteStore
from engage_rules.testing import T0, event
from helpers import commit, ledger, playbook, run

DAY = 86400

EXPIRING = """
currencies: [{name: points, expires_after: 10d}, coins]
rules:
  - id: post
    on: message.posted
    do: [{award: {points: "{{ event.data.n | default(60) }}", reason: post}}]
  - id: coin
    on: checkin
    do: [{award: {currency: coins, amount: 5, reason: checkin}}]
  - id: buy
    on: redeem.requested
    do: [{spend: {points: "{{ event.data.cost }}", reason: "{{ event.data.item }}"}}]
    else: [{send: {text: "余额不足: {{ member.points }}"}}]
  - id: removed
    on: message.deleted
    do: [{revoke: {event: "{{ event.data.message_id }}"}}]
  - id: show
    on: poll.voted
    do: [{send: {text: "{{ member.points }}/{{ member.balances.coins }}"}}]
"""


def _member(engine: Engine, mid: str = "u1") -> MemberState:
    return engine.state.community("default").member(mid)


def _advance(engine: Engine, at: datetime) -> list[ActionRecord]:
    return [a for d in commit(engine, engine.advance_to(at)) for a in d.actions]


def _balanced(engine: Engine, m: MemberState) -> None:
    entries = ledger(engine, m.id)
    for currency, balance in m.balances.items():
        assert balance == sum(e.amount for e in entries if e.currency == currency)
    for currency, lots in m.lots.items():
        assert sum(lot[0] for lot in lots) == m.balances.get(currency, 0)


def test_credits_expire_without_member_events_and_write_the_ledger() -> None:
    engine = Engine(playbook(EXPIRING))
    run(engine, event("message.posted", "u1", 0, message_id="m1"), event("checkin", "u1", 60))
    m = _member(engine)
    assert m.balances == {"points": 60, "coins": 5}
    assert [t.id for t in engine.state.timers] == [
        "expire:default:u1:points:2026-03-12T02:00:00+00:00"
    ]
    assert _advance(engine, T0 + timedelta(days=10) - timedelta(seconds=1)) == []
    (expire,) = _advance(engine, T0 + timedelta(days=10))
    assert (expire.type, expire.member, expire.rule, expire.cause) == (
        "expire",
        "u1",
        "currencies.points",
        "expire:default:u1:points:2026-03-12T02:00:00+00:00",
    )
    assert expire.params == {
        "currency": "points",
        "amount": 60,
        "reason": "points expired",
        "entries": [1],
    }
    assert expire.at == T0 + timedelta(days=10)
    assert m.balances == {"points": 0, "coins": 5}  # coins never expire
    last = ledger(engine)[-1]
    assert (last.kind, last.amount, last.reverses, last.rule, last.cause) == (
        "expire",
        -60,
        1,
        "currencies.points",
        expire.cause,
    )
    assert last.key == expire.key
    assert m.lots == {} and engine.state.timers == []
    _balanced(engine, m)
    (shown,) = run(engine, event("poll.voted", "u1", 11 * DAY))
    assert shown.params["text"] == "0/5"


def test_spending_uses_the_oldest_credits_first() -> None:
    engine = Engine(playbook(EXPIRING))
    run(
        engine,
        event("message.posted", "u1", 0, n=60),
        event("message.posted", "u1", DAY, n=40),
        event("message.posted", "u1", 2 * DAY, n=30),
        event("redeem.requested", "u1", 3 * DAY, cost=70, item="mug"),
    )
    m = _member(engine)
    assert [lot[0] for lot in m.lots["points"]] == [0, 30, 30]
    # The first credit was spent entirely: nothing to write off when it expires.
    assert _advance(engine, T0 + timedelta(days=10)) == []
    run(engine, event("redeem.requested", "u1", 10 * DAY + 60, cost=20, item="pen"))
    assert [lot[0] for lot in m.lots["points"]] == [10, 30]
    (first,) = _advance(engine, T0 + timedelta(days=11))
    assert first.params["amount"] == 10
    (second,) = _advance(engine, T0 + timedelta(days=12))
    assert second.params["amount"] == 30 and second.params["entries"] == [3]
    assert m.balances["points"] == 0
    _balanced(engine, m)


def test_expiry_of_several_members_costs_one_timer_each() -> None:
    engine = Engine(playbook(EXPIRING))
    for k in range(5):
        run(engine, *(event("message.posted", f"u{k}", 60 * n + k, n=1) for n in range(20)))
    # One pending timer per member: at its oldest credit's expiry.
    assert sorted(t.member for t in engine.state.timers if t.member) == [f"u{k}" for k in range(5)]
    expired = _advance(engine, T0 + timedelta(days=11))
    assert len(expired) == 100 and {a.params["amount"] for a in expired} == {1}
    assert all(_member(engine, f"u{k}").balances["points"] == 0 for k in range(5))


def test_a_revoke_takes_back_its_own_credit_first() -> None:
    engine = Engine(playbook(EXPIRING))
    run(
        engine,
        event("message.posted", "u1", 0, message_id="a", n=50),
        event("message.posted", "u1", DAY, message_id="b", n=50),
        event("message.deleted", "u1", 2 * DAY, message_id="b"),
    )
    m = _member(engine)
    assert [lot[0] for lot in m.lots["points"]] == [50, 0]
    (expired,) = _advance(engine, T0 + timedelta(days=12))
    assert expired.params["amount"] == 50 and expired.params["entries"] == [1]
    _balanced(engine, m)


def test_a_credit_that_expired_is_not_taken_back_again() -> None:
    engine = Engine(playbook(EXPIRING))
    run(
        engine,
        event("message.posted", "u1", 0, message_id="a", n=100),
        event("message.posted", "u1", 5 * DAY, message_id="b", n=100),
    )
    _advance(engine, T0 + timedelta(days=10))
    m = _member(engine)
    assert m.balances["points"] == 100
    assert run(engine, event("message.deleted", "u1", 11 * DAY, message_id="a")) == []
    assert m.balances["points"] == 100
    # Partly spent, then expired: a revoke takes back the spent part only.
    engine = Engine(playbook(EXPIRING))
    run(
        engine,
        event("message.posted", "u1", 0, message_id="a", n=100),
        event("redeem.requested", "u1", 60, cost=60, item="mug"),
        event("message.posted", "u1", 5 * DAY, message_id="b", n=100),
    )
    (expired,) = _advance(engine, T0 + timedelta(days=10))
    assert expired.params["amount"] == 40
    (revoke,) = run(engine, event("message.deleted", "u1", 11 * DAY, message_id="a"))
    assert revoke.params["reversed"] == [
        {"entry": 1, "currency": "points", "amount": 60, "rule": "post"}
    ]
    m = _member(engine)
    assert m.balances["points"] == 40 and [lot[0] for lot in m.lots["points"]] == [40]
    _balanced(engine, m)


def test_a_short_balance_refuses_the_spend() -> None:
    engine = Engine(playbook(EXPIRING))
    run(engine, event("message.posted", "u1", 0, n=30))
    _advance(engine, T0 + timedelta(days=10))
    (refused,) = run(engine, event("redeem.requested", "u1", 11 * DAY, cost=10, item="mug"))
    assert (refused.type, refused.params["text"]) == ("send", "余额不足: 0")


def test_only_awards_of_expiring_currencies_leave_the_fast_path() -> None:
    pb = playbook("""
currencies: [{name: points, expires_after: 30d}, {name: coins}, gems]
rules:
  - id: r
    on: checkin
    do:
      - award: {points: 5}
      - award: {currency: coins, amount: 5}
      - award: {currency: gems, amount: 5}
""")
    assert pb.currencies == ("points", "coins", "gems")
    plan = pb.data(POINTS)
    assert plan is not None and plan.expiry == {"points": 30 * DAY}
    names = [a.execute.__name__ for a in pb.rules[0].do]
    assert names == ["do_award", "award", "award"]
    engine = Engine(pb)
    run(engine, event("checkin", "u1", 0))
    m = _member(engine)
    assert m.balances == {"points": 5, "coins": 5, "gems": 5}
    assert list(m.lots) == ["points"]


def test_lots_and_expiry_timers_survive_a_sqlite_restart(tmp_path: Path) -> None:
    pb = playbook(EXPIRING)
    url = tmp_path / "state.db"
    runner = Runner(pb, SQLiteStore(url))
    for e in (
        event("message.posted", "u1", 0, n=60),
        event("message.posted", "u1", DAY, n=40),
        event("redeem.requested", "u1", 2 * DAY, cost=70, item="mug"),
    ):
        runner.feed(e)
    runner.close()
    store = SQLiteStore(url)
    engine = Engine(pb, store.open())
    m = _member(engine)
    assert m.lots == {
        "points": [
            [0, pytest.approx(m.lots["points"][0][1]), 1, 60],
            [30, pytest.approx(m.lots["points"][1][1]), 2, 40],
        ]
    }
    assert [t.kind for t in engine.state.timers] == ["expire"]
    decisions = engine.advance_to(T0 + timedelta(days=12))
    assert [a.params["amount"] for d in decisions for a in d.actions] == [30]
    store.commit(decisions, engine.state)
    store.close()
    store = SQLiteStore(url)
    state = store.open()
    m = state.community("default").member("u1")
    assert m.balances["points"] == 0 and m.lots == {}
    assert [e.kind for e in store.ledger("default", "u1")] == ["award", "award", "spend", "expire"]
    assert state.timers == []
    store.close()


# -- caps -----------------------------------------------------------------------------------
CAPPED = """
rules:
  - id: daily
    on: message.posted
    do: [{award: {points: 30, reason: post, cap: {per: day, max: 50}}}]
  - id: weekly
    on: checkin
    do: [{award: {points: 40, cap: {per: week, max: 100}}}]
  - id: monthly
    on: content.shared
    do: [{award: {currency: points, amount: 70, cap: {per: month, max: 100}}}]
"""


def _amounts(actions: list[ActionRecord]) -> list[int]:
    return [a.params["amount"] for a in actions]


def test_a_daily_cap_awards_the_remainder_then_nothing() -> None:
    engine = Engine(playbook(CAPPED))
    # T0 is 10:00 in Asia/Shanghai; the local day ends 14 hours later.
    got = run(engine, *(event("message.posted", "u1", 60 * k) for k in range(3)))
    assert _amounts(got) == [30, 20]
    assert run(engine, event("message.posted", "u1", 14 * 3600 - 1)) == []
    assert _amounts(run(engine, event("message.posted", "u1", 14 * 3600))) == [30]
    assert _member(engine).balances["points"] == 80


def test_weekly_caps_follow_iso_weeks_and_monthly_caps_calendar_months() -> None:
    engine = Engine(playbook(CAPPED))
    # 2026-03-02 is a Monday: the week runs to Sunday 2026-03-08 in Shanghai.
    got = run(engine, *(event("checkin", "u1", DAY * k) for k in range(7)))
    assert _amounts(got) == [40, 40, 20]
    assert _amounts(run(engine, event("checkin", "u1", 7 * DAY - 10 * 3600))) == [40]
    got = run(engine, *(event("content.shared", "u1", DAY * k) for k in range(0, 40, 5)))
    assert _amounts(got) == [70, 30, 70, 30]  # March, then April


def test_caps_are_kept_per_member() -> None:
    engine = Engine(playbook(CAPPED))
    got = run(engine, *(event("message.posted", f"u{k % 2}", k) for k in range(6)))
    assert [(a.member, a.params["amount"]) for a in got] == [
        ("u0", 30),
        ("u1", 30),
        ("u0", 20),
        ("u1", 20),
    ]


def test_a_late_event_counts_against_its_own_day() -> None:
    engine = Engine(playbook(CAPPED))
    run(engine, event("message.posted", "u1", DAY), event("message.posted", "u1", DAY + 1))
    # An event of the day before arrives late: that day's cap is untouched.
    assert _amounts(run(engine, event("message.posted", "u1", 0))) == [30]
    assert _amounts(run(engine, event("message.posted", "u1", 1))) == [20]
    assert run(engine, event("message.posted", "u1", DAY + 2)) == []
    # Much later events: only the latest periods are remembered, and an award dated in
    # a period older than those is treated as capped rather than risk exceeding it.
    run(engine, *(event("message.posted", "u1", DAY * k) for k in range(2, 6)))
    assert run(engine, event("message.posted", "u1", 3)) == []


# -- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "currencies: [{name: points, expire_after: 365d}]\n",
            "test.yaml:4:29: unknown key 'expire_after' in 'currencies[0]'; "
            "did you mean 'expires_after'?",
        ),
        (
            "currencies: [{name: points, expires_after: 1 year}]\n",
            "test.yaml:4:44: 'currencies[0].expires_after': '1 year' is not a duration",
        ),
        (
            "currencies: [{expires_after: 30d}]\n",
            "test.yaml:4:14: missing required key 'name' in 'currencies[0]'",
        ),
        (
            "currencies: [points, {name: points, expires_after: 30d}]\n",
            "test.yaml:4:13: `currencies` lists 'points' twice",
        ),
        (
            "currencies: [7]\n",
            "test.yaml:4:14: 'currencies[0]': expected a currency name or "
            "{name: ..., expires_after: ...}, got the number 7",
        ),
        ("currencies: [{name: 'two words'}]\n", "test.yaml:4:21: 'currencies[0].name'"),
        (
            "currencies: [{name: points, expires_after: 30d}]\nrules:\n"
            "  - {id: r, on: x, do: [{award: {currency: cions, amount: 1}}]}\n",
            "test.yaml:6:44: unknown currency 'cions'; the playbook's currencies are points",
        ),
        (
            "rules:\n  - {id: r, on: x, do: [{award: {points: 1, cap: {per: year, max: 5}}}]}\n",
            "test.yaml:5:56: 'cap.per': expected 'day', 'week' or 'month', got the string 'year'",
        ),
    ],
)
def test_bad_currency_yaml_gets_a_located_error(body: str, message: str) -> None:
    with pytest.raises(PlaybookError) as err:
        playbook(body)
    assert any(str(p).startswith(message) for p in err.value.problems), err.value.problems
