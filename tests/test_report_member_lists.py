"""Member lists (store/member_lists.py, store/sqlite_member_lists.py,
store/postgres_member_lists.py, tools/report/lists.py): worked out by hand on the history
of report_helpers.py, the SQL of SQLite and PostgreSQL equal to the Python reference on
any log, and in the report (terminal, JSON).  Exports: test_report_exports.py."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.cli import main
from engage_rules.store import MemoryStore, SQLiteStore
from engage_rules.store.member_lists import (
    LIST_KINDS,
    MemberListQuery,
    StoreMemberLists,
    member_list_source,
)
from engage_rules.store.reports import ReportQuery
from engage_rules.tools.report.figures import Period, member_figures
from report_helpers import replay_into_sqlite, report_json
from test_report_sources import TYPES, ZONES, Item, _queries, _replay, random_log

#: A period ending a week after the history's last posts: a, e and c have gone silent.
LATE = ("--from", "2026-03-02", "--to", "2026-03-29")
PERIOD = ("--from", "2026-03-02", "--to", "2026-03-22")
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@pytest.fixture
def store_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    return replay_into_sqlite(tmp_path, capsys)


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["member"] for r in rows]


def test_member_lists_by_hand(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    r: Any = report_json(capsys, "--store", store_url, *LATE)
    lists = r["member_lists"]
    assert lists["limit"] == 10
    # On 03-29: c last active 03-18 (11 days), a and e 03-22 (7 days): newly silent,
    # the longest silent first; d posted on 03-23 (6 days: not silent); b left.
    assert lists["silent"] == [
        {
            "member": "c",
            "name": None,
            "community": "club",
            "last_active": "2026-03-18",
            "days_silent": 11,
        },
        {
            "member": "a",
            "name": None,
            "community": "club",
            "last_active": "2026-03-22",
            "days_silent": 7,
        },
        {
            "member": "e",
            "name": None,
            "community": "club",
            "last_active": "2026-03-22",
            "days_silent": 7,
        },
    ]
    # z: last active 02-20, 37 days before 03-29: churned (the churned figure counts it).
    assert _ids(lists["churned"]) == ["z"] and r["members"]["churned"] == 1
    assert lists["churned"][0]["days_silent"] == 37
    # Top contributors of 03-02..03-22: a 5 posts/check-ins on 5 days (25 points: 5 posts),
    # c 3 posts and a check-in (15 points), e 2 posts, b 1 post.
    top: Any = report_json(capsys, "--store", store_url, *PERIOD)["member_lists"]["top"]
    assert [(t["member"], t["events"], t["active_days"], t["points"]) for t in top] == [
        ("a", 5, 5, 25),
        ("c", 4, 4, 15),
        ("e", 2, 2, 10),
        ("b", 1, 1, 5),
    ]


def test_churn_after_moves_members_from_silent_to_churned(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lists: Any = report_json(capsys, "--store", store_url, *LATE, "--churn-after", "10d")
    # c (11 days) is churned at 10 days; a and e (7 days) are still newly silent.
    assert _ids(lists["member_lists"]["silent"]) == ["a", "e"]
    assert _ids(lists["member_lists"]["churned"]) == ["c", "z"]  # most recently active first
    assert lists["members"]["churned"] == 2


def test_list_size_cuts_every_list_and_zero_leaves_them_out(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r: Any = report_json(capsys, "--store", store_url, *PERIOD, "--list-size", "2")
    assert _ids(r["member_lists"]["top"]) == ["a", "c"] and r["member_lists"]["limit"] == 2
    assert "member_lists" not in report_json(
        capsys, "--store", store_url, *PERIOD, "--list-size", "0"
    )


def test_the_terminal_report_lists_members(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--store", store_url, *LATE]) == 0
    out = capsys.readouterr().out
    assert "Newly silent members" in out and "Churned members" in out
    assert "Top contributors" in out and "days silent" in out
    silent = out[out.index("Newly silent members") : out.index("Churned members")]
    assert re.search(r"│ c\s+│\s+│ club\s+│\s+2026-03-18 │\s+11 │", silent), silent


# -- the SQL and the Python reference agree ----------------------------------------------------


def _lists(store: Any, q: ReportQuery, churn: int, limit: int | None) -> list[Any]:
    source = member_list_source(store)
    return [
        list(source.report_member_list(MemberListQuery(q, kind, churn, limit)))
        for kind in LIST_KINDS
    ]


def _assert_lists_agree(tz: str, items: list[Item]) -> None:
    memory, sql = MemoryStore(keep_history=True), SQLiteStore(":memory:")
    try:
        _replay(tz, items, memory)
        _replay(tz, items, sql)
        generic = StoreMemberLists(sql)  # the reference over the SQLite store's lists
        for q in _queries(tz)[::2]:
            for churn in (7, 12, 30):
                expected = _lists(memory, q, churn, None)
                assert _lists(sql, q, churn, None) == expected, (q, churn)
                assert _lists(generic, q, churn, None) == expected, (q, churn)
                assert _lists(sql, q, churn, 2) == [rows[:2] for rows in expected]
                silent, churned, top = expected
                # The churned list is who the churned figure counts.
                figures = member_figures(memory.report_members(q), _period(q), churn)
                assert len(churned) == figures["churned"], (q, churn)
                assert all(7 <= (q.end - s.last_active).days < churn for s in silent)
                assert all(q.start <= s.last_active for s in silent)
                ranks = [(-t.events, -t.active_days, t.community, t.member) for t in top]
                assert ranks == sorted(ranks) and all(t.events > 0 for t in top)
    finally:
        sql.close()


def _period(q: ReportQuery) -> Period:
    return Period(q.start, q.end)


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Kathmandu"])
def test_sql_and_python_lists_agree(tz: str) -> None:
    _assert_lists_agree(tz, random_log(3))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tz=st.sampled_from(list(ZONES)),
    items=st.lists(
        st.tuples(
            st.sampled_from(TYPES),
            st.sampled_from(["u1", "u2", "u3", "u4"]),
            st.sampled_from(["c1", "c2"]),
            st.integers(0, 35),
            st.integers(0, 1439),
        ),
        max_size=40,
    ),
)
def test_sql_and_python_lists_agree_on_any_log(tz: str, items: list[Item]) -> None:
    _assert_lists_agree(tz, items)


def test_a_list_after_the_report_reads_the_store_as_it_is_now() -> None:
    """The SQLite store keeps the report's member table for its lists: a write in between
    (of this store, or of another connection) makes it fill the table again."""
    tz = "UTC"
    sql = SQLiteStore(":memory:")
    try:
        _replay(tz, random_log(5)[:80], sql)
        first = ZONES[tz]
        q = ReportQuery(tz, None, first, first + timedelta(days=60))
        sql.report_members(q)  # keeps the table for this query
        before = _lists(sql, q, 30, None)
        _replay(tz, random_log(5)[80:], sql)  # more events
        memory = MemoryStore(keep_history=True)
        _replay(tz, random_log(5)[:80], memory)
        _replay(tz, random_log(5)[80:], memory)
        sql.report_members(q)
        assert _lists(sql, q, 30, None) == _lists(memory, q, 30, None) != before
    finally:
        sql.close()


def test_in_chinese_the_lists_have_chinese_titles(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--lang", "zh_CN", "report", "--store", store_url, *LATE]) == 0
    out = capsys.readouterr().out
    assert "新近沉默的成员" in out and "已流失的成员" in out and "活跃贡献者" in out
    assert "沉默天数" in out


@pytest.mark.parametrize("tz", ["America/Sao_Paulo"])
def test_postgresql_lists_equal_the_python_reference(tz: str, pg_url: str) -> None:
    from engage_rules.store.postgres import PostgreSQLStore

    memory, pg = MemoryStore(keep_history=True), PostgreSQLStore(pg_url)
    try:
        _replay(tz, random_log(7), memory)
        _replay(tz, random_log(7), pg)
        for q in _queries(tz)[::3]:
            for churn in (7, 12, 30):
                expected = _lists(memory, q, churn, None)
                assert _lists(pg, q, churn, None) == expected, (q, churn)
                assert _lists(pg, q, churn, 2) == [rows[:2] for rows in expected]
    finally:
        pg.close()
