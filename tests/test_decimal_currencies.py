"""Currencies with decimals (`{name: cny, decimals: 2}`): amounts exact, kept as whole
minor units, read and shown in units (docs/language.md, "Currencies, expiry and caps")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules import Engine
from engage_rules.errors import PlaybookError
from engage_rules.features.currencies import to_minor
from engage_rules.testing import event
from helpers import decisions, ledger, playbook, run

PB = """
currencies: [points, {name: cny, decimals: 2, expires_after: 30d}]
shop:
  items:
    tea: {name: 奶茶, price: 19.9, currency: cny}
rules:
  - id: cashback
    on: purchase
    do:
      - award:
          {currency: cny, amount: "{{ event.data.back }}", reason: 返现, cap: {per: day, max: 50}}
  - id: tip
    on: checkin
    do: [{award: {currency: cny, amount: 0.1}}, {spend: {currency: cny, amount: 0.05}}]
  - id: buy
    on: redeem.requested
    do: [{redeem: tea}]
    refused: [{reply: {text: "{{ refusal.price }}/{{ refusal.balance }}"}}]
  - id: show
    on: custom.show
    if: "member.balances.cny >= 0.3"
    do: [{reply: {text: "{{ member.balances.cny }}"}}]
"""


def _show(engine: Engine, at: int) -> list[str]:
    return [str(a.params["text"]) for a in run(engine, event("custom.show", "u1", at, id=f"s{at}"))]


def test_ten_dimes_make_one_yuan_exactly() -> None:
    engine = Engine(playbook(PB))
    for i in range(10):
        run(engine, event("checkin", "u1", i, id=f"c{i}"))
    m = engine.state.community("default").member("u1")
    assert m.balances["cny"] == 50  # minor units: 10 × (10 - 5)
    assert _show(engine, 20) == ["0.5"]
    assert [e.amount for e in ledger(engine)][:2] == [10, -5]


def test_actions_show_units_and_the_ledger_keeps_minor_units() -> None:
    engine = Engine(playbook(PB))
    got = run(engine, event("purchase", "u1", 0, id="p1", amount=199.9, back=19.89))
    assert [(a.type, a.params["amount"]) for a in got] == [("award", 19.89)]
    assert ledger(engine)[0].amount == 1989
    refused = run(engine, event("redeem.requested", "u1", 1, id="r1"))
    assert [a.params["text"] for a in refused] == ["19.9/19.89"]
    assert engine.state.community("default").member("u1").balances["cny"] == 1989
    run(engine, event("purchase", "u1", 2, id="p2", back=0.11))
    bought = run(engine, event("redeem.requested", "u1", 3, id="r2"))
    assert bought[0].type == "redeem" and bought[0].params["price"] == 19.9
    assert engine.state.community("default").member("u1").balances["cny"] == 10
    assert [e.amount for e in ledger(engine)] == [1989, 11, -1990]


def test_a_cap_is_in_units() -> None:
    engine = Engine(playbook(PB))
    amounts = [
        a.params["amount"]
        for i in range(3)
        for a in run(engine, event("purchase", "u1", i, id=f"p{i}", back="20.5"))
    ]
    assert amounts == [20.5, 20.5, 9]
    assert engine.state.community("default").member("u1").balances["cny"] == 5000


def test_too_many_decimals_at_run_time_is_a_rule_error() -> None:
    engine = Engine(playbook(PB))
    done = decisions(engine, event("purchase", "u1", 0, id="p1", back=0.001))
    assert [e.message for d in done for e in d.errors] == [
        "award: amount 0.001 has more than 2 decimal places"
    ]
    assert engine.state.community("default").member("u1").balances.get("cny", 0) == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "currencies: [{name: cny, decimals: 7}]\nrules: []\n",
            "test.yaml:4:36: 'currencies[0].decimals' must be at most 6",
        ),
        ("currencies: [{name: cny, decimals: -1}]\nrules: []\n", "test.yaml:4:36: 'currencies[0]"),
        (
            "currencies: [{name: cny, decimals: 2}]\n"
            "rules: [{id: r, on: checkin, do: [{award: {points: 0.001}}]}]\n",
            "test.yaml:5:52: amount 0.001 has more than 2 decimal places (cny)",
        ),
        (
            "currencies: [{name: cny, decimals: 1}]\n"
            "shop: {items: {tea: {price: 1.25}}}\nrules: []\n",
            "test.yaml:5:29: amount 1.25 has more than 1 decimal places",
        ),
        (
            "shop: {items: {tea: {price: 1.5}}}\nrules: []\n",
            "test.yaml:4:29: price 1.5 must be a whole number of points",
        ),
        (
            "currencies: [{name: cny, decimals: 2}]\n"
            "leaderboards: {w: {measure: cny, period: week}}\nrules: []\n",
            "test.yaml:5:29: a leaderboard cannot rank 'cny': it has decimals",
        ),
    ],
)
def test_bad_decimals_are_located_errors(body: str, expected: str) -> None:
    with pytest.raises(PlaybookError) as info:
        playbook(body)
    problems = [str(p) for p in info.value.problems]
    assert any(p.startswith(expected) for p in problems), problems


def test_to_minor_reads_amounts_as_written() -> None:
    assert to_minor(199.9, 100) == 19990
    assert to_minor("0.07", 100) == 7
    assert to_minor(3, 1000) == 3000
    for bad in ("x", "inf", 0.005):
        with pytest.raises(ValueError):
            to_minor(bad, 100)


_cents = st.decimals(min_value=0, max_value=10**6, places=2)
_steps = st.lists(st.tuples(st.sampled_from(["award", "spend"]), _cents), max_size=30)

STEPS = """
currencies: [{name: cny, decimals: 2}]
rules:
  - {id: a, on: custom.award, do: [{award: {points: "{{ event.data.x }}"}}]}
  - {id: s, on: custom.spend, do: [{spend: {points: "{{ event.data.x }}"}}]}
"""


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(_steps)
def test_the_balance_is_the_sum_of_the_ledger_exactly(steps: list[tuple[str, Decimal]]) -> None:
    engine = Engine(playbook(STEPS))
    expected = Decimal(0)
    for i, (kind, amount) in enumerate(steps):
        run(engine, event(f"custom.{kind}", "u1", i, id=f"e{i}", x=str(amount)))
        if kind == "award":
            expected += amount
        elif expected >= amount:
            expected -= amount
    m = engine.state.community("default").member("u1")
    balance = m.balances.get("cny", 0)
    assert balance == sum(e.amount for e in ledger(engine)) == int(expected * 100)
    assert balance >= 0


def test_an_expiry_shows_the_amount_in_units() -> None:
    from datetime import timedelta

    from engage_rules.testing import T0

    engine = Engine(playbook(PB))
    run(engine, event("purchase", "u1", 0, id="p1", back="1.25"))
    done = engine.advance_to(T0 + timedelta(days=31))
    expired = [a for d in done for a in d.actions if a.type == "expire"]
    assert [a.params["amount"] for a in expired] == [1.25]
    assert engine.state.community("default").member("u1").balances["cny"] == 0


def test_a_shadow_spend_of_a_decimal_currency_is_refused_only_when_unaffordable() -> None:
    pb = """
currencies: [points, {name: cny, decimals: 2}]
rules:
  - id: earn
    on: purchase
    do: [{award: {currency: cny, amount: 2}}]
  - id: try-spend
    shadow: true
    on: checkin
    do: [{spend: {currency: cny, amount: "{{ event.data.amount }}"}}]
    else: [{tag: too-poor}]
"""
    engine = Engine(playbook(pb))
    run(engine, event("purchase", "u1", 0, id="p1"))
    affordable = run(engine, event("checkin", "u1", 1, id="c1", data={"amount": 1.5}))
    assert [(a.type, a.shadow) for a in affordable] == [("spend", True)]
    too_much = run(engine, event("checkin", "u1", 2, id="c2", data={"amount": 2.01}))
    assert [a.type for a in too_much] == ["tag"]
    assert engine.state.community("default").members["u1"].balances["cny"] == 200


POINTS_READ = """
currencies: [{name: cny, decimals: 2}]
rules:
  - id: tip
    on: checkin
    do: [{award: {currency: cny, amount: 0.25}}]
  - id: rich
    on: checkin
    if: "member.points >= 0.5"
    do: [{tag: {name: rich}}]
  - id: show
    on: checkin
    if: "member.points > 0.7"
    do: [{reply: {text: "{{ member.points }}"}}]
"""


def _checkins(pb_text: str, n: int) -> list[list[str]]:
    """Each of ``n`` check-ins' actions: their types, and a reply's text."""
    engine = Engine(playbook(pb_text))
    return [
        [a.type if a.type != "reply" else f"reply {a.params['text']}" for a in got]
        for got in (run(engine, event("checkin", "u1", i, id=f"c{i}")) for i in range(n))
    ]


def test_member_points_of_a_decimal_default_currency_reads_units_between_rules() -> None:
    """`member.points` in conditions (read once per event by the dispatch code, again
    after each rule whose actions ran) is in units for a default currency with
    decimals, as in templates; a playbook of whole currencies reads the balance as is
    (its dispatch code reads it without the conversion)."""
    assert "_unit(" in playbook(POINTS_READ).dispatch_source
    assert _checkins(POINTS_READ, 4) == [
        ["award"],
        ["award", "tag"],  # 0.5 after this event's award
        ["award", "reply 0.75"],
        ["award", "reply 1"],
    ]
    whole = (
        POINTS_READ.replace("{name: cny, decimals: 2}", "cny")
        .replace("0.25", "25")
        .replace("0.5", "50")
        .replace("0.7", "70")
    )
    assert "_unit(" not in playbook(whole).dispatch_source
    assert _checkins(whole, 4) == [
        ["award"],
        ["award", "tag"],
        ["award", "reply 75"],
        ["award", "reply 100"],
    ]
