"""Properties of currencies, caps and levels (docs/reference.md §4, §5.4, §11) under arbitrary
sequences of awards, spends, revokes, expiries and time passing."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from engage_rules import Engine, Event
from engage_rules.features.levels import LEVELS
from engage_rules.model.decision import ActionRecord, Decision
from engage_rules.model.state import LedgerEntry, ts
from engage_rules.store import MemoryStore, Store
from engage_rules.testing import event
from engage_rules.testing import strategies as est
from helpers import playbook

REWARDS = playbook("""
currencies: [{name: points, expires_after: 3d}, coins]
levels:
  by: points
  ladder:
    - {level: 1, name: a, at: 0}
    - {level: 2, name: b, at: 30}
    - {level: 3, name: c, at: 80}
  demotion: {below: 0.8, grace: 1d}
rules:
  - id: post
    on: message.posted
    do:
      - award: {points: "{{ event.data.n }}", reason: post}
      - award: {currency: coins, amount: 2, reason: post}
  - id: daily
    on: checkin
    do: [{award: {points: 15, reason: checkin, cap: {per: day, max: 40}}}]
  - id: buy
    on: redeem.requested
    do:
      - spend: {points: "{{ event.data.n }}", reason: buy}
      - spend: {currency: coins, amount: 3, reason: buy}
  - id: removed
    on: message.deleted
    do: [{revoke: {event: "{{ event.data.message_id }}"}}]
""")

CAPS = playbook("""
rules:
  - id: daily
    on: checkin
    do: [{award: {points: "{{ event.data.n }}", cap: {per: day, max: 50}}}]
  - id: weekly
    on: message.posted
    do: [{award: {points: "{{ event.data.n }}", cap: {per: week, max: 120}}}]
  - id: monthly
    on: content.shared
    do: [{award: {points: "{{ event.data.n }}", cap: {per: month, max: 300}}}]
""")

WINDOWED = playbook("""
levels:
  by: "count('message.posted', within='2d') + count('reaction.added', within='1d') * 2"
  ladder: [{level: 0, name: a, at: 0}, {level: 1, name: b, at: 3}, {level: 2, name: c, at: 8}]
  demotion: {below: 0.75, grace: 6h}
rules:
  - {id: seen, on: member.level_changed, do: [{tag: "was-{{ event.data.to }}"}]}
""")


HOUR = 3600


@st.composite
def reward_logs(draw: st.DrawFn) -> list[Event]:
    """Events at non-decreasing times (with some late ones), spanning about two weeks."""
    times = est.arrival_times(
        [0, 60, HOUR, 6 * HOUR, 20 * HOUR, 3 * 86400], late=[0, 0, 0, 2 * HOUR], max_size=40
    )
    out: list[Event] = []
    for k, when in enumerate(draw(times)):
        member = draw(est.member_ids())
        kind = draw(st.sampled_from(["post", "post", "checkin", "buy", "delete"]))
        if kind == "post":
            n = draw(st.integers(0, 60))
            out.append(event("message.posted", member, when, id=f"e{k}", message_id=f"m{k}", n=n))
        elif kind == "checkin":
            out.append(event("checkin", member, when, id=f"e{k}"))
        elif kind == "buy":
            n = draw(st.integers(1, 70))
            out.append(event("redeem.requested", member, when, id=f"e{k}", n=n))
        else:
            target = draw(st.integers(0, max(k - 1, 0)))
            out.append(event("message.deleted", member, when, id=f"e{k}", message_id=f"m{target}"))
    return out


def _replay(pb: Any, log: list[Event]) -> tuple[Engine, list[ActionRecord], Store]:
    """Process ``log``, then let time pass until every window and credit has run out;
    every decision is committed to a store that keeps the ledger."""
    store = MemoryStore(keep_history=True)
    engine = Engine(pb, store.open())
    actions: list[ActionRecord] = []
    for e in log:
        for d in _committed(store, engine, engine.process(e)):
            actions.extend(d.actions)
    for d in _committed(
        store, engine, engine.advance_to(max(e.at for e in log) + timedelta(days=4))
    ):
        actions.extend(d.actions)
    return engine, actions, store


def _committed(store: Store, engine: Engine, decisions: list[Decision]) -> list[Decision]:
    store.commit(decisions, engine.state)
    return decisions


def _revocable(entries: list[LedgerEntry], horizon: float) -> list[list[Any]]:
    """What a revoke can still reverse, found the long way, in the whole ledger: awards
    within the window not reversed, less what of them expired."""
    expired: dict[int, int] = defaultdict(int)
    for x in entries:
        if x.kind == "expire" and x.reverses is not None:
            expired[x.reverses] -= x.amount
    return [
        [x.seq, ts(x.at), x.currency, x.amount - expired[x.seq], x.rule, x.cause, x.ref]
        for x in entries
        if x.kind == "award"
        and x.amount > 0
        and x.reversed_by is None
        and x.amount > expired[x.seq]
        and ts(x.at) >= horizon
    ]


@given(log=reward_logs())
def test_balance_is_the_sum_of_the_stored_ledger_and_of_the_lots(log: list[Event]) -> None:
    store = MemoryStore(keep_history=True)
    engine = Engine(REWARDS, store.open())
    for e in log:
        store.commit(engine.process(e), engine.state)
        for m in engine.state.community("default").members.values():
            entries = store.ledger("default", m.id)
            for currency in ("points", "coins"):
                balance = m.balances.get(currency, 0)
                assert balance >= 0
                assert balance == sum(x.amount for x in entries if x.currency == currency)
            assert [x.seq for x in entries] == list(range(1, m.ledger_seq + 1))
            lots = m.lots.get("points", [])
            assert sum(lot[0] for lot in lots) == m.balances.get("points", 0)
            assert [lot[1] for lot in lots] == sorted(lot[1] for lot in lots)
            # The engine's revocable credits are what a revoke would find in the ledger.
            assert engine.state.clock is not None
            horizon = ts(engine.state.clock) - 90 * 86400
            assert m.revocable == _revocable(entries, horizon)
    store.commit(engine.advance_to(max(e.at for e in log) + timedelta(days=4)), engine.state)
    for m in engine.state.community("default").members.values():
        entries = store.ledger("default", m.id)
        # Everything earned has expired by now: points are gone, coins stay.
        assert m.balances.get("points", 0) == 0 and "points" not in m.lots
        assert sum(x.amount for x in entries if x.currency == "points") == 0
        assert m.balances.get("coins", 0) == sum(x.amount for x in entries if x.currency == "coins")
        # What expired is no longer revocable; the part spent before it expired is.
        assert engine.state.clock is not None
        assert m.revocable == _revocable(entries, ts(engine.state.clock) - 90 * 86400)
        # The level measure (earned, less revoked and expired) is back to zero too, and
        # the ladder followed it down without any event.
        assert m.earned.get("points", 0) == m.forfeited.get("points", 0)
        assert m.level == 1


@given(log=reward_logs())
def test_expiry_entries_write_off_only_what_was_left_of_a_credit(log: list[Event]) -> None:
    engine, _, store = _replay(REWARDS, log)
    for m in engine.state.community("default").members.values():
        entries = store.ledger("default", m.id)
        by_seq = {x.seq: x for x in entries}
        for x in entries:
            if x.kind == "expire":
                original = by_seq[x.reverses]  # type: ignore[index]
                assert original.kind == "award" and original.currency == "points"
                assert 0 < -x.amount <= original.amount


@st.composite
def capped_logs(draw: st.DrawFn) -> list[Event]:
    times = est.arrival_times(
        [0, 60, HOUR, 5 * HOUR, 86400, 4 * 86400],
        late=[0, 0, 0, HOUR, 86400, 9 * 86400],
        max_size=50,
        floor=0,
    )
    out = []
    for k, when in enumerate(draw(times)):
        type_ = draw(st.sampled_from(["checkin", "message.posted", "content.shared"]))
        member = draw(est.member_ids(est.MEMBERS[:2]))
        out.append(event(type_, member, when, id=f"c{k}", n=draw(st.integers(1, 80))))
    return out


@given(log=capped_logs())
def test_a_cap_is_never_exceeded_in_any_period(log: list[Event]) -> None:
    _, actions, _ = _replay(CAPS, log)
    tz = ZoneInfo("Asia/Shanghai")
    caps = {"daily": 50, "weekly": 120, "monthly": 300}
    totals: dict[tuple[str, str, Any], int] = defaultdict(int)
    for a in actions:
        assert a.type == "award" and a.params["amount"] > 0  # a capped-out award is silent
        local = a.at.astimezone(tz)
        period: Any = {
            "daily": local.date(),
            "weekly": local.isocalendar()[:2],
            "monthly": (local.year, local.month),
        }[a.rule]
        totals[(a.member, a.rule, period)] += a.params["amount"]  # type: ignore[index]
    for (_, rule, _), total in totals.items():
        assert total <= caps[rule]


@given(log=capped_logs())
def test_caps_award_the_whole_remainder_to_events_in_order(log: list[Event]) -> None:
    """Without late events a cap is reached exactly: every award is min(n, what is left)."""
    in_order = sorted(log, key=lambda e: e.at)
    _, actions, _ = _replay(CAPS, in_order)
    tz = ZoneInfo("Asia/Shanghai")
    caps = {"checkin": 50, "message.posted": 120, "content.shared": 300}
    used: dict[tuple[Any, ...], int] = defaultdict(int)
    expected = []
    for e in in_order:
        local = e.at.astimezone(tz)
        period = {
            "checkin": local.date(),
            "message.posted": local.isocalendar()[:2],
            "content.shared": (local.year, local.month),
        }[e.type]
        key = (e.member.id if e.member else None, e.type, period)
        amount = min(e.data["n"], caps[e.type] - used[key])
        if amount > 0:
            used[key] += amount
            expected.append((e.id, amount))
    assert [(a.cause, a.params["amount"]) for a in actions] == expected


@st.composite
def activity_logs(draw: st.DrawFn) -> list[Event]:
    times = est.arrival_times([0, 60, HOUR, 5 * HOUR, 30 * HOUR], max_size=40)
    return [
        event(
            draw(st.sampled_from(["message.posted", "reaction.added"])),
            draw(est.member_ids()),
            at,
            id=f"a{k}",
        )
        for k, at in enumerate(draw(times))
    ]


@given(log=activity_logs())
def test_the_same_log_gives_the_same_levels_and_actions(log: list[Event]) -> None:
    first, a1, _ = _replay(WINDOWED, log)
    second, a2, _ = _replay(WINDOWED, log)
    assert [a.to_json() for a in a1] == [a.to_json() for a in a2]
    assert first.state.snapshot() == second.state.snapshot()
    # After every window has emptied, every member is back at the lowest level.
    assert all(m["level"] == 0 for m in first.state.snapshot()["members"].values())
    assert first.state.timers == []


@given(log=activity_logs())
def test_levels_follow_the_measure_with_hysteresis(log: list[Event]) -> None:
    """After every event the level is consistent with the measure: never below what it
    reached, never held above what demotion allows once grace is over."""
    engine = Engine(WINDOWED)
    ladder = WINDOWED.data(LEVELS)
    assert ladder is not None
    for e in log:
        engine.process(e)
        for m in engine.state.community("default").members.values():
            assert m.level is not None
            value = ladder.measure(engine, None, m, e.at, e.ts + 1e-6)  # type: ignore[arg-type]
            assert value is not None
            i = ladder.index(m.level)
            nxt = ladder.steps[i + 1] if i + 1 < len(ladder.steps) else None
            assert nxt is None or value < nxt.at  # promoted as soon as reached
            assert ladder.below is not None
            if i > 0 and value < ladder.below * ladder.steps[i].at:
                assert m.promoted_at is not None
                assert (e.at - m.promoted_at).total_seconds() < ladder.grace
