"""A member's purchases (`purchase` events): total spent, summed exactly, count and last
purchase time, for value (RFM-style) segments (docs/language.md, "Value segments")."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules import Engine
from engage_rules.features.shop import purchase_amount
from engage_rules.model.state import MemberState
from engage_rules.shell.runner import Runner
from engage_rules.testing import event, open_store
from helpers import playbook, run

PB = """
segments:
  big_spender: "member.total_spent >= 299.8"
  lapsed: "member.purchases > 0 and (now - member.last_purchase_at).days >= 30"
rules:
  - id: check
    on: checkin
    do:
      - reply:
          text: >-
            {{ member.total_spent }}/{{ member.purchases }}/{{ segment('big_spender')
            }}/{{ segment('lapsed') }}
"""


def _check(engine: Engine, at: int) -> str:
    return str(run(engine, event("checkin", "u1", at, id=f"c{at}"))[0].params["text"])


def test_totals_are_exact_and_counted_after_the_purchase() -> None:
    engine = Engine(playbook(PB))
    assert _check(engine, 0) == "0/0/False/False"
    run(engine, event("purchase", "u1", 1, id="p1", amount=199.9, currency="CNY"))
    run(engine, event("purchase", "u1", 2, id="p2", amount="99.90", currency="CNY"))
    assert _check(engine, 3) == "299.8/2/True/False"
    m = engine.state.community("default").member("u1")
    assert m.spending["totals"] == {"CNY": "299.80"}
    assert _check(engine, 31 * 86400) == "299.8/2/True/True"


@pytest.mark.parametrize("amount", [-5, "abc", True, None, "nan", "1e400", 10**13, "0.0000001", []])
def test_a_bad_amount_counts_the_purchase_but_adds_nothing(amount: object) -> None:
    engine = Engine(playbook(PB))
    run(engine, event("purchase", "u1", 1, id="p1", amount=amount, currency="CNY"))
    assert _check(engine, 2) == "0/1/False/False"


def test_purchases_survive_a_sqlite_restart(tmp_path: Path) -> None:
    pb = playbook(PB)
    db = tmp_path / "s.db"
    first = Runner(pb, open_store(f"sqlite:///{db}"))
    first.feed(event("purchase", "u1", 1, id="p1", amount=12.34, currency="CNY"))
    first.close()
    second = Runner(pb, open_store(f"sqlite:///{db}"))
    m = second.state.community("default").member("u1")
    assert m.spending["totals"] == {"CNY": "12.34"} and m.total_spent() == 12.34
    second.close()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.decimals(min_value=0, max_value=10**6, places=2), max_size=30))
def test_the_total_is_the_exact_sum(amounts: list[Decimal]) -> None:
    m = MemberState("u1", "default")
    for i, a in enumerate(amounts):
        m.record_purchase(purchase_amount(float(a)) if i % 2 else purchase_amount(str(a)), "CNY", i)
    assert Decimal(m.spending.get("totals", {}).get("CNY", "0")) == sum(amounts, Decimal(0))
    assert m.spending.get("count", 0) == len(amounts)
