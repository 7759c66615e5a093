"""The report as one self-contained HTML page: inline CSS, inline SVG charts, no external
fetch, so it can be mailed or opened offline.  Every string that comes from data (member
and rule ids, community names) is escaped.

A small inline script measures each chart once the page is laid out and writes what it
found into the figure's ``data-rendered`` attribute, and on the body the smallest text of
the charts as shown (``data-min-svg-text-px``), how far the page is wider than the window
(``data-page-overflow``) and the window's width (``data-viewport-width``): the browser
test reads them back to check every chart really rendered, and that a phone 390 px wide
shows it all legibly.  It changes nothing a reader sees.

On a narrow screen (a phone) the charts keep a minimum width and bigger type, and scroll
sideways in their box, as wide tables do: the page itself never gets wider than the
screen.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ...i18n import _, current_language
from . import compare, lists
from .glossary import (
    explain,
    interval,
    partial_days,
    partial_note,
    percent,
    report_title,
    title,
    words,
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
.scroll,.chart-box{overflow-x:auto;max-width:100%}td.text{text-align:left}
@media (max-width:600px){body{padding:12px}th,td{white-space:nowrap}h1{font-size:1.35em}
 .card{min-width:0;flex:1 1 40%}.chart-box svg{min-width:520px}
 svg text{font-size:17px}svg .axis-title{font-size:18px}}
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
var small=1e9;document.querySelectorAll('svg text').forEach(function(t){
var m=t.ownerSVGElement.getScreenCTM();if(!m){return;}
var px=parseFloat(getComputedStyle(t).fontSize)*m.a;if(px<small){small=px;}});
document.body.setAttribute('data-min-svg-text-px',String(Math.round(small*10)/10));
var root=document.documentElement;
document.body.setAttribute('data-page-overflow',String(root.scrollWidth-root.clientWidth));
document.body.setAttribute('data-viewport-width',String(root.clientWidth));
document.body.setAttribute('data-charts-checked',String(figs.length));})();
"""


def _section(key: str, report: dict[str, Any], body: str) -> str:
    return (
        f'<section id="{key}"><h2>{escape(title(key))}</h2>'
        f'<p class="explain">{escape(explain(key, report))}</p>{body}</section>'
    )


def _rows(headers: list[str], rows: list[list[Any]], text_columns: int = 1) -> str:
    """A table (scrolling sideways when wider than the screen): the first column heads
    each row; the first ``text_columns`` are text, aligned left."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            (
                f'<th scope="row">{escape(str(c))}</th>'
                if i == 0
                else f'<td class="text">{escape(_cell(c))}</td>'
                if i < text_columns
                else f"<td>{escape(_cell(c))}</td>"
            )
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


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
        return _empty(_("No members were first seen in the period."))
    weeks = max(len(c["percent"]) for c in cohorts)
    week_n = _("week {n}")
    head = "".join(f'<th scope="col">{escape(week_n.format(n=k))}</th>' for k in range(weeks))
    n_of = _("{n} of {members}")
    rows = []
    for c in cohorts:
        cells = "".join(
            f'<td class="heat mark" style="background:rgba(59,111,182,{p / 100:.2f});'
            f'color:{"#fff" if p >= 55 else "#1d2330"}" title="'
            f'{escape(n_of.format(n=n, members=c["members"]))}">'
            f"{p:.0f}%</td>"
            for p, n in zip(c["percent"], c["active"], strict=True)
        )
        cells += "<td></td>" * (weeks - len(c["percent"]))
        rows.append(
            f'<tr><th scope="row">{escape(c["week"])} ({escape(c["starts"])})</th>'
            f"<td>{c['members']}</td>{cells}</tr>"
        )
    marks = sum(len(c["percent"]) for c in cohorts)
    caption = _("Share of each week's new members active in each later week")
    first_seen, members = _("first seen in week"), _("members")
    return (
        f'<figure class="chart" data-chart="retention" data-marks="{marks}">'
        f'<div class="scroll"><table><caption>{escape(caption)}</caption>'
        f'<thead><tr><th scope="col">{escape(first_seen)}</th>'
        f'<th scope="col">{escape(members)}</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div></figure>"
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
    headers = [
        _("experiment"),
        _("variant"),
        _("exposed"),
        _("converted"),
        _("rate"),
        _("95% interval"),
    ]
    return [_section("experiments", report, _rows(headers, rows, text_columns=2))]


def _comparison(report: dict[str, Any]) -> list[str]:
    """The campaign comparison, when the report has one."""
    if not report.get("comparison"):
        return []
    heading = _("Campaign: this period and the days before")
    return [
        f'<section id="comparison"><h2>{escape(heading)}</h2>'
        f'<p class="explain">{escape(compare.caption(report))}</p>'
        f"{_rows(compare.headings(), compare.display_rows(report['comparison']))}</section>"
    ]


def _lists(report: dict[str, Any]) -> list[str]:
    """The member lists, when the report has them."""
    found = report.get("member_lists")
    if not found:
        return []
    out = []
    for kind in lists.KINDS:
        rows = [lists.cells(kind, row) for row in found[kind]]
        body = (
            _rows(lists.headings(kind), rows, text_columns=3)
            if rows
            else _empty(_("Nobody in the period."))
        )
        out.append(
            f'<section id="list-{kind}"><h2>{escape(lists.list_title(kind))}</h2>'
            f'<p class="explain">'
            f"{escape(lists.list_explain(kind, report['churn_after_days']))}</p>{body}</section>"
        )
    return out


def html_language() -> str:
    """The page's ``lang``: the language the report is written in (BCP 47)."""
    return current_language().replace("_", "-")


def render_html(report: dict[str, Any]) -> str:
    """The whole page for ``report`` (:func:`~.build.build_report`), in the current
    language."""
    m, a, c = report["members"], report["activity"], report["conversion"]
    period, where = report["period"], report["community"] or _("all communities")
    days = list(a["dau"])
    labels = _short_days(days)
    note = partial_note(period)
    partial = partial_days(period)
    if partial is not None:  # the days from the store's clock on are not over
        labels = [
            f"{label}*" if day >= partial else label
            for day, label in zip(days, labels, strict=True)
        ]
    meta = _("{where} · {first} to {last} ({days} days) · time zone {timezone}").format(
        where=where,
        first=period["from"],
        last=period["to"],
        days=period["days"],
        timezone=report["timezone"],
    )
    stages = report["silence_stages"]
    heading = _("Community report: {title}").format(title=report_title(report))
    parts = [
        f"<h1>{escape(heading)}</h1>",
        f'<p class="meta">{escape(meta)}</p>',
        f'<p class="meta">{escape(note)}</p>' if note is not None else "",
        *_comparison(report),
        _section(
            "members",
            report,
            _cards(
                [
                    (_("members at period end"), m["total"]),
                    (_("new"), m["new"]),
                    (_("left"), m["left"]),
                    (_("churned"), m["churned"]),
                ]
            ),
        ),
        _section(
            "activity",
            report,
            _cards(
                [
                    (_("average DAU"), f"{a['average_dau']:g}"),
                    (_("WAU"), a["wau"]),
                    (_("MAU"), a["mau"]),
                    (_("monthly activity rate"), percent(a["monthly_active_rate"])),
                    (_("period activity rate"), percent(a["period_active_rate"])),
                ]
            )
            + line_chart(
                "dau",
                _("Daily active members"),
                labels,
                list(a["dau"].values()),
                _("day"),
                _("active members"),
                _("DAU"),
            ),
        ),
        _section(
            "growth",
            report,
            bar_chart(
                "growth",
                _("New and leaving members per day"),
                labels,
                [_("new"), _("left")],
                [list(m["new_per_day"].values()), list(m["left_per_day"].values())],
                _("day"),
                _("members"),
            ),
        ),
        _section("retention", report, _retention(report)),
        _section(
            "silence",
            report,
            bar_chart(
                "silence",
                _("Members by silence stage at the end of the period"),
                [words(s["label"]) for s in stages],
                [_("members")],
                [[m["silence"][s["key"]] for s in stages]],
                _("days since last activity"),
                _("members"),
            ),
        ),
        *_lists(report),
        _section(
            "conversion",
            report,
            _cards(
                [
                    (_("'{goal}' events").format(goal=c["goal"]), c["events"]),
                    (_("members who converted"), c["converters"]),
                    (_("conversion rate"), percent(c["rate"])),
                    (
                        _("goal events per active member"),
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
    page_title = _("{title}: community report {first} to {last}").format(
        title=report_title(report), first=period["from"], last=period["to"]
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{html_language()}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(page_title)}</title><style>{CSS}</style></head><body>{''.join(parts)}"
        f"<script>{CHECK_SCRIPT}</script></body></html>\n"
    )


def _outcomes(report: dict[str, Any]) -> list[str]:
    msg, pts = report["messages"], report["points"]
    kinds = ["issued", "spent", "expired", "revoked"]
    messages = (
        _rows([_("sent as"), _("messages")], [[words(k), n] for k, n in msg["sent"].items()])
        if msg["sent"]
        else _empty(_("No messages sent in the period."))
    )
    policy = [
        [_("deferred: {reason}").format(reason=words(k)), n] for k, n in msg["deferred"].items()
    ]
    policy += [
        [_("suppressed: {reason}").format(reason=words(k)), n] for k, n in msg["suppressed"].items()
    ]
    if policy:
        messages += _rows([_("held back"), _("messages")], policy)
    return [
        _section(
            "rules",
            report,
            _rows(
                [_("rule"), _("times fired"), _("actions")],
                [[r["rule"], r["times"], r["actions"]] for r in report["rules"]],
            )
            if report["rules"]
            else _empty(_("No rule acted in the period.")),
        ),
        _section(
            "moderation",
            report,
            _rows([_("action"), _("count")], [[k, n] for k, n in report["moderation"].items()])
            if report["moderation"]
            else _empty(_("No moderation actions in the period.")),
        ),
        _section("messages", report, messages),
        _section(
            "points",
            report,
            bar_chart(
                "points",
                _("Points issued, spent, expired and revoked"),
                list(pts),
                [words(k) for k in kinds],
                [[row.get(k, 0) for row in pts.values()] for k in kinds],
                _("currency"),
                _("amount"),
            )
            if pts
            else _empty(_("No points moved in the period.")),
        ),
        _section(
            "shadow",
            report,
            _rows(
                [_("rule"), _("would have done"), _("times"), _("members")],
                [[s["rule"], s["action"], s["actions"], s["members"]] for s in report["shadow"]],
                text_columns=2,
            )
            if report["shadow"]
            else _empty(_("No rule in shadow mode acted in the period.")),
        ),
    ]
