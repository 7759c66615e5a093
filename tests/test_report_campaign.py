"""Campaign evaluation (tools/report/compare.py): ``report --campaign FROM..TO`` and
``--compare-before`` put the period's figures next to the same number of days just
before it, worked out by hand on the history of report_helpers.py."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engage_rules.cli import main
from engage_rules.tools.report.compare import before, parse_campaign
from engage_rules.tools.report.figures import Period
from report_helpers import replay_into_sqlite, report_json


@pytest.fixture
def store_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    return replay_into_sqlite(tmp_path, capsys)


def _figures(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["figure"]: row for row in report["comparison"]["figures"]}


def test_a_campaign_is_compared_with_the_days_before_it(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r: Any = report_json(capsys, "--store", store_url, "--campaign", "2026-03-09..2026-03-22")
    assert r["period"]["from"] == "2026-03-09" and r["period"]["to"] == "2026-03-22"
    assert r["comparison"]["before"] == {"from": "2026-02-23", "to": "2026-03-08", "days": 14}
    f = _figures(r)
    # Members on 03-22: z, a, c, d, e; on 03-08: z, a, b.
    assert f["members.total"] == {
        "figure": "members.total",
        "period": 5,
        "before": 3,
        "change": 2,
        "change_percent": 0.6667,
    }
    # New: c, d, e against a, b.  Left: b against nobody (no relative change).
    assert (f["members.new"]["period"], f["members.new"]["before"]) == (3, 2)
    assert f["members.new"]["change_percent"] == 0.5
    assert f["members.left"]["change"] == 1 and f["members.left"]["change_percent"] is None
    # Active: a, c, e against a, b; purchases: a and c against a's one.
    assert (f["activity.active_in_period"]["period"], f["activity.active_in_period"]["before"]) == (
        3,
        2,
    )
    assert (f["conversion.events"]["period"], f["conversion.events"]["before"]) == (2, 1)
    assert f["conversion.events"]["change_percent"] == 1.0
    # A rate: its change is in fractions (percentage points when shown).
    rate = f["conversion.rate"]
    assert rate["change"] == pytest.approx(rate["period"] - rate["before"], abs=1e-4)
    # The period's own figures are those of a report on it without the comparison.
    plain: Any = report_json(
        capsys, "--store", store_url, "--from", "2026-03-09", "--to", "2026-03-22"
    )
    assert r["members"] == plain["members"] and "comparison" not in plain


def test_compare_before_is_the_same_as_campaign(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    period = ("--from", "2026-03-09", "--to", "2026-03-22")
    compared = report_json(capsys, "--store", store_url, *period, "--compare-before")
    campaign = report_json(capsys, "--store", store_url, "--campaign", "2026-03-09..2026-03-22")
    assert compared == campaign


def test_the_comparison_in_the_terminal_and_the_page(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "campaign.html"
    args = ["report", "--store", store_url, "--campaign", "2026-03-09..2026-03-22"]
    assert main([*args, "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "Campaign: this period and the days before" in out
    assert "compared with the 14 days before (2026-02-23 to 2026-03-08)" in out
    assert (
        "│ members at period end │           5 │               3 │        +2 │      +66.7% │" in out
    )
    assert "pts" in out  # a rate's change, in percentage points
    html = page.read_text(encoding="utf-8")
    assert '<section id="comparison">' in html and "+66.7%" in html
    assert main(["--lang", "zh_CN", *args]) == 0
    out = capsys.readouterr().out
    assert "活动评估：本期与前一期" in out and "个百分点" in out and "期末成员数" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--campaign", "2026-03-09"], "--campaign '2026-03-09' is not a period"),
        (["--campaign", "2026-03-09..soon"], "write it as YYYY-MM-DD..YYYY-MM-DD"),
        (["--campaign", "2026-03-22..2026-03-09"], "--from 2026-03-22 is after --to 2026-03-09"),
        (
            ["--campaign", "2026-03-09..2026-03-22", "--from", "2026-03-01"],
            "--campaign gives the period: leave out --from and --to",
        ),
    ],
)
def test_campaign_mistakes_are_one_error_line(
    store_url: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["report", "--store", store_url, *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_a_campaign_mistake_in_chinese(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "zh_CN", "report", "--store", store_url, "--campaign", "x"]) == 2
    assert capsys.readouterr().err.strip() == (
        "错误：--campaign 'x' 不是一个时间段；请写成 YYYY-MM-DD..YYYY-MM-DD"
    )


def test_the_days_before_have_the_same_length() -> None:
    assert before(Period(date(2026, 3, 1), date(2026, 3, 31))) == Period(
        date(2026, 1, 29), date(2026, 2, 28)
    )
    assert before(Period(date(2026, 3, 1), date(2026, 3, 1))) == Period(
        date(2026, 2, 28), date(2026, 2, 28)
    )
    assert parse_campaign(" 2026-03-01 .. 2026-03-31 ") == (date(2026, 3, 1), date(2026, 3, 31))
