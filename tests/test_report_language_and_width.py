"""The report in Chinese and English (``engage-rules --lang zh_CN report``), and terminal
tables that never cut a cohort's label: written to a file they keep their width, and on
a narrow terminal a long period's cohorts are labelled by their week alone."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from engage_rules.cli import main
from engage_rules.i18n import _, use_language
from engage_rules.tools.report.glossary import SECTIONS
from engage_rules.tools.report.html import render_html
from engage_rules.tools.report.text import print_report
from report_helpers import replay_into_sqlite, report_json

PERIOD = ("--from", "2026-03-02", "--to", "2026-03-22")
#: 44 ISO weeks: the retention table is far wider than any terminal.
LONG = ("--from", "2026-03-02", "--to", "2026-12-31")


@pytest.fixture
def store_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    return replay_into_sqlite(tmp_path, capsys)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _retention_rows(out: str) -> list[str]:
    return [line for line in out.splitlines() if re.match(r"│ 2026-W1[012]", line)]


def test_off_a_terminal_a_long_period_keeps_every_label_and_column(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--store", store_url, *LONG]) == 0
    out = capsys.readouterr().out
    assert "\x1b[" not in out and "…" not in out
    rows = _retention_rows(out)
    assert [r.split("│")[1].strip() for r in rows] == [
        "2026-W10 (2026-03-02)",
        "2026-W11 (2026-03-09)",
        "2026-W12 (2026-03-16)",
    ]
    assert "week 43" in out  # every week's column, however wide the table
    assert all(len(r) > 300 for r in rows)
    # Paragraphs still wrap at the page's width.
    assert (
        max(
            len(line) for line in out.splitlines() if not line.startswith(("│", "┃", "┏", "┡", "└"))
        )
        <= 100
    )


def test_on_a_narrow_terminal_a_long_period_shows_short_labels_and_the_weeks_that_fit(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r = report_json(capsys, "--store", store_url, *LONG)
    screen = Terminal()
    print_report(r, screen, width=80)
    out = _plain(screen.getvalue())
    rows = _retention_rows(out)
    assert [row.split("│")[1].strip() for row in rows] == ["2026-W10", "2026-W11", "2026-W12"]
    assert all(len(row) <= 80 for row in rows) and "…" not in "".join(rows)
    shown = re.findall(r"week (\d+)", out.split("Weekly retention")[1].split("Silence")[0])
    assert shown and int(shown[-1]) < 43
    assert f"Weeks {int(shown[-1]) + 1} to 43 do not fit in this terminal" in out


def test_on_a_wide_terminal_a_short_period_keeps_the_full_labels(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r = report_json(capsys, "--store", store_url, *PERIOD)
    screen = Terminal()
    print_report(r, screen, width=120)
    rows = _retention_rows(_plain(screen.getvalue()))
    assert rows[0].split("│")[1].strip() == "2026-W10 (2026-03-02)"


def test_the_report_in_chinese(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "zh_CN", "report", "--store", store_url, *PERIOD]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "社群报告：Test（全部社群）\n统计期：2026-03-02 至 2026-03-22（21 天，时区 Asia/Shanghai）"
    )
    for heading in (
        "成员",
        "每日活跃成员",
        "每周留存",
        "沉默阶段",
        "转化",
        "最常触发的规则",
        "积分",
    ):
        assert f"\n{heading}\n" in out, heading
    assert "流失：仍是成员、以前活跃过，但在统计期最后 30 天内没有活跃。" in out
    assert "│ 最近 7 天活跃 " in out and "│ 免打扰时段 " in out and "│ 私信 " in out
    assert "第 0 周" in out and "│ 2026-W10 (2026-03-02) │" in out  # ids and dates as they are
    assert "post-points" in out and "'purchase'" not in out and "“purchase”事件" in out
    # No English label is left: every word of the terminal report is translated.
    for english in ("members at period end", "Weekly retention", "times fired", "quiet hours"):
        assert english not in out


def test_the_language_comes_from_the_locale_too(
    store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    assert main(["report", "--store", store_url, *PERIOD]) == 0
    assert capsys.readouterr().out.startswith("社群报告：")


def test_json_is_the_same_in_every_language(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    english = report_json(capsys, "--store", store_url, *PERIOD, "--compare-before")
    assert (
        main(
            [
                "--lang",
                "zh_CN",
                "report",
                "--store",
                store_url,
                *PERIOD,
                "--compare-before",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == english


def test_the_html_page_in_chinese(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "zh.html"
    args = ["report", "--store", store_url, *PERIOD, "--html", str(page), "--json"]
    assert main(["--lang", "zh_CN", *args]) == 0
    assert capsys.readouterr().err.strip().endswith(f"已写入 {page}")
    html = page.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    assert (
        "<h1>社群报告：Test</h1>" in html
        and "<title>Test：社群报告 2026-03-02 至 2026-03-22" in html
    )
    assert "<summary>数据表</summary>" in html and "每周新成员在之后各周的活跃比例" in html
    assert ">第 0 周</th>" in html and "新近沉默的成员" in html and "距最后一次活跃的天数" in html
    text = re.sub(r"<script>.*?</script>|<style>.*?</style>|<[^>]+>", " ", html, flags=re.S)
    for english in ("Data table", "Members by silence stage", "members at period end", " day "):
        assert english not in text, english
    assert main(args) == 0
    assert '<html lang="en">' in page.read_text(encoding="utf-8")


def test_every_section_has_a_chinese_title_and_explanation(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r: Any = report_json(capsys, "--store", store_url, *PERIOD)
    with use_language("zh_CN"):
        page = render_html(r)
    for key, (title, explanation) in SECTIONS.items():
        with use_language("zh_CN"):
            assert _(title) != title and _(explanation) != explanation, key
        if key != "experiments":  # the history has none
            assert f'<section id="{key}"><h2>' in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--community", "nope"], "错误：存储中没有社群 'nope'（已有的社群：club）"),
        (
            ["--from", "2026-04-01"],
            "错误：--from 2026-04-01 晚于 --to 2026-03-23（最近一个有活动的日子）",
        ),
        (["--from", "2010-01-01", "--to", "2026-03-22"], "错误：统计期超过十年；请选短一些"),
        (["--to", "2026-02-30"], "错误：--to '2026-02-30' 不是日期；请写成 YYYY-MM-DD"),
        (["--churn-after", "36h"], "错误：--churn-after '36h' 必须是整数天，例如 30d 或 4w"),
    ],
)
def test_report_mistakes_in_chinese(
    store_url: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["--lang", "zh_CN", "report", "--store", store_url, *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip() == message
