"""Experiments (expr/experiments.py): deterministic weighted variants, `variant()` in
conditions and templates, exposures recorded once, and a report's conversion by variant
with a confidence interval — the same from SQLite as from the Python reference."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.api import load_text
from engage_rules.cli import main
from engage_rules.engine.core import Engine
from engage_rules.errors import PlaybookError
from engage_rules.expr.experiments import assign, shares
from engage_rules.model.events import event_from_obj
from engage_rules.store import MemoryStore, SQLiteStore
from engage_rules.store.reports import ReportQuery, StoreReports, tally_experiments
from engage_rules.testing import run_events
from engage_rules.tools.report.figures import wilson
from report_helpers import report_json

HEAD = "engage_rules: 1\nname: exp\ncommunity: {name: c1, timezone: UTC}\n"
PLAYBOOK = (
    HEAD
    + """\
experiments:
  copy:
    variants: {warm: 3, short: 1}
rules:
  - id: welcome
    on: member.joined
    do:
      - send: {text: "{{ 'hi!' if variant('copy') == 'warm' else 'hi' }}"}
  - id: warm-buyer
    on: purchase
    if: "variant('copy') == 'warm'"
    do:
      - tag: warm-buyer
"""
)


def _ev(i: str, type_: str, member: str, at: str = "2026-01-05T10:00:00+00:00") -> Any:
    return event_from_obj(
        {"id": i, "type": type_, "at": at, "community": "c1", "member": {"id": member}}
    )


@settings(max_examples=40, deadline=None)
@given(
    weights=st.lists(st.integers(1, 20), min_size=2, max_size=4),
    name=st.text(st.characters(codec="utf-8"), min_size=1, max_size=8),
)
def test_shares_follow_the_weights_and_assignment_is_deterministic(
    weights: list[int], name: str
) -> None:
    variants = {f"v{i}": float(w) for i, w in enumerate(weights)}
    table = shares(variants)
    assert table[-1][1] == 1.0
    members = [f"m{i}" for i in range(3000)]
    got = [assign(name, m, table) for m in members]
    assert got == [assign(name, m, table) for m in members]  # the same every time
    total = sum(weights)
    for variant, weight in variants.items():
        share = got.count(variant) / len(members)
        assert abs(share - weight / total) < 0.05, (variant, share, weight / total)


def test_another_experiment_does_not_move_anybody() -> None:
    table = shares({"a": 1, "b": 1})
    before = [assign("copy", f"m{i}", table) for i in range(200)]
    other = [assign("other", f"m{i}", table) for i in range(200)]
    assert before == [assign("copy", f"m{i}", table) for i in range(200)]
    assert before != other  # independent of each other


def test_variant_in_templates_and_conditions_with_one_exposure_per_member() -> None:
    playbook = load_text(PLAYBOOK, "exp.yaml")
    engine = Engine(playbook)
    members = [f"u{i}" for i in range(12)]
    events = [_ev(f"j{m}", "member.joined", m) for m in members]
    events += [_ev(f"p{m}", "purchase", m, "2026-01-06T10:00:00+00:00") for m in members]
    actions = run_events(engine, events)
    table = playbook.env.experiments["copy"]
    exposed = [(a.member, a.params["variant"], a.rule) for a in actions if a.type == "exposed"]
    assert exposed == [(m, assign("copy", m, table), "experiments.copy") for m in members]
    for m in members:
        warm = assign("copy", m, table) == "warm"
        (text,) = [a.params["text"] for a in actions if a.type == "send" and a.member == m]
        assert text == ("hi!" if warm else "hi")
        tagged = any(a.type == "tag" and a.member == m for a in actions)
        assert tagged == warm
        state = engine.state.communities["c1"].members[m]
        assert state.variants == {"copy": assign("copy", m, table)}
        assert state.snapshot(None)["variants"] == {"copy": assign("copy", m, table)}


def test_a_member_keeps_the_variant_of_the_first_exposure_when_weights_change() -> None:
    first = load_text(PLAYBOOK, "exp.yaml")
    engine = Engine(first)
    run_events(engine, [_ev(f"j{i}", "member.joined", f"u{i}") for i in range(20)])
    kept = {m: s.variants["copy"] for m, s in engine.state.communities["c1"].members.items()}
    changed = load_text(PLAYBOOK.replace("{warm: 3, short: 1}", "{warm: 1, short: 9}"), "x")
    again = Engine(changed, engine.state)
    actions = run_events(
        again, [_ev(f"p{i}", "purchase", f"u{i}", "2026-01-06T10:00:00+00:00") for i in range(20)]
    )
    assert not [a for a in actions if a.type == "exposed"]
    tagged = {a.member for a in actions if a.type == "tag"}
    assert tagged == {m for m, v in kept.items() if v == "warm"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("experiments: {copy: {variants: {a: 1}}}\n", "at least two variants"),
        ("experiments: {copy: {variants: {a: 1, b: 0}}}\n", "must be a number above 0"),
        ("experiments: {copy: {variants: {a: 1, 'b c': 1}}}\n", "variant name 'b c' must"),
        ("experiments: {'x y': {variants: {a: 1, b: 1}}}\n", "experiment name 'x y' must"),
        (
            "experiments: {copy: {variants: {a: 1, b: 1}}}\n"
            "rules: [{id: r, on: checkin, if: \"variant('cpy') == 'a'\", do: [{tag: x}]}]\n",
            "unknown experiment 'cpy'; did you mean 'copy'?",
        ),
        (
            "rules: [{id: r, on: checkin, if: \"variant(event.type) == 'a'\", do: [{tag: x}]}]\n",
            "the experiment name must be quoted",
        ),
    ],
)
def test_bad_experiments_are_refused_at_load(body: str, message: str) -> None:
    with pytest.raises(PlaybookError) as info:
        load_text(HEAD + body, "bad.yaml")
    assert any(message in str(p) for p in info.value.problems), [
        str(p) for p in info.value.problems
    ]


def test_wilson_interval() -> None:
    assert wilson(0, 0) is None
    low, high = wilson(35, 95) or (0, 0)
    assert (low, high) == (0.2783, 0.4688)
    assert wilson(0, 10) == (0.0, 0.2775)
    assert wilson(10, 10) == (0.7225, 1.0)


def _replay(store: Any) -> None:
    from engage_rules.shell.runner import Runner

    runner = Runner(load_text(PLAYBOOK, "exp.yaml"), store, batch_size=5)
    for i in range(60):
        day = 5 + i % 4
        runner.feed(_ev(f"j{i}", "member.joined", f"u{i}", f"2026-01-0{day}T10:00:00+00:00"))
    for i in range(0, 60, 4):  # purchases before and after some exposures
        runner.feed(_ev(f"p{i}", "purchase", f"u{i}", "2026-01-07T12:00:00+00:00"))
    runner.flush()


def test_the_split_by_variant_is_the_same_in_sql_and_in_python() -> None:
    memory, sql = MemoryStore(keep_history=True), SQLiteStore(":memory:")
    try:
        _replay(memory)
        _replay(sql)
        for start, end in [
            (date(2026, 1, 1), date(2026, 1, 31)),
            (date(2026, 1, 6), date(2026, 1, 6)),
            (date(2026, 1, 8), date(2026, 1, 9)),
        ]:
            for community in (None, "c1", "c2"):
                q = ReportQuery("UTC", community, start, end, goal="purchase")
                expected = memory.report_experiments(q)
                assert sql.report_experiments(q) == expected
                assert StoreReports(sql).report_experiments(q) == expected
        q = ReportQuery("UTC", None, date(2026, 1, 1), date(2026, 1, 31), goal="purchase")
        split = tally_experiments(q, memory.activity())
        assert sum(n for n, _ in split.values()) == 60
        assert sum(c for _, c in split.values()) == 15
        # An exposure is never activity: nobody is active from being exposed alone.
        assert not q.is_activity("experiment:copy=warm")
    finally:
        sql.close()


def test_the_report_shows_conversion_by_variant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = SQLiteStore(str(tmp_path / "state.db"))
    try:
        _replay(store)
    finally:
        store.close()
    r: Any = report_json(capsys, "--store", url, "--from", "2026-01-01", "--to", "2026-01-31")
    (e,) = r["experiments"]
    assert e["experiment"] == "copy" and e["goal"] == "purchase"
    assert [v["variant"] for v in e["variants"]] == ["warm", "short"]
    assert sum(v["exposed"] for v in e["variants"]) == 60
    for v in e["variants"]:
        assert v["ci95"][0] <= v["rate"] <= v["ci95"][1]
    assert main(["report", "--store", url, "--from", "2026-01-01", "--to", "2026-01-31"]) == 0
    out = capsys.readouterr().out
    assert "Experiments" in out and "95% interval" in out
