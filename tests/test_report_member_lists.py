"""Member lists (store/member_lists.py, store/sqlite_member_lists.py, tools/report/lists.py):
worked out by hand on the history of report_helpers.py, the SQL equal to the Python
reference on any log, in the report (terminal, JSON, HTML) and exported as CSV and XLSX
(read back by parsing the workbook's XML, and with openpyxl when it is installed)."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

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
from engage_rules.tools.report.export import column_name, write_csv, write_xlsx
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


# -- exports -----------------------------------------------------------------------------------


def _named_history(tmp_path: Path) -> str:
    """Three members with display names (one a formula, one markup), into SQLite."""
    playbook = tmp_path / "names.yaml"
    playbook.write_text(
        "engage_rules: 1\nname: names\ncommunity: {name: 读书会, timezone: Asia/Shanghai}\n"
        "currencies: [points]\nrules:\n  - id: p\n    on: message.posted\n"
        "    do: [{award: {points: 2, reason: post}}]\n",
        encoding="utf-8",
    )
    names = {"m1": "小明", "m2": '=HYPERLINK("x")', "m3": "<b>Ann & co</b>"}
    lines = []
    for n, (member, day) in enumerate([("m1", 1), ("m1", 2), ("m2", 2), ("m3", 3), ("m1", 3)]):
        event = {
            "id": f"e{n}",
            "type": "message.posted",
            "at": f"2026-05-0{day}T10:00:00+08:00",
            "community": "book",
            "member": {"id": member, "name": names[member]},
            "data": {"text": "hi", "message_id": f"x{n}"},
        }
        lines.append(json.dumps(event, ensure_ascii=False))
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'names.db'}"
    assert main(["replay", str(playbook), str(events), "--store", url]) == 0
    return url


def _sheet(path: Path) -> list[list[str]]:
    """The cells of a workbook's one sheet, read from its XML (no spreadsheet library)."""
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        names = set(z.namelist())
        assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml"} <= names
        workbook = ElementTree.fromstring(z.read("xl/workbook.xml"))
        sheets = workbook.findall(f"{MAIN}sheets/{MAIN}sheet")
        assert len(sheets) == 1
        root = ElementTree.fromstring(z.read("xl/worksheets/sheet1.xml"))
    rows = []
    for number, row in enumerate(root.iter(f"{MAIN}row"), 1):
        assert row.get("r") == str(number)
        cells: dict[str, str] = {}
        for c in row.findall(f"{MAIN}c"):
            ref = str(c.get("r"))
            assert ref.endswith(str(number))
            if c.get("t") == "inlineStr":
                cells[ref] = "".join(t.text or "" for t in c.iter(f"{MAIN}t"))
            else:
                value = c.find(f"{MAIN}v")
                cells[ref] = "" if value is None else str(value.text)
        width = max((i + 1 for i in range(30) if f"{column_name(i)}{number}" in cells), default=0)
        rows.append([cells.get(f"{column_name(i)}{number}", "") for i in range(width)])
    return rows


def test_export_top_contributors_as_csv_and_xlsx_in_chinese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _named_history(tmp_path)
    capsys.readouterr()
    out_csv, out_xlsx = tmp_path / "top.csv", tmp_path / "top.xlsx"
    args = ["--lang", "zh_CN", "report", "--store", url, "--members", "top"]
    assert main([*args, "--csv", str(out_csv), "--xlsx", str(out_xlsx)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""  # an export prints no report
    assert f"已写入 {out_csv}（3 名成员）" in captured.err
    raw = out_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["成员", "昵称", "社群", "活跃事件数", "活跃天数", "获得积分"]
    assert rows[1:] == [
        ["m1", "小明", "book", "3", "3", "6"],
        ["m2", '\'=HYPERLINK("x")', "book", "1", "1", "2"],  # never read as a formula
        ["m3", "<b>Ann & co</b>", "book", "1", "1", "2"],
    ]
    sheet = _sheet(out_xlsx)
    assert sheet[0] == rows[0]
    assert sheet[1:] == [
        ["m1", "小明", "book", "3", "3", "6"],
        ["m2", '=HYPERLINK("x")', "book", "1", "1", "2"],  # a string cell: no formula
        ["m3", "<b>Ann & co</b>", "book", "1", "1", "2"],
    ]


def test_an_exported_list_can_be_cut_and_has_english_headings_by_default(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "silent.csv"
    args = ["report", "--store", store_url, *LATE, "--members", "silent", "--csv", str(out)]
    assert main([*args, "--limit", "2"]) == 0
    assert "wrote" in capsys.readouterr().err
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert rows == [
        ["member", "name", "community", "last active", "days silent"],
        ["c", "", "club", "2026-03-18", "11"],
        ["a", "", "club", "2026-03-22", "7"],
    ]


def test_openpyxl_reads_the_workbook(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "list.xlsx"
    rows = [["u1", "小明", 12, "2026-03-22"], ["u2", None, 0, "x\x01y"], ["u3", "a" * 300, 7, ""]]
    assert write_xlsx(path, "Top contributors: [May]", ["member", "name", "n", "day"], rows) == 3
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet.title == "Top contributors   May"  # no [ ] : * ? / \\ in a sheet's name
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == ["member", "name", "n", "day"]
    assert values[1] == ["u1", "小明", 12, "2026-03-22"]
    assert values[2] == ["u2", None, 0, "xy"]  # a control character XML cannot hold: dropped
    assert values[3] == ["u3", "a" * 300, 7, None]


def test_column_names_go_past_z() -> None:
    assert [column_name(i) for i in (0, 25, 26, 27, 51, 52, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AB",
        "AZ",
        "BA",
        "ZZ",
        "AAA",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--members", "top"], "--members needs a file to write"),
        (["--csv", "x.csv"], "add --members silent|churned|top"),
        (["--members", "top", "--csv", "x.csv", "--limit", "0"], "--limit N (1 or more)"),
        (["--list-size", "-1"], "--list-size must be 0 or more"),
        (["--limit", "3"], "--limit N (1 or more) goes with --members"),
    ],
)
def test_export_mistakes_are_one_error_line(
    store_url: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["report", "--store", store_url, *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_an_unknown_kind_of_list_is_refused_by_the_parser(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--store", store_url, "--members", "lurkers", "--csv", "x.csv"])
    assert exit_.value.code == 2
    assert "invalid choice: 'lurkers'" in capsys.readouterr().err


def test_an_unwritable_export_is_an_error_and_chinese_when_asked(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-folder" / "x.xlsx"
    args = ["report", "--store", store_url, "--members", "churned", "--xlsx", str(missing)]
    assert main(["--lang", "zh_CN", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"错误：无法写入 {missing}：") and not missing.exists()


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


def test_names_in_the_html_lists_are_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _named_history(tmp_path)
    page = tmp_path / "names.html"
    assert main(["report", "--store", url, "--html", str(page)]) == 0
    capsys.readouterr()
    html = page.read_text(encoding="utf-8")
    top = html[html.index('<section id="list-top">') :]
    top = top[: top.index("</section>")]
    assert "<b>Ann" not in html and "&lt;b&gt;Ann &amp; co&lt;/b&gt;" in top
    assert ">小明</td>" in top and "=HYPERLINK(&quot;x&quot;)" in top


_CELLS = st.one_of(
    st.none(),
    st.integers(-(10**12), 10**12),
    st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("=+-@\t\r\n小明"),
        max_size=12,
    ),
)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.lists(_CELLS, min_size=3, max_size=3), max_size=6))
def test_any_cells_survive_csv_and_xlsx(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[Any]]
) -> None:
    """Whatever a member's name holds: the CSV reads back the same (a formula-like text
    with a leading '), the workbook as the same text without the characters XML cannot
    hold, and each file has one row per member."""
    folder = tmp_path_factory.mktemp("cells")
    headings = ["a", "b", "c"]
    assert write_csv(folder / "x.csv", headings, rows) == len(rows)
    with (folder / "x.csv").open(encoding="utf-8-sig", newline="") as f:
        read = list(csv.reader(f))

    def as_csv(v: Any) -> str:
        if v is None:
            return ""
        text = str(v)
        return (
            "'" + text
            if text.startswith(("=", "+", "-", "@", "\t", "\r")) and isinstance(v, str)
            else text
        )

    assert read == [headings, *([as_csv(v) for v in row] for row in rows)]
    assert write_xlsx(folder / "x.xlsx", "cells", headings, rows) == len(rows)
    sheet = _sheet(folder / "x.xlsx")

    def as_xlsx(v: Any) -> str:
        if v is None:
            return ""
        return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", str(v))

    expected = [[as_xlsx(v) for v in row] for row in rows]
    assert [r + [""] * (3 - len(r)) for r in sheet[1:]] == expected
