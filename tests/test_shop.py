"""The points shop: `redeem` with price, stock, per-member limits and coupon codes, all
or nothing, refused with a reason (docs/language.md, "The shop")."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules import Engine
from engage_rules.errors import PlaybookError
from engage_rules.features.shop import generated_codes
from engage_rules.model.decision import ActionRecord
from engage_rules.shell.runner import Runner
from engage_rules.testing import event, load, open_store
from helpers import ledger, playbook, run

SHOP = """
vars:
  vip_codes: [VIP-A, VIP-B]
shop:
  items:
    mug: {name: 马克杯, price: 100, stock: 2, per_member: 1, codes: {generate: 2, prefix: MUG-}}
    vip: {price: 30, codes: {var: vip_codes}}
    sticker: {price: 0, per_member: 2}
rules:
  - id: earn
    on: message.posted
    do: [{award: {points: "{{ event.data.n }}"}}]
  - id: buy
    on: redeem.requested
    do: [{redeem: "{{ event.data.item }}"}, {tag: buyer}]
    refused:
      - reply: {text: "{{ refusal.reason }}|{{ refusal.item }}|{{ refusal.balance }}"}
  - id: code
    on: shop.redeemed
    do: [{send: {text: "{{ event.data.name }}: {{ event.data.code }}"}}]
"""


def _engine(body: str = SHOP) -> Engine:
    return Engine(playbook(body))


def _earn(engine: Engine, member: str, n: int, i: int = 0) -> None:
    run(engine, event("message.posted", member, i, id=f"earn-{member}-{i}", n=n))


def _buy(engine: Engine, member: str, item: str, i: int) -> list[tuple[str, dict[str, object]]]:
    actions = run(engine, event("redeem.requested", member, 100 + i, id=f"r{i}", item=item))
    return [(a.type, a.params) for a in actions]


def test_a_redemption_spends_takes_stock_and_hands_out_the_next_code() -> None:
    engine = _engine()
    _earn(engine, "u1", 150)
    got = _buy(engine, "u1", "mug", 1)
    codes = generated_codes("test", "mug", 2, "MUG-")
    assert [t for t, _ in got] == ["redeem", "tag", "send"]
    assert got[0][1] == {
        "item": "mug",
        "name": "马克杯",
        "price": 100,
        "currency": "points",
        "reason": "shop: 马克杯",
        "code": codes[0],
    }
    assert got[2][1]["text"] == f"马克杯: {codes[0]}"
    m = engine.state.community("default").member("u1")
    assert m.balances["points"] == 50
    entries = ledger(engine, "u1")
    assert [(e.kind, e.amount, e.reason) for e in entries] == [
        ("award", 150, "earn"),
        ("spend", -100, "shop: 马克杯"),
    ]
    assert engine.state.community("default").data["shop"]["mug"] == {"sold": 1, "by": {"u1": 1}}


@pytest.mark.parametrize(
    ("setup", "item", "reason"),
    [
        ([], "mug", "insufficient_balance|mug|0"),
        ([("u1", "mug")], "mug", "limit_reached|mug|50"),
        ([("u2", "mug"), ("u3", "mug")], "mug", "out_of_stock|mug|150"),
        ([], "teapot", "unknown_item|teapot|"),
    ],
)
def test_each_refusal_has_its_reason_and_changes_nothing(
    setup: list[tuple[str, str]], item: str, reason: str
) -> None:
    engine = _engine()
    for member in ("u2", "u3"):
        _earn(engine, member, 500)
    if setup or reason.startswith("out_of") or reason.startswith("unknown"):
        _earn(engine, "u1", 150)
    for i, (member, bought) in enumerate(setup):
        assert _buy(engine, member, bought, i)[0][0] == "redeem"
    c = engine.state.community("default")
    before = (c.member("u1").balances.get("points", 0), repr(c.data.get("shop")))
    got = _buy(engine, "u1", item, 9)
    assert got == [("reply", {"text": reason, "channel": None})]
    assert (c.member("u1").balances.get("points", 0), repr(c.data.get("shop"))) == before


def test_a_rule_without_refused_runs_else_on_a_refusal() -> None:
    body = SHOP.replace("    refused:\n", "    else:\n")
    got = _buy(_engine(body), "u1", "mug", 1)
    assert got == [("reply", {"text": "insufficient_balance|mug|0", "channel": None})]


def test_codes_from_vars_and_the_stock_they_bound() -> None:
    engine = _engine()
    for member in ("u1", "u2", "u3"):
        _earn(engine, member, 100)
    codes = [
        p.get("code") for m in ("u1", "u2") for t, p in _buy(engine, m, "vip", 1) if t == "redeem"
    ]
    assert codes == ["VIP-A", "VIP-B"]
    assert _buy(engine, "u3", "vip", 3)[0][1]["text"].startswith("out_of_stock")


def test_a_free_item_needs_no_balance_and_writes_no_ledger_entry() -> None:
    engine = _engine()
    assert [t for t, _ in _buy(engine, "u1", "sticker", 1)] == ["redeem", "tag", "send"]
    assert _buy(engine, "u1", "sticker", 2)[0][0] == "redeem"
    assert _buy(engine, "u1", "sticker", 3)[0][1]["text"].startswith("limit_reached")
    assert ledger(engine, "u1") == []


def test_generated_codes_are_distinct_and_stable() -> None:
    codes = generated_codes("pb", "mug", 500, "M-")
    assert len(set(codes)) == 500 and all(c.startswith("M-") and len(c) == 12 for c in codes)
    assert codes == generated_codes("pb", "mug", 500, "M-")
    assert codes[:10] == generated_codes("pb", "mug", 10, "M-")
    assert set(codes).isdisjoint(generated_codes("pb", "cup", 500, "M-"))


def test_codes_from_a_word_list_file(tmp_path: Path) -> None:
    (tmp_path / "codes.txt").write_text("# 兑换码\nC-1\nC-2\n", encoding="utf-8")
    (tmp_path / "pb.yaml").write_text(
        "engage_rules: 1\nvars: {codes: {file: codes.txt}}\n"
        "shop: {items: {card: {price: 0, codes: {var: codes}}}}\n"
        "rules:\n  - {id: r, on: checkin, do: [{redeem: card}]}\n",
        encoding="utf-8",
    )
    engine = Engine(load(tmp_path / "pb.yaml"))
    got = [a.params.get("code") for i in range(3) for a in run(engine, event("checkin", "u1", i))]
    assert got == ["C-1", "C-2"]


def test_shop_state_survives_a_restart_of_a_sqlite_store(tmp_path: Path) -> None:
    pb = playbook(SHOP)
    db = tmp_path / "s.db"
    first = Runner(pb, open_store(f"sqlite:///{db}"))
    first.feed(event("message.posted", "u1", 0, id="e1", n=500))
    first.feed(event("redeem.requested", "u1", 1, id="e2", item="mug"))
    first.close()
    second = Runner(pb, open_store(f"sqlite:///{db}"))
    assert second.state.community("default").data["shop"]["mug"] == {"sold": 1, "by": {"u1": 1}}
    committed: list[ActionRecord] = []
    second.on_commit = committed.extend
    second.feed(event("redeem.requested", "u1", 2, id="e3", item="mug"))
    second.close()
    assert [a.params["text"] for a in committed] == ["limit_reached|mug|400"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "shop: {items: {mug: {price: -5}}}\nrules: []\n",
            "test.yaml:4:29: 'shop.items.mug.price'",
        ),
        (
            "shop: {items: {mug: {price: 5, currency: gold}}}\nrules: []\n",
            "test.yaml:4:42: unknown currency 'gold'",
        ),
        (
            "shop: {items: {mug: {price: 5}}}\n"
            "rules: [{id: r, on: checkin, do: [{redeem: cup}]}]\n",
            "test.yaml:5:44: unknown shop item 'cup' (items: mug)",
        ),
        (
            "shop: {items: {mug: {price: 5, stock: 3, codes: {generate: 2}}}}\nrules: []\n",
            "test.yaml:4:39: stock 3 is more than the item's 2 codes",
        ),
        (
            "shop: {items: {mug: {price: 5, codes: {var: nope}}}}\nrules: []\n",
            "test.yaml:4:45: no `vars` entry 'nope'",
        ),
        (
            "shop: {items: {mug: {price: 5, codes: {generate: 2, var: x}}}}\nrules: []\n",
            "test.yaml:4:39: 'shop.items.mug.codes'",
        ),
        (
            "shop: {items: {mug: {price: 5, per_member: 0}}}\nrules: []\n",
            "test.yaml:4:44: 'shop.items.mug.per_member'",
        ),
    ],
)
def test_bad_shop_input_is_a_located_error(body: str, expected: str) -> None:
    with pytest.raises(PlaybookError) as info:
        playbook(body)
    problems = [str(p) for p in info.value.problems]
    assert any(p.startswith(expected) for p in problems), problems


# -- properties --------------------------------------------------------------------------------

PROPERTY_SHOP = """
shop:
  items:
    a: {price: 7, stock: 3, per_member: 2}
    b: {price: 0, stock: 1}
    c: {price: 20, per_member: 1, codes: {generate: 4}}
rules:
  - {id: earn, on: message.posted, do: [{award: {points: "{{ event.data.n }}"}}]}
  - {id: buy, on: redeem.requested, do: [{redeem: "{{ event.data.item }}"}]}
"""

_steps = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3"]),
        st.one_of(st.integers(0, 40), st.sampled_from(["a", "b", "c", "x"])),
    ),
    max_size=40,
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(_steps)
def test_stock_never_goes_negative_and_balances_equal_their_ledgers(
    steps: list[tuple[str, int | str]],
) -> None:
    engine = Engine(playbook(PROPERTY_SHOP))
    limits = {"a": (3, 2), "b": (1, None), "c": (4, 1)}
    for i, (member, what) in enumerate(steps):
        if isinstance(what, int):
            run(engine, event("message.posted", member, i, id=f"e{i}", n=what))
        else:
            run(engine, event("redeem.requested", member, i, id=f"e{i}", item=what))
    c = engine.state.community("default")
    shop = c.data.get("shop", {})
    for item, (stock, per_member) in limits.items():
        rec = shop.get(item, {"sold": 0, "by": {}})
        assert 0 <= rec["sold"] <= stock
        assert sum(rec["by"].values()) == rec["sold"]
        if per_member is not None:
            assert all(n <= per_member for n in rec["by"].values())
    for mid, m in c.members.items():
        balance = m.balances.get("points", 0)
        assert balance >= 0
        assert balance == sum(e.amount for e in ledger(engine, mid))
