"""Fair draws: entrants entered by rules, winners drawn per period or on an event,
reproducible from a seed, announced with names (docs/language.md, "Draws")."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules import Engine, Event
from engage_rules.errors import PlaybookError
from engage_rules.features.draws import pick_winners, seed_text
from engage_rules.model.decision import ActionRecord
from engage_rules.shell.runner import Runner
from engage_rules.testing import T0, event, open_store
from helpers import playbook, run

DAY = 86400

DRAWS = """
draws:
  weekly:
    winners: 2
    period: week
    seed: 2026春季
    do: [{award: {points: 50, reason: 周抽奖}}]
  now:
    winners: 1
rules:
  - id: enter
    on: message.posted
    if: "event.data.text | length >= 5"
    do: [{enter_draw: weekly}, {enter_draw: now}]
  - id: bonus
    on: checkin
    do: [{enter_draw: {draw: now, weight: 3}}]
  - id: go
    on: custom.draw
    do: [{run_draw: now}]
    refused: [{broadcast: {text: "无人参加 {{ refusal.reason }}"}}]
  - id: announce
    on: draw.closed
    do:
      - broadcast:
          text: "{{ event.data.draw }}: {% for w in event.data.winners %}{{ w.name }};{% endfor %}"
"""


def _post(member: str, at: int, text: str = "hello world", name: str | None = None) -> Event:
    return event("message.posted", member, at, id=f"p-{member}-{at}", name=name, text=text)


def test_a_period_is_drawn_when_it_ends_with_names_and_prizes() -> None:
    engine = Engine(playbook(DRAWS))
    names = {"u1": "小明", "u2": "小红", "u3": "阿强"}
    for i, (mid, name) in enumerate(names.items()):
        run(engine, _post(mid, i, name=name))
    run(engine, _post("u4", 10, text="hi"))  # too short: not entered
    pool = engine.state.community("default").data["draws"]["weekly"]["open"]["2026-W10"]
    assert pool["entrants"] == {"u1": 1, "u2": 1, "u3": 1}
    done = engine.advance_to(T0 + timedelta(days=8))
    actions = [a for d in done for a in d.actions]
    expected = pick_winners(seed_text("2026春季", "weekly", "2026-W10"), pool["entrants"], 2)
    awards = [(a.member, a.params["amount"]) for a in actions if a.type == "award"]
    assert awards == [(m, 50) for m in expected]
    announce = [a.params["text"] for a in actions if a.type == "broadcast"]
    assert announce == ["weekly: " + "".join(f"{names[m]};" for m in expected)]
    closed = engine.state.community("default").data["draws"]["weekly"]["closed"]["2026-W10"]
    assert closed["entrants"] == 3 and [w["member"] for w in closed["winners"]] == expected


def test_run_draw_draws_the_pool_on_an_event_and_starts_a_new_round() -> None:
    engine = Engine(playbook(DRAWS))
    run(engine, _post("u1", 0), _post("u2", 1))
    first = run(engine, event("custom.draw", "admin", 5, id="d1"))
    assert [a.type for a in first] == ["run_draw", "broadcast"]
    assert first[0].params == {"draw": "now", "pool": "round-1", "entrants": 2}
    data = engine.state.community("default").data["draws"]["now"]
    assert data["rounds"] == 1 and data["open"] == {}
    refused = run(engine, event("custom.draw", "admin", 6, id="d2"))
    assert [a.params["text"] for a in refused] == ["无人参加 no_entrants"]
    run(engine, _post("u3", 7))
    assert run(engine, event("custom.draw", "admin", 8, id="d3"))[0].params["pool"] == "round-2"


def test_one_entry_per_member_unless_weighted() -> None:
    engine = Engine(playbook(DRAWS))
    run(engine, _post("u1", 0), _post("u1", 1), _post("u1", 2))
    run(engine, event("checkin", "u2", 3, id="c1"), event("checkin", "u2", 4, id="c2"))
    pool = engine.state.community("default").data["draws"]["now"]["open"]["round-1"]
    assert pool["entrants"] == {"u1": 1, "u2": 6}


def test_a_late_entry_for_a_drawn_period_counts_for_nothing() -> None:
    engine = Engine(playbook(DRAWS))
    run(engine, _post("u1", 0))
    engine.advance_to(T0 + timedelta(days=8))
    run(engine, _post("u2", 8 * DAY + 10), _post("u3", 60))  # u3's event is dated in W10
    data = engine.state.community("default").data["draws"]["weekly"]
    assert list(data["open"]) == ["2026-W11"] and data["open"]["2026-W11"]["entrants"] == {"u2": 1}


def test_pick_winners_is_a_function_of_the_seed_and_the_entrants() -> None:
    entrants = {f"u{i}": 1 for i in range(50)}
    a = pick_winners("s", entrants, 5)
    assert a == pick_winners("s", dict(reversed(list(entrants.items()))), 5)
    assert len(set(a)) == 5
    assert a != pick_winners("t", entrants, 5)
    assert pick_winners("s", {"u1": 1}, 3) == ["u1"]
    assert pick_winners("s", {}, 3) == []


def test_draws_are_uniform_and_follow_weights() -> None:
    # Deterministic (fixed seeds): 6,000 one-winner draws among 3 members, weights 1:1:2.
    wins = Counter(pick_winners(f"seed-{i}", {"a": 1, "b": 1, "c": 2}, 1)[0] for i in range(6000))
    assert 1350 < wins["a"] < 1650 and 1350 < wins["b"] < 1650 and 2800 < wins["c"] < 3200


def test_draw_state_and_its_timer_survive_a_sqlite_restart(tmp_path: Path) -> None:
    pb = playbook(DRAWS)
    db = tmp_path / "s.db"
    first = Runner(pb, open_store(f"sqlite:///{db}"))
    first.feed(_post("u1", 0))
    first.feed(_post("u2", 1))
    first.close()
    second = Runner(pb, open_store(f"sqlite:///{db}"))
    assert [t.id for t in second.state.timers if t.kind == "draw_close"] == [
        "draw_close:default:weekly:2026-W10"
    ]
    committed: list[ActionRecord] = []
    second.on_commit = committed.extend
    second.advance_to(T0 + timedelta(days=8))
    second.close()
    assert sorted(a.member or "" for a in committed if a.type == "award") == ["u1", "u2"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "draws: {d: {winners: 0}}\nrules: []\n",
            "test.yaml:4:22: 'draws.d.winners' must be at least 1",
        ),
        ("draws: {d: {winners: 1, period: year}}\nrules: []\n", "test.yaml:4:33: 'draws.d.period'"),
        (
            "draws: {d: {winners: 1}}\nrules: [{id: r, on: checkin, do: [{enter_draw: x}]}]\n",
            "test.yaml:5:48: unknown draw 'x' (draws: d)",
        ),
        (
            "draws: {d: {winners: 1}}\n"
            "rules: [{id: r, on: checkin, do: [{enter_draw: {draw: d, weight: 0}}]}]\n",
            "test.yaml:5:66: weight must be a whole number from 1",
        ),
        (
            "rules: [{id: r, on: checkin, do: [{run_draw: x}]}]\n",
            "test.yaml:4:46: unknown draw 'x' (draws: none",
        ),
    ],
)
def test_bad_draw_input_is_a_located_error(body: str, expected: str) -> None:
    with pytest.raises(PlaybookError) as info:
        playbook(body)
    problems = [str(p) for p in info.value.problems]
    assert any(p.startswith(expected) for p in problems), problems


# -- properties --------------------------------------------------------------------------------

_entrants = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=4), st.integers(1, 5), max_size=30
)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(_entrants, st.integers(1, 40), st.text(max_size=10))
def test_a_member_never_wins_twice_and_winners_are_entrants(
    entrants: dict[str, int], n: int, seed: str
) -> None:
    winners = pick_winners(seed, entrants, n)
    assert len(winners) == len(set(winners)) == min(n, len(entrants))
    assert set(winners) <= set(entrants)


_posts = st.lists(
    st.tuples(st.sampled_from(["u1", "u2", "u3", "u4", "u5"]), st.integers(0, 20 * DAY)),
    max_size=25,
)


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(_posts)
def test_the_same_events_draw_the_same_winners(posts: list[tuple[str, int]]) -> None:
    def winners() -> list[object]:
        engine = Engine(playbook(DRAWS))
        for mid, at in sorted(posts, key=lambda p: p[1]):
            run(engine, _post(mid, at))
        engine.advance_to(T0 + timedelta(days=30))
        data = engine.state.community("default").data.get("draws", {}).get("weekly", {})
        return sorted(data.get("closed", {}).items())

    first = winners()
    assert first == winners()
    for _, closed in first:
        members = [w["member"] for w in closed["winners"]]
        assert len(members) == len(set(members)) == min(2, closed["entrants"])


def test_run_draw_pays_each_winner_with_a_distinct_action_key() -> None:
    body = DRAWS.replace(
        "  now:\n    winners: 1\n", "  now:\n    winners: 2\n    do: [{award: {points: 7}}]\n"
    )
    engine = Engine(playbook(body))
    run(engine, _post("u1", 0), _post("u2", 1), _post("u3", 2))
    actions = run(engine, event("custom.draw", "admin", 5, id="d1"))
    awards = [a for a in actions if a.type == "award"]
    assert len(awards) == 2 and len({a.member for a in awards}) == 2
    assert len({a.key for a in awards}) == 2 and all(a.rule == "draws.now" for a in awards)
