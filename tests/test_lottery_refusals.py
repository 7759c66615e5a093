"""A prize whose actions are refused (a `spend` the member cannot afford) takes nothing:
the prize's stock is kept, the draw is not announced, and the rule's `else:` runs."""

from __future__ import annotations

from engage_rules import Engine
from engage_rules.testing import event
from helpers import playbook, run

PB = """
rules:
  - id: paid-draw
    on: checkin
    do:
      - lottery:
          prizes:
            - name: 抱枕
              weight: 1
              stock: 3
              do: [{spend: {points: 100, reason: 抽奖券}}, {tag: winner}]
    else:
      - reply: {text: 积分不足}
"""


def test_a_refused_spend_inside_a_prize_keeps_the_stock_and_runs_else() -> None:
    engine = Engine(playbook(PB))
    actions = run(engine, event("checkin", "u1", 0, id="e1"))
    assert [a.type for a in actions] == ["reply"]
    assert actions[0].params["text"] == "积分不足"
    stock = engine.state.community("default").data["lotteries"]["paid-draw/do.0"]
    assert stock == [3]
    assert "winner" not in engine.state.community("default").member("u1").tags


def test_an_affordable_prize_takes_its_stock_and_runs_its_actions() -> None:
    earn = "  - id: earn\n    on: message.posted\n    do: [{award: {points: 150}}]\n"
    engine = Engine(playbook(PB + earn))
    run(engine, event("message.posted", "u1", 0, id="m1"))
    actions = run(engine, event("checkin", "u1", 1, id="e1"))
    assert [a.type for a in actions] == ["lottery", "spend", "tag"]
    stock = engine.state.community("default").data["lotteries"]["paid-draw/do.0"]
    assert stock == [2]
    assert engine.state.community("default").member("u1").balances["points"] == 50


REFUSED_PB = """
rules:
  - id: buy
    on: checkin
    do: [{spend: {points: 100}}, {tag: buyer}]
    refused:
      - reply: {text: "不能兑换: {{ refusal.reason }} ({{ refusal.balance }}/{{ refusal.amount }})"}
    else:
      - reply: {text: 条件不满足}
"""


def test_a_refused_action_runs_the_refused_branch_with_the_reason() -> None:
    engine = Engine(playbook(REFUSED_PB))
    actions = run(engine, event("checkin", "u1", 0, id="e1"))
    assert [(a.type, a.params["text"]) for a in actions] == [
        ("reply", "不能兑换: insufficient_balance (0/100)")
    ]


def test_a_false_condition_runs_else_not_refused() -> None:
    pb = REFUSED_PB.replace("on: checkin\n", "on: checkin\n    if: member.points > 5\n")
    actions = run(Engine(playbook(pb)), event("checkin", "u1", 0, id="e1"))
    assert [a.params["text"] for a in actions] == ["条件不满足"]


def test_a_refused_lottery_prize_runs_the_refused_branch() -> None:
    pb = PB.replace("    else:\n", "    refused:\n").replace(
        "积分不足", "'{{ refusal.action }}: {{ refusal.reason }}'"
    )
    actions = run(Engine(playbook(pb)), event("checkin", "u1", 0, id="e1"))
    assert [a.params["text"] for a in actions] == ["lottery: insufficient_balance"]


def test_refusal_is_only_available_in_actions() -> None:
    import pytest

    from engage_rules.errors import PlaybookError

    with pytest.raises(PlaybookError, match="refusal"):
        playbook(REFUSED_PB.replace("on: checkin\n", "on: checkin\n    if: refusal\n"))


BRANCHES_PB = """
rules:
  - id: grant
    on: message.posted
    do: [{award: {points: 3}}]
  - id: buy
    on: [checkin, message.posted]
    if: "event.type == 'checkin' or member.points > 100"
    do: [{spend: {points: 5}}, {tag: bought}]
    refused: [{tag: "refused-{{ refusal.reason }}"}]
    else: [{tag: not-asked}]
  - id: buy-without-refused
    on: checkin
    do: [{spend: {points: 1}}]
    else: [{tag: fallback}]
  - id: after
    on: checkin
    if: "member.points >= 2"
    do: [{tag: still-rich}]
"""


def test_generated_and_traced_dispatch_take_the_same_branches() -> None:
    from engage_rules.testing import event as ev

    pb = playbook(BRANCHES_PB)
    assert "REFUSED" in pb.dispatch_source
    decided = []
    for trace in (False, True):
        engine = Engine(pb, trace=trace)
        out = []
        for i, (kind, member) in enumerate(
            [
                ("checkin", "u1"),
                ("message.posted", "u1"),
                ("message.posted", "u1"),
                ("checkin", "u1"),
            ]
        ):
            for d in engine.process(ev(kind, member, i, id=f"e{i}")):
                out.append(([a.to_json() for a in d.actions], [e.to_json() for e in d.errors]))
        decided.append(out)
    assert decided[0] == decided[1]
    tags = [a["params"]["name"] for out in decided[0] for a in out[0] if a["type"] == "tag"]
    # (a tag the member has already is not emitted again: one `not-asked`)
    assert tags == ["refused-insufficient_balance", "fallback", "not-asked", "bought"]


def test_explain_reports_the_refused_outcome_and_the_refusal() -> None:
    from engage_rules.testing import event as ev

    engine = Engine(playbook(REFUSED_PB), trace=True)
    trace = engine.process(ev("checkin", "u1", 0, id="e1"))[-1].traces[0]
    rule = next(r for r in trace["rules"] if r["rule"] == "buy")
    assert rule["outcome"] == "refused_branch"
    assert rule["refusal"]["reason"] == "insufficient_balance"
    assert [a["type"] for a in rule["actions"]] == ["reply"]
