"""The report as one self-contained HTML page: inline CSS, inline SVG charts, no external
fetch, so it can be mailed or opened offline.  Every string that comes from data (member
and rule ids, community names) is escaped.

A small inline script measures each chart once the page is laid out and writes what it
found into the figure's ``data-rendered`` attribute: the browser test reads it back to
check every chart really rendered.  It changes nothing a reader sees.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .glossary import (
    REASONS,
    explain,
    interval,
    partial_days,
    partial_note,
    percent,
    report_title,
    title,
)
from .html_figures import figure_sections
from .svg import bar_chart, line_chart

CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;
 margin:0 auto;max-width:860px;padding:24px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.25em;margin:32px 0 4px;
 border-bottom:1px solid #d8dde6;padding-bottom:4px}
p.explain{color:#4a5368;margin:4px 0 12px}.meta{color:#4a5368}
table{border-collapse:collapse;margin:8px 0}th,td{padding:4px 10px;border:1px solid #d8dde6}
td{text-align:right}th{text-align:left;background:#f3f5f9}caption{text-align:left;
 color:#4a5368;padding:4px 0}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}.card{border:1px solid #d8dde6;
 border-radius:8px;padding:10px 14px;min-width:120px}.card b{display:block;font-size:1.5em}
figure.chart{margin:8px 0}svg{max-width:100%;height:auto}
svg .grid{stroke:#e6e9ef}svg .axis{stroke:#6b7385}svg text{font-size:12px;fill:#4a5368}
svg .axis-title{font-size:13px;fill:#1d2330}
.legend .key{margin-right:16px}.legend i{display:inline-block;width:12px;height:12px;
 margin-right:6px;vertical-align:-1px}
details.data summary{cursor:pointer;color:#3b6fb6}
td.heat{min-width:56px}.empty{color:#6b7385;font-style:italic}
"""

#: Measures every chart after layout (see the module docstring).
CHECK_SCRIPT = """
(function(){var figs=document.querySelectorAll('figure.chart');
figs.forEach(function(f){var el=f.querySelector('svg')||f.querySelector('table');
var r=el.getBoundingClientRect();var marks=f.querySelectorAll('.mark');var shown=0;
marks.forEach(function(m){var b=m.getBBox?m.getBBox():m.getBoundingClientRect();
if(b.width>0&&b.height>0){shown++;}});
f.setAttribute('data-rendered',JSON.stringify({width:r.width,height:r.height,
marks:marks.length,shown:shown}));});
document.body.setAttribute('data-charts-checked',String(figs.length));})();
"""


def _section(key: str, report: dict[str, Any], body: str) -> str:
    return (
        f'<section id="{key}"><h2>{escape(title(key))}</h2>'
        f'<p class="explain">{escape(explain(key, report))}</p>{body}</section>'
    )


def _rows(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            (f'<th scope="row">{escape(str(c))}</th>' if i == 0 else f"<td>{escape(str(c))}</td>")
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _empty(text: str) -> str:
    return f'<p class="empty">{escape(text)}</p>'


def _cards(items: list[tuple[str, Any]]) -> str:
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><b>{escape(str(v))}</b>{escape(label)}</div>' for label, v in items
        )
        + "</div>"
    )


def _retention(report: dict[str, Any]) -> str:
    cohorts = report["retention"]
    if not cohorts:
        return _empty("No members were first seen in the period.")
    weeks = max(len(c["percent"]) for c in cohorts)
    head = "".join(f'<th scope="col">week {k}</th>' for k in range(weeks))
    rows = []
    for c in cohorts:
        cells = "".join(
            f'<td class="heat mark" style="background:rgba(59,111,182,{p / 100:.2f});'
            f'color:{"#fff" if p >= 55 else "#1d2330"}" title="{n} of {c["members"]}">'
            f"{p:.0f}%</td>"
            for p, n in zip(c["percent"], c["active"], strict=True)
        )
        cells += "<td></td>" * (weeks - len(c["percent"]))
        rows.append(
            f'<tr><th scope="row">{escape(c["week"])} ({escape(c["starts"])})</th>'
            f"<td>{c['members']}</td>{cells}</tr>"
        )
    marks = sum(len(c["percent"]) for c in cohorts)
    return (
        f'<figure class="chart" data-chart="retention" data-marks="{marks}"><table>'
        f"<caption>Share of each week's new members active in each later week</caption>"
        f'<thead><tr><th scope="col">first seen in week</th><th scope="col">members</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></figure>"
    )


def _short_days(days: list[str]) -> list[str]:
    return [d[5:] for d in days]  # MM-DD: the period's year is in the heading


def _experiments(report: dict[str, Any]) -> list[str]:
    """The experiments section, when the report has experiments."""
    if not report.get("experiments"):
        return []
    rows = [
        [
            e["experiment"],
            v["variant"],
            v["exposed"],
            v["converted"],
            percent(v["rate"]),
            interval(v["ci95"]),
        ]
        for e in report["experiments"]
        for v in e["variants"]
    ]
    headers = ["experiment", "variant", "exposed", "converted", "rate", "95% interval"]
    return [_section("experiments", report, _rows(headers, rows))]


def render_html(report: dict[str, Any]) -> str:
    """The whole page for ``report`` (:func:`~.build.build_report`)."""
    m, a, c = report["members"], report["activity"], report["conversion"]
    period, where = report["period"], report["community"] or "all communities"
    days = list(a["dau"])
    labels = _short_days(days)
    note = partial_note(period)
    partial = partial_days(period)
    if partial is not None:  # the days from the store's clock on are not over
        labels = [
            f"{label}*" if day >= partial else label
            for day, label in zip(days, labels, strict=True)
        ]
    parts = [
        f"<h1>Community report: {escape(report_title(report))}</h1>",
        f'<p class="meta">{escape(where)} · {escape(period["from"])} to '
        f"{escape(period['to'])} ({period['days']} days) · time zone "
        f"{escape(report['timezone'])}</p>",
        f'<p class="meta">{escape(note)}</p>' if note is not None else "",
        _section(
            "members",
            report,
            _cards(
                [
                    ("members at period end", m["total"]),
                    ("new", m["new"]),
                    ("left", m["left"]),
                    ("churned", m["churned"]),
                ]
            ),
        ),
        _section(
            "activity",
            report,
            _cards(
                [
                    ("average DAU", f"{a['average_dau']:g}"),
                    ("WAU", a["wau"]),
                    ("MAU", a["mau"]),
                    ("monthly activity rate", percent(a["monthly_active_rate"])),
                    ("period activity rate", percent(a["period_active_rate"])),
                ]
            )
            + line_chart(
                "dau",
                "Daily active members",
                labels,
                list(a["dau"].values()),
                "day",
                "active members",
                "DAU",
            ),
        ),
        _section(
            "growth",
            report,
            bar_chart(
                "growth",
                "New and leaving members per day",
                labels,
                ["new", "left"],
                [list(m["new_per_day"].values()), list(m["left_per_day"].values())],
                "day",
                "members",
            ),
        ),
        _section("retention", report, _retention(report)),
        _section(
            "silence",
            report,
            bar_chart(
                "silence",
                "Members by silence stage at the end of the period",
                [s["label"] for s in report["silence_stages"]],
                ["members"],
                [[m["silence"][s["key"]] for s in report["silence_stages"]]],
                "days since last activity",
                "members",
            ),
        ),
        _section(
            "conversion",
            report,
            _cards(
                [
                    (f"'{c['goal']}' events", c["events"]),
                    ("members who converted", c["converters"]),
                    ("conversion rate", percent(c["rate"])),
                    (
                        "goal events per active member",
                        "–"
                        if c["events_per_active_member"] is None
                        else f"{c['events_per_active_member']:g}",
                    ),
                ]
            ),
        ),
        *_experiments(report),
        *figure_sections(report),
        *_outcomes(report),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(report_title(report))}: community report {escape(period['from'])} "
        f"to {escape(period['to'])}"
        f"</title><style>{CSS}</style></head><body>{''.join(parts)}"
        f"<script>{CHECK_SCRIPT}</script></body></html>\n"
    )


def _outcomes(report: dict[str, Any]) -> list[str]:
    msg, pts = report["messages"], report["points"]
    kinds = ["issued", "spent", "expired", "revoked"]
    messages = (
        _rows(["sent as", "messages"], [[k, n] for k, n in msg["sent"].items()])
        if msg["sent"]
        else _empty("No messages sent in the period.")
    )
    policy = [[f"deferred: {REASONS.get(k, k)}", n] for k, n in msg["deferred"].items()]
    policy += [[f"suppressed: {REASONS.get(k, k)}", n] for k, n in msg["suppressed"].items()]
    if policy:
        messages += _rows(["held back", "messages"], policy)
    return [
        _section(
            "rules",
            report,
            _rows(
                ["rule", "times fired", "actions"],
                [[r["rule"], r["times"], r["actions"]] for r in report["rules"]],
            )
            if report["rules"]
            else _empty("No rule acted in the period."),
        ),
        _section(
            "moderation",
            report,
            _rows(["action", "count"], [[k, n] for k, n in report["moderation"].items()])
            if report["moderation"]
            else _empty("No moderation actions in the period."),
        ),
        _section("messages", report, messages),
        _section(
            "points",
            report,
            bar_chart(
                "points",
                "Points issued, spent, expired and revoked",
                list(pts),
                kinds,
                [[row.get(k, 0) for row in pts.values()] for k in kinds],
                "currency",
                "amount",
            )
            if pts
            else _empty("No points moved in the period."),
        ),
        _section(
            "shadow",
            report,
            _rows(
                ["rule", "would have done", "times", "members"],
                [[s["rule"], s["action"], s["actions"], s["members"]] for s in report["shadow"]],
            )
            if report["shadow"]
            else _empty("No rule in shadow mode acted in the period."),
        ),
    ]
