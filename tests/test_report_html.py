"""The HTML report: self-contained, escaped, and its charts really render in Chromium.

The browser test runs Debian's Chromium headless on the written file and reads back what
the page's inline script measured (each chart's size and how many marks it drew).  It is
skipped when Chromium is missing, unless ENGAGE_RULES_BROWSER_TESTS=required (as in CI).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engage_rules.cli import main
from engage_rules.store.reports import ActionTally, MemberTally
from engage_rules.tools.report.build import build_report
from engage_rules.tools.report.data import PeriodData, ReportData
from engage_rules.tools.report.figures import Period
from engage_rules.tools.report.html import render_html
from report_helpers import replay_into_sqlite

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("ENGAGE_RULES_BROWSER_TESTS") == "required":
            pytest.fail(
                "Chromium is required for the browser tests but is not installed "
                "(apt-get install chromium)"
            )
        pytest.skip(
            "Chromium is not installed (set ENGAGE_RULES_BROWSER_TESTS=required to fail instead)"
        )
    return found


def _rendered(dom: str) -> dict[str, dict[str, Any]]:
    """chart name -> what the page's script measured, from Chromium's --dump-dom."""
    out = {}
    for tag in re.findall(r"<figure [^>]*>", dom):
        name = re.search(r'data-chart="([^"]+)"', tag)
        measured = re.search(r'data-rendered="([^"]+)"', tag)
        marks = re.search(r'data-marks="(\d+)"', tag)
        assert name and measured and marks, tag
        out[name.group(1)] = {
            **json.loads(html.unescape(measured.group(1))),
            "expected": int(marks.group(1)),
        }
    return out


@pytest.mark.slow
@pytest.mark.subprocess
def test_charts_render_in_headless_chromium(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chromium = _chromium()
    url = replay_into_sqlite(tmp_path, capsys)
    page = tmp_path / "report.html"
    assert (
        main(
            [
                "report",
                "--store",
                url,
                "--from",
                "2026-03-02",
                "--to",
                "2026-03-22",
                "--json",
                "--html",
                str(page),
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    profile = tmp_path / "chromium-profile"
    result = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert 'data-charts-checked="6"' in dom  # the inline script ran over every chart
    charts = _rendered(dom)
    assert set(charts) == {"dau", "growth", "retention", "silence", "points", "volumes"}
    for name, c in charts.items():
        assert c["width"] > 100 and c["height"] > 100, (name, c)
        assert c["marks"] == c["expected"], (name, c)
    # One point per day, each drawn.
    assert charts["dau"]["marks"] == 21 and charts["dau"]["shown"] == 21
    # New and left bars per day: only the non-zero ones have a height.
    m = report["members"]
    nonzero = sum(1 for n in [*m["new_per_day"].values(), *m["left_per_day"].values()] if n)
    assert charts["growth"]["marks"] == 42 and charts["growth"]["shown"] == nonzero == 6
    # Retention: 3 + 2 + 1 cells, all drawn.
    assert charts["retention"]["marks"] == 6 and charts["retention"]["shown"] == 6
    # Silence: five stages, three of them non-empty (3 active, 1 silent 30d+, 1 never).
    assert charts["silence"]["marks"] == 5 and charts["silence"]["shown"] == 3
    # Points: issued 55 and spent 9 drawn; nothing expired or revoked.
    assert charts["points"]["marks"] == 4 and charts["points"]["shown"] == 2
    # Volumes: posts per day (the history has no replies, reactions or shares), drawn on
    # the 9 days with posts (03-02, 04, 05, 10, 11, 12, 17, 19 and 22).
    assert charts["volumes"]["marks"] == 21 and charts["volumes"]["shown"] == 9


#: A page showing the report in a frame ``{width}`` px wide (a phone's screen), which
#: copies what the report's script measured onto its own body once all is loaded.
FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="{src}" style="width:{width}px;height:844px;border:0"></iframe>
<script>window.addEventListener('load',function(){{
var b=document.getElementById('f').contentDocument.body;
for(var i=0;i<b.attributes.length;i++){{document.body.setAttribute(b.attributes[i].name,
b.attributes[i].value);}}}});</script></body></html>"""


def _page_facts(chromium: str, page: Path, profile: Path, width: int) -> dict[str, str]:
    """What the page's script measured on the body, shown ``width`` px wide (in a frame:
    headless Chromium's windows are never narrower than about 500 px; scroll bars
    hidden, as a phone's are)."""
    frame = page.with_name(f"frame-{width}-{page.name}")
    frame.write_text(FRAME.format(src=page.name, width=width), encoding="utf-8")
    result = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            "--hide-scrollbars",
            "--allow-file-access-from-files",
            f"--user-data-dir={profile}",
            "--dump-dom",
            frame.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    body = re.search(r"<body [^>]*>", result.stdout)
    assert body is not None
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(0)))


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_page_reads_on_a_phone_390_px_wide(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lang: str
) -> None:
    """At 390 px (a phone), no text of a chart is smaller than 11 px and the page is no
    wider than the screen (wide tables and charts scroll in their own box); on a desktop
    the charts keep their size."""
    chromium = _chromium()
    url = replay_into_sqlite(tmp_path, capsys)
    page = tmp_path / "report.html"
    args = ["report", "--store", url, "--campaign", "2026-03-02..2026-03-22"]
    assert main(["--lang", lang, *args, "--html", str(page)]) == 0
    capsys.readouterr()
    phone = _page_facts(chromium, page, tmp_path / "phone", 390)
    assert phone["viewport-width"] == "390" and phone["charts-checked"] == "6"
    assert float(phone["min-svg-text-px"]) >= 11, phone
    assert phone["page-overflow"] == "0", phone
    desktop = _page_facts(chromium, page, tmp_path / "desktop", 1024)
    assert desktop["viewport-width"] == "1024"
    assert float(desktop["min-svg-text-px"]) >= 11 and desktop["page-overflow"] == "0"
    if lang == "en":  # the same page without its phone styles fails both checks
        html = page.read_text(encoding="utf-8")
        bare = page.with_name("bare.html")
        bare.write_text(
            re.sub(r"@media \(max-width:600px\)\{.*?\}\}", "", html, flags=re.S).replace(
                ".scroll,.chart-box{overflow-x:auto;max-width:100%}", ""
            ),
            encoding="utf-8",
        )
        unstyled = _page_facts(chromium, bare, tmp_path / "bare", 390)
        assert float(unstyled["min-svg-text-px"]) < 11 or unstyled["page-overflow"] != "0"


def _hostile_report() -> dict[str, Any]:
    evil = '<script>alert("x")</script>'
    day = date(2026, 3, 2)
    data = ReportData("pb & <co>", "UTC", f"c{evil}", frozenset({"message.posted"}))
    # One member of the community, active that day, with a shadow ban and points.
    counts = PeriodData(
        Period(day, day),
        members=MemberTally(
            first_seen={day: 1}, by_last_active={(day, True, True): 1}, retention={(day, 0): 1}
        ),
        daily_active={day: 1},
        actions=ActionTally(
            rules={f"rule{evil}": (1, 1)},
            types={("award", False): 1},
            shadow={(f"rule{evil}", "ban"): (1, 1)},
        ),
        points={(f"coins{evil}", "award"): 5},
    )
    return build_report(data, counts)


def test_html_escapes_every_string_from_data() -> None:
    page = render_html(_hostile_report())
    assert "<script>alert" not in page
    assert page.count("<script>") == 1  # only the report's own measuring script
    assert "rule&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "pb &amp; &lt;co&gt;" in page
    assert "coins&lt;script&gt;" in page  # a currency name, in the points chart


def test_html_is_self_contained() -> None:
    page = render_html(_hostile_report())
    # Nothing is fetched: no external scripts, styles, images, fonts or links.
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "@import" not in page and "url(" not in page
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"] * 4
    # Every chart is an accessible image with a title, and has a data table.
    svgs = re.findall(r"<svg [^>]*>\s*<title", page)
    assert len(svgs) == 4 and all('role="img"' in s for s in svgs)
    assert page.count("<summary>Data table</summary>") == 4
