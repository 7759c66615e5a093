"""Segment sizes over time and conversion by segment (docs/reports.md, "Segment sizes";
features/segment_snapshot.py): the engine's daily snapshot at the community's local
midnight, worked out by hand on a small history, from the store rows, the JSON, the
terminal tables (English and Chinese) and the HTML page; the same from memory as from
SQLite; deterministic over replays, idempotent over a restart, and with no snapshot for
the days a live service was down.

The history (Asia/Shanghai, all at 10:00; segments ``posters`` = 5 points or more, a post
earns 5, and ``everyone``):
- 05-01: a joins (source "ad"), b joins;   05-02: a posts;
- 05-03: c joins; b posts spam and is banned;   05-04: a buys; c posts;
- 05-05: c leaves;   05-06: d joins and buys.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.engine import Engine
from engage_rules.features.segment_snapshot import SEGMENT_PREFIX, TIMER_KIND, members_in_pages
from engage_rules.i18n import use_language
from engage_rules.model.events import parse_event
from engage_rules.model.state import MemberState
from engage_rules.shell.runner import Runner
from engage_rules.store import MemoryStore, SQLiteStore
from engage_rules.store.records import SEGMENT_PREFIX as STORE_SEGMENT_PREFIX
from engage_rules.testing import event, playbook, run_cli
from engage_rules.tools.report.build import build_report
from engage_rules.tools.report.data import read_period, read_store
from engage_rules.tools.report.figures import Period, wilson
from engage_rules.tools.report.html import render_html

PLAYBOOK = """\
engage_rules: 1
name: segsizes
community: {name: Segs, timezone: Asia/Shanghai}
currencies: [points]
segments:
  posters: "member.points >= 5"
  everyone: "true"
rules:
  - id: post-points
    on: message.posted
    do:
      - award: {points: 5, reason: post}
  - id: no-spam
    on: message.posted
    if: "'spam' in event.data.text"
    do:
      - ban: {reason: spam}
"""

#: (type, member, local day, data)
HISTORY: list[tuple[str, str, str, dict[str, Any]]] = [
    ("member.joined", "a", "2026-05-01", {"source": "ad"}),
    ("member.joined", "b", "2026-05-01", {}),
    ("message.posted", "a", "2026-05-02", {"text": "hello"}),
    ("member.joined", "c", "2026-05-03", {}),
    ("message.posted", "b", "2026-05-03", {"text": "spam!"}),
    ("purchase", "a", "2026-05-04", {"amount": 3}),
    ("message.posted", "c", "2026-05-04", {"text": "hi"}),
    ("member.left", "c", "2026-05-05", {}),
    ("member.joined", "d", "2026-05-06", {}),
    ("purchase", "d", "2026-05-06", {"amount": 9}),
]
UNTIL = "2026-05-07T12:00:00+08:00"
PERIOD = ["--from", "2026-05-01", "--to", "2026-05-07"]

#: Each day's sizes by hand: b is banned from 05-03, c left on 05-05; 05-07 is not over.
SIZES: dict[str, dict[str, int | None]] = {
    "2026-05-01": {"everyone": 2, "posters": 0},
    "2026-05-02": {"everyone": 2, "posters": 1},
    "2026-05-03": {"everyone": 2, "posters": 1},
    "2026-05-04": {"everyone": 2, "posters": 2},
    "2026-05-05": {"everyone": 1, "posters": 1},
    "2026-05-06": {"everyone": 2, "posters": 1},
    "2026-05-07": {"everyone": None, "posters": None},
}
#: The first day each member was counted in each segment.
MARKS = [
    ("c", "a", "segment:everyone", "2026-05-01"),
    ("c", "a", "segment:posters", "2026-05-02"),
    ("c", "b", "segment:everyone", "2026-05-01"),
    ("c", "c", "segment:everyone", "2026-05-03"),
    ("c", "c", "segment:posters", "2026-05-04"),
    ("c", "d", "segment:everyone", "2026-05-06"),
]


def _objects() -> list[dict[str, Any]]:
    return [
        {
            "id": f"e{n}",
            "type": type_,
            "at": f"{day}T10:00:00+08:00",
            "community": "c",
            "member": {"id": member},
            "data": data,
        }
        for n, (type_, member, day, data) in enumerate(HISTORY)
    ]


def _replay(store: MemoryStore | SQLiteStore, until: str = UNTIL) -> Runner:
    runner = Runner(playbook(PLAYBOOK), store, batch_size=3)
    for obj in _objects():
        runner.feed(parse_event(json.dumps(obj)))
    runner.advance_to(datetime.fromisoformat(until))
    runner.flush()
    return runner


def _segment_totals(store: MemoryStore | SQLiteStore) -> list[tuple[str, str, str, int]]:
    return [row for row in store.activity_totals() if row[2].startswith(SEGMENT_PREFIX)]


def _expected_totals() -> list[tuple[str, str, str, int]]:
    return sorted(
        ("c", day, SEGMENT_PREFIX + name, n)
        for day, sizes in SIZES.items()
        for name, n in sizes.items()
        if n is not None
    )


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("segsizes")
    (folder / "playbook.yaml").write_text(PLAYBOOK, encoding="utf-8")
    lines = "\n".join(json.dumps(o) for o in _objects()) + "\n"
    (folder / "events.jsonl").write_text(lines, encoding="utf-8")
    url = f"sqlite:///{folder / 'state.db'}"
    result = run_cli(
        "replay",
        folder / "playbook.yaml",
        folder / "events.jsonl",
        "--store",
        url,
        "--until",
        UNTIL,
    )
    assert result.returncode == 0, result.stderr
    return url


def _report(store_url: str, *args: str) -> dict[str, Any]:
    result = run_cli("report", "--store", store_url, *PERIOD, "--json", *args)
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


# -- what the engine records -------------------------------------------------------------


def test_the_prefix_is_the_same_in_the_engine_and_the_store() -> None:
    assert SEGMENT_PREFIX == STORE_SEGMENT_PREFIX == "segment:"


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_snapshot_records_sizes_and_first_days_by_hand(kind: str) -> None:
    store = MemoryStore(keep_history=True) if kind == "memory" else SQLiteStore(":memory:")
    _replay(store)
    assert sorted(_segment_totals(store)) == _expected_totals()
    assert sorted(store.member_marks()) == sorted([*MARKS, ("c", "a", "source:ad", "2026-05-01")])


def test_the_snapshot_takes_no_action_and_changes_no_member() -> None:
    engine = Engine(playbook(PLAYBOOK))
    for obj in _objects()[:2]:
        engine.process(parse_event(json.dumps(obj)))
    decisions = engine.advance_to(datetime.fromisoformat("2026-05-02T00:00:00+08:00"))
    [d] = [d for d in decisions if d.cause.startswith("segments:c:")]
    assert d.cause == "segments:c:2026-05-02T00:00"
    assert d.actions == [] and d.ledger == [] and d.touched == set() and not d.errors
    assert d.report_totals == [
        ("c", "2026-05-01", "segment:posters", 0),
        ("c", "2026-05-01", "segment:everyone", 2),
    ]
    assert sorted(d.report_marks) == [
        ("c", "a", "segment:everyone", "2026-05-01"),
        ("c", "b", "segment:everyone", "2026-05-01"),
    ]
    # The next midnight is armed, once.
    [timer] = [t for t in d.timers_added if t.kind == TIMER_KIND]
    assert timer.id == "segments:c:2026-05-03T00:00"
    assert timer.due == datetime.fromisoformat("2026-05-03T00:00:00+08:00").timestamp()


def test_a_playbook_without_segments_arms_no_snapshot() -> None:
    engine = Engine(playbook(PLAYBOOK.split("segments:")[0] + "rules: []\n"))
    decisions = engine.process(parse_event(json.dumps(_objects()[0])))
    assert decisions and not [t for d in decisions for t in d.timers_added]


def test_replays_are_deterministic_and_a_restart_takes_no_snapshot_twice(tmp_path: Path) -> None:
    one = SQLiteStore(":memory:")
    _replay(one)
    # The same history in two runs on one file: stopped on 05-04 at noon, then resumed.
    path = tmp_path / "state.db"
    first = SQLiteStore(str(path))
    runner = Runner(playbook(PLAYBOOK), first, batch_size=3)
    objects = _objects()
    for obj in objects[:6]:
        runner.feed(parse_event(json.dumps(obj)))
    runner.advance_to(datetime.fromisoformat("2026-05-04T12:00:00+08:00"))
    runner.flush()
    first.close()
    again = SQLiteStore(str(path))
    runner = Runner(playbook(PLAYBOOK), again, batch_size=3)
    assert runner.engine.start() == []  # the snapshot is armed already
    for obj in objects:  # every event again: those processed are duplicates
        runner.feed(parse_event(json.dumps(obj)))
    runner.advance_to(datetime.fromisoformat(UNTIL))
    runner.flush()
    assert sorted(_segment_totals(again)) == sorted(_segment_totals(one)) == _expected_totals()
    assert again.member_marks() == one.member_marks()
    again.close()


def test_a_snapshot_lost_in_a_crash_is_taken_again_once(tmp_path: Path) -> None:
    """A crash after the midnight of 05-03 but before its commit: the snapshot was never
    stored, so the restarted replay takes it (and the next ones) exactly once."""
    path = tmp_path / "state.db"
    store = SQLiteStore(str(path))
    runner = Runner(playbook(PLAYBOOK), store, batch_size=10_000)
    objects = _objects()
    for obj in objects[:3]:
        runner.feed(parse_event(json.dumps(obj)))
    runner.flush()  # durable up to 05-02 10:00
    for obj in objects[3:5]:
        runner.feed(parse_event(json.dumps(obj)))
    runner.advance_to(datetime.fromisoformat("2026-05-04T01:00:00+08:00"))
    assert any(d.report_totals for d in runner._pending)  # taken, never committed
    store.close()  # the crash: what was pending is lost
    again = SQLiteStore(str(path))
    assert {day for _c, day, _t, _n in _segment_totals(again)} == {"2026-05-01"}
    runner = Runner(playbook(PLAYBOOK), again, batch_size=3)
    for obj in objects:
        runner.feed(parse_event(json.dumps(obj)))
    runner.advance_to(datetime.fromisoformat(UNTIL))
    runner.flush()
    assert sorted(_segment_totals(again)) == _expected_totals()
    assert sorted(again.member_marks()) == sorted([*MARKS, ("c", "a", "source:ad", "2026-05-01")])
    again.close()


def test_after_downtime_the_missed_days_have_no_snapshot() -> None:
    engine = Engine(playbook(PLAYBOOK))
    for obj in _objects()[:3]:
        engine.process(parse_event(json.dumps(obj)))
    # Down from 05-02 10:00 to 05-05 09:00: midnights of 05-03, 05-04, 05-05 missed.
    decisions = engine.resume(datetime.fromisoformat("2026-05-05T09:00:00+08:00"))
    assert not [row for d in decisions for row in d.report_totals]
    later = engine.advance_to(datetime.fromisoformat("2026-05-06T00:00:00+08:00"))
    assert [row for d in later for row in d.report_totals] == [
        ("c", "2026-05-05", "segment:posters", 1),
        ("c", "2026-05-05", "segment:everyone", 2),
    ]


def test_a_segment_that_fails_for_a_member_does_not_count_them() -> None:
    text = PLAYBOOK.replace('everyone: "true"', 'odd: "member.attrs.size > 1"')
    engine = Engine(playbook(text))
    engine.process(event("member.joined", "a", "2026-05-01T10:00:00+08:00", community="c"))
    [d] = engine.advance_to(datetime.fromisoformat("2026-05-02T00:00:00+08:00"))
    sizes = {row[2]: row[3] for row in list(d.report_totals)}
    assert sizes == {"segment:posters": 0, "segment:odd": 0}
    assert [e.rule for e in d.errors] == ["segments"]
    assert "segment 'odd' for member a" in next(iter(d.errors)).message


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["member.joined", "member.left", "message.posted"]),
            st.sampled_from(["u1", "u2", "u3", "u4"]),
            st.integers(0, 6),
            st.integers(0, 1439),
        ),
        max_size=25,
    )
)
def test_everyone_is_the_members_in_the_community_at_each_midnight(
    items: list[tuple[str, str, int, int]],
) -> None:
    """Invariant: ``everyone`` on day D counts the members seen by the end of D whose
    last join or leave by then is a join (a post from an unknown member adds them; a
    post after a leave does not bring them back)."""
    start = datetime.fromisoformat("2026-05-01T00:00:00+08:00")
    timed = sorted((start + timedelta(days=d, minutes=m), t, u) for t, u, d, m in items)
    engine = Engine(playbook(PLAYBOOK.replace("'spam'", "'never-sent-text'")))
    decisions = []
    for n, (at, type_, member) in enumerate(timed):
        data = {"text": "x"} if type_ == "message.posted" else {}
        decisions.extend(engine.advance_to(at))
        decisions.extend(
            engine.process(event(type_, member, at, id=f"e{n}", community="c", data=data))
        )
    decisions.extend(engine.advance_to(start + timedelta(days=8)))
    sizes = {
        day: n for d in decisions for _c, day, t, n in d.report_totals if t == "segment:everyone"
    }
    for k in range(7):
        end = start + timedelta(days=k + 1)
        state: dict[str, bool] = {}
        for at, type_, member in timed:
            if at >= end:
                break
            if type_ == "message.posted":
                state.setdefault(member, True)  # a post does not undo a leave
            else:
                state[member] = type_ == "member.joined"
        day = (start + timedelta(days=k)).date().isoformat()
        if state:
            assert sizes[day] == sum(state.values()), day
        else:
            assert sizes.get(day, 0) == 0


# -- the report ------------------------------------------------------------------------------


def test_segment_sizes_in_the_json_by_hand(store_url: str) -> None:
    s = _report(store_url)["segment_sizes"]
    assert s == {
        "segments": ["everyone", "posters"],
        "per_day": SIZES,
        "last": {"everyone": 2, "posters": 1},
    }
    # One community: the same (the store holds one).
    assert _report(store_url, "--community", "c")["segment_sizes"] == s
    # A period with no snapshot (its only day is not over): no segment, nothing per day.
    result = run_cli(
        "report", "--store", store_url, "--from", "2026-05-07", "--to", "2026-05-07", "--json"
    )
    assert result.returncode == 0, result.stderr
    none = json.loads(result.stdout)["segment_sizes"]
    assert none == {"segments": [], "per_day": {}, "last": {}}


def test_conversion_by_segment_by_hand(store_url: str) -> None:
    by = _report(store_url)["conversion_by"]
    # everyone: a (bought 05-04), b, c, d (joined and bought 05-06): 2 of 4; posters: a
    # (bought after reaching 5 points on 05-02) and c: 1 of 2.
    assert by["segment"] == [
        {
            "value": "everyone",
            "members": 4,
            "converted": 2,
            "rate": 0.5,
            "ci95": list(wilson(2, 4) or ()),
        },
        {
            "value": "posters",
            "members": 2,
            "converted": 1,
            "rate": 0.5,
            "ci95": list(wilson(1, 2) or ()),
        },
    ]
    assert by["source"][0]["value"] == "ad"
    # A period before a reached 5 points: posters has nobody yet.
    early = _report(store_url, "--to", "2026-05-01")["conversion_by"]["segment"]
    assert [(r["value"], r["members"]) for r in early] == [("everyone", 2)]


def test_memory_and_sqlite_give_the_same_figures(store_url: str) -> None:
    store = MemoryStore(keep_history=True)
    _replay(store)
    data = read_store(store, None)
    period = Period(datetime(2026, 5, 1).date(), datetime(2026, 5, 7).date())
    memory = build_report(data, read_period(store, data, period))
    sqlite = _report(store_url)
    assert memory["segment_sizes"] == sqlite["segment_sizes"]
    assert memory["conversion_by"] == sqlite["conversion_by"]


def test_the_terminal_report_in_english_and_chinese(store_url: str) -> None:
    english = run_cli("report", "--store", store_url, *PERIOD)
    assert english.returncode == 0, english.stderr
    out = english.stdout
    assert "Segment sizes" in out and "Conversion by source, tag and segment" in out
    assert "│ 2026-05-04   │        2 │       2 │" in out
    assert "│ 2026-05-07 * │        – │       – │" in out
    assert "│ posters  │       2 │         1 │ 50.0% │" in out
    chinese = run_cli("--lang", "zh_CN", "report", "--store", store_url, *PERIOD)
    assert chinese.returncode == 0, chinese.stderr
    for text in ("分群人数", "按来源、标签和分群的转化", "┃ 分群 "):
        assert text in chinese.stdout, text


def test_a_report_without_segments_says_so(tmp_path: Path) -> None:
    store = MemoryStore(keep_history=True)
    runner = Runner(playbook(PLAYBOOK.split("segments:")[0] + "rules: []\n"), store)
    runner.feed(event("member.joined", "a", "2026-05-01T10:00:00+08:00", community="c"))
    runner.advance_to(datetime.fromisoformat(UNTIL))
    runner.flush()
    data = read_store(store, None)
    period = Period(datetime(2026, 5, 1).date(), datetime(2026, 5, 7).date())
    report = build_report(data, read_period(store, data, period))
    assert report["segment_sizes"] == {"segments": [], "per_day": {}, "last": {}}
    assert "No segment was counted in the period." in render_html(report)
    with use_language("zh_CN"):
        assert "统计期内没有统计到任何分群。" in render_html(report)


def test_the_html_report_charts_the_sizes(store_url: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = run_cli("report", "--store", store_url, *PERIOD, "--html", page)
    assert result.returncode == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    assert '<section id="segment_sizes">' in html
    # 6 days counted, 2 segments: 12 bars; the day not over is in the table only.
    assert 'data-chart="segment_sizes" data-marks="12"' in html
    assert "<td>–</td>" in html
    with use_language("zh_CN"):
        chinese = render_html(_report(store_url))
    assert "每天结束时各分群的成员人数" in chinese and "分群人数" in chinese


def test_a_snapshot_reads_stored_members_a_page_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    store = SQLiteStore(str(path))
    _replay(store)
    store.close()
    again = SQLiteStore(str(path))
    community = again.open().community("c")
    assert not community.members  # members are read on demand
    source = community.source
    assert source is not None
    pages: list[list[str]] = []
    load = source.load_members

    def spy(name: str, members: Sequence[str]) -> dict[str, MemberState]:
        pages.append(list(members))
        return load(name, members)

    monkeypatch.setattr(source, "load_members", spy)
    monkeypatch.setattr(source, "load_member", None)  # never one query per member
    read = [m.id for m in members_in_pages(community, page=3)]
    assert read == ["a", "b", "c", "d"]
    assert pages == [["a", "b", "c"], ["d"]]
    assert not community.members  # none kept
    again.close()


def test_the_snapshot_benchmark_runs() -> None:
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, str(root / "bench" / "bench_segments.py"), "--members", "40"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    figures = json.loads(result.stdout.splitlines()[-1])
    assert figures["members"] == 40
    assert figures["sizes"] == {"segment:posters": 20, "segment:quiet": 0}
