"""The `lottery` action: weighted, seeded draws and community-wide stock (reference.md §5.3)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules import Engine
from engage_rules.errors import PlaybookError
from engage_rules.testing import event
from helpers import playbook, run

PB = """
rules:
  - id: daily-draw
    on: checkin
    do:
      - lottery:
          reason: 签到抽奖
          prizes:
            - name: 相机
              weight: 1
              stock: 2
              do: [{award: {points: 500, reason: 一等奖}}, {tag: winner}]
            - {name: 贴纸, weight: 20, stock: 5, do: [{award: {points: 20, reason: 二等奖}}]}
            - {name: 谢谢参与, weight: 79}
"""


def _draws(engine: Engine, n: int, prefix: str = "e") -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        member = f"u{i % 7}"
        for a in run(engine, event("checkin", member, i, id=f"{prefix}{i}")):
            if a.type == "lottery":
                out.append((a.member, a.params["name"]))
    return out


def test_a_draw_emits_the_prize_and_runs_its_actions() -> None:
    engine = Engine(playbook(PB))
    actions = []
    i = 0
    while not any(a.type == "award" for a in actions):
        actions = run(engine, event("checkin", "u1", i, id=f"x{i}"))
        i += 1
    lottery, award = actions[0], actions[1]
    assert lottery.type == "lottery" and lottery.params["reason"] == "签到抽奖"
    assert lottery.params["name"] in ("相机", "贴纸")
    assert award.rule == "daily-draw" and award.member == "u1"
    assert award.key != lottery.key


def test_the_same_log_draws_the_same_winners() -> None:
    first = _draws(Engine(playbook(PB)), 300)
    second = _draws(Engine(playbook(PB)), 300)
    assert first == second
    assert len(first) == 300


def test_stock_is_never_oversold_and_sold_out_prizes_leave_the_draw() -> None:
    engine = Engine(playbook(PB))
    draws = _draws(engine, 2000)
    wins = Counter(name for _, name in draws)
    assert wins["相机"] == 2 and wins["贴纸"] == 5  # 2,000 draws exhaust both stocks
    assert wins["谢谢参与"] == 2000 - 7
    stock = engine.state.community("default").data["lotteries"]["daily-draw/do.0"]
    assert stock == [0, 0, None]


def test_weights_shape_the_draw() -> None:
    pb = playbook("""
rules:
  - id: draw
    on: checkin
    do:
      - lottery: {prizes: [{name: a, weight: 1}, {name: b, weight: 3}]}
""")
    wins = Counter(name for _, name in _draws(Engine(pb), 4000))
    assert 0.70 < wins["b"] / 4000 < 0.80


def test_when_every_prize_is_gone_nothing_is_emitted() -> None:
    pb = playbook("""
rules:
  - id: draw
    on: checkin
    do:
      - lottery: {prizes: [{name: only, weight: 1, stock: 1}]}
      - tag: drew
""")
    engine = Engine(pb)
    assert [a.type for a in run(engine, event("checkin", "u1", 0))] == ["lottery", "tag"]
    assert [a.type for a in run(engine, event("checkin", "u2", 1))] == ["tag"]


def test_a_prize_can_go_to_another_member() -> None:
    pb = playbook("""
rules:
  - id: draw
    on: referral.completed
    do:
      - lottery:
          to: "{{ event.data.referrer }}"
          prizes: [{name: bonus, weight: 1, do: [{award: {points: 5, reason: bonus}}]}]
""")
    actions = run(Engine(pb), event("referral.completed", "new", 0, referrer="old"))
    assert [(a.type, a.member) for a in actions] == [("lottery", "old"), ("award", "old")]


def test_the_stock_survives_a_store_round_trip(tmp_path: object) -> None:
    from pathlib import Path

    from engage_rules.shell.runner import Runner
    from engage_rules.testing import open_store

    db = Path(str(tmp_path)) / "s.db"
    pb = playbook(PB)
    events = [event("checkin", f"u{i % 5}", i, id=f"s{i}") for i in range(400)]
    store = open_store(f"sqlite:///{db}")
    first = Runner(pb, store)
    for e in events[:200]:
        first.feed(e)
    first.flush()
    store.close()
    store = open_store(f"sqlite:///{db}")
    second = Runner(pb, store)
    for e in events[200:]:
        second.feed(e)
    second.flush()
    store.close()
    resumed = open_store(f"sqlite:///{db}").open().community("default").data["lotteries"]
    straight = Engine(pb)
    run(straight, *events)
    assert resumed == straight.state.community("default").data["lotteries"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("lottery: {prizes: []}", "at least 1"),
        ("lottery: {prizes: [{weight: 0}]}", "must be more than 0"),
        ("lottery: {prizes: [{weight: 1, stock: -1}]}", "must be at least 0"),
        ("lottery: {prizes: [{weight: 1, do: [{awrd: {points: 1}}]}]}", "did you mean 'award'"),
        ("lottery: {prizes: [{weight: 1, odds: 3}]}", "odds"),
    ],
)
def test_bad_lotteries_are_located_errors(body: str, message: str) -> None:
    with pytest.raises(PlaybookError) as info:
        playbook(f"""
rules:
  - id: r
    on: checkin
    do:
      - {body}
""")
    text = str(info.value)
    assert message in text and "test.yaml:" in text


@settings(max_examples=25)
@given(
    stocks=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=4),
    weights=st.lists(st.integers(min_value=1, max_value=50), min_size=4, max_size=4),
    draws=st.integers(min_value=1, max_value=60),
)
def test_stock_never_goes_negative(stocks: list[int], weights: list[int], draws: int) -> None:
    prizes = ", ".join(
        f"{{name: p{i}, weight: {weights[i]}, stock: {s}}}" for i, s in enumerate(stocks)
    )
    pb = playbook(f"""
rules:
  - id: draw
    on: checkin
    do:
      - lottery: {{prizes: [{prizes}]}}
""")
    engine = Engine(pb)
    wins = Counter(name for _, name in _draws(engine, draws))
    left = engine.state.community("default").data.get("lotteries", {}).get("draw/do.0")
    for i, s in enumerate(stocks):
        assert wins[f"p{i}"] <= s
        if left is not None:
            assert left[i] == s - wins[f"p{i}"] >= 0
    assert sum(wins.values()) == min(draws, sum(stocks))
