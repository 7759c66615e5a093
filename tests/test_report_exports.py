"""Member lists exported (tools/report/export.py): ``report --members KIND --csv FILE
--xlsx FILE`` writes a whole list, CSV with a BOM and headings in the report's language,
and an Excel workbook read back by parsing its XML (and with openpyxl when installed);
display names of any kind survive both, and are escaped in the HTML page."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.cli import main
from engage_rules.tools.report.export import column_name, write_csv, write_xlsx
from report_helpers import replay_into_sqlite

LATE = ("--from", "2026-03-02", "--to", "2026-03-29")
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@pytest.fixture
def store_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    return replay_into_sqlite(tmp_path, capsys)


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
        (["--members", "top", "--csv", "x.csv", "--json"], "leave out --json"),
        (["--members", "top", "--csv", "x.csv", "--html", "x.html"], "leave out --html"),
        (
            ["--members", "top", "--xlsx", "x.xlsx", "--compare-before"],
            "leave out --compare-before",
        ),
        (
            ["--members", "silent", "--csv", "x.csv", "--campaign", "2026-03-09..2026-03-22"],
            "leave out --campaign (give the period with --from and --to)",
        ),
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
