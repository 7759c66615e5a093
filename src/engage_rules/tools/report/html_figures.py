"""The handbook figures as HTML sections: charts of the volumes and the segment sizes per
day, and tables of the volumes, day-N and monthly retention, churn rate, segment sizes,
conversion by source, tag and segment, communities and channels (html.py lays out the
page and calls :func:`figure_sections`).
Every text from data (types, sources, tags, community and channel names) is escaped."""

from __future__ import annotations

from html import escape
from typing import Any

from ...i18n import _
from .figure_glossary import (
    DIMENSION_LABELS,
    bounds,
    figure_explain,
    figure_title,
    share,
    volume_label,
)
from .glossary import partial_days
from .svg import bar_chart
from .text_figures import count_or_dash, value_label

#: The volumes drawn per day (the table lists every type).
CHARTED = ("posts", "replies", "reaction.added", "content.shared")


def _section(key: str, report: dict[str, Any], body: str) -> str:
    return (
        f'<section id="{key}"><h2>{escape(figure_title(key))}</h2>'
        f'<p class="explain">{escape(figure_explain(key, report))}</p>{body}</section>'
    )


def _rows(headers: list[str], rows: list[list[Any]], bold_last: bool = False) -> str:
    """A table, scrolling sideways when wider than the screen (html.py's ``.scroll``);
    ``bold_last``: its last row (a total) in bold."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = []
    for n, row in enumerate(rows):
        cells = "".join(
            f'<th scope="row">{escape(str(c))}</th>' if i == 0 else f"<td>{escape(str(c))}</td>"
            for i, c in enumerate(row)
        )
        strong = ' style="font-weight:bold"' if bold_last and n == len(rows) - 1 else ""
        body.append(f"<tr{strong}>{cells}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _empty(text: str) -> str:
    return f'<p class="empty">{escape(text)}</p>'


def figure_sections(report: dict[str, Any]) -> list[str]:
    """The page's handbook-figure sections, in order."""
    return [
        _section("volumes", report, _volumes(report)),
        _section("day_retention", report, _day_retention(report)),
        _section("monthly_retention", report, _monthly_retention(report)),
        _section("churn", report, _churn(report)),
        _section("segment_sizes", report, _segment_sizes(report)),
        _section("conversion_by", report, _conversion_by(report)),
        _section("communities", report, _communities(report)),
    ]


def _volumes(report: dict[str, Any]) -> str:
    v = report["volumes"]
    if not v["types"]:
        return _empty(_("No events in the period."))
    days = list(v["per_day"])
    partial = partial_days(report["period"])  # the days not over are marked *
    shown = {d: f"{d}*" if partial is not None and d >= partial else d for d in days}
    charted = [k for k in CHARTED if k in v["types"]]
    chart = ""
    if charted:
        chart = bar_chart(
            "volumes",
            _("Posts, replies, reactions and shares per day"),
            [shown[d][5:] for d in days],
            [volume_label(k) for k in charted],
            [[v["per_day"][d][k] for d in days] for k in charted],
            _("day"),
            _("events"),
        )
    headers = [_("day"), *(volume_label(k) for k in v["types"])]
    total = _rows(headers, [[_("total"), *(v["total"][k] for k in v["types"])]])
    rows = [[shown[d], *(counts[k] for k in v["types"])] for d, counts in v["per_day"].items()]
    summary = escape(_("Per day"))
    per_day = f'<details class="data"><summary>{summary}</summary>{_rows(headers, rows)}</details>'
    return chart + total + per_day


def _day_retention(report: dict[str, Any]) -> str:
    r = report["day_retention"]
    if not r["per_day"]:
        return _empty(_("No members were first seen in the period."))
    days = [str(n) for n in r["days"]]
    rows = [
        [row["day"], row["members"], *(share(row["rate"][n]) for n in days)] for row in r["per_day"]
    ]
    rows.append([_("overall"), "", *(share(r["overall"][n]["rate"]) for n in days)])
    headers = [_("first seen on"), _("members"), *(_("day {n}").format(n=n) for n in days)]
    return _rows(headers, rows, bold_last=True)


def _monthly_retention(report: dict[str, Any]) -> str:
    cohorts = report["monthly_retention"]
    if not cohorts:
        return _empty(_("No members were first seen in the period."))
    months = max(len(c["percent"]) for c in cohorts)
    rows = [
        [
            c["month"],
            c["members"],
            *(f"{p:.0f}%" for p in c["percent"]),
            *([""] * (months - len(c["percent"]))),
        ]
        for c in cohorts
    ]
    headers = [
        _("first seen in"),
        _("members"),
        *(_("month {k}").format(k=k) for k in range(months)),
    ]
    return _rows(headers, rows)


def _churn(report: dict[str, Any]) -> str:
    c = report["churn"]
    rows = [
        [_("members at the start"), c["members_at_start"]],
        [_("churned in the period"), c["churned_in_period"]],
        [_("churn rate"), share(c["rate"])],
    ]
    return _rows([_("figure"), _("value")], rows)


def _segment_sizes(report: dict[str, Any]) -> str:
    """A chart of each segment's size on the days counted, and the table of every day."""
    s = report["segment_sizes"]
    names = s["segments"]
    if not names:
        return _empty(_("No segment was counted in the period."))
    partial = partial_days(report["period"])  # the days not over are marked *
    shown = {d: f"{d}*" if partial is not None and d >= partial else d for d in s["per_day"]}
    counted = [
        d for d, counts in s["per_day"].items() if any(v is not None for v in counts.values())
    ]
    chart = bar_chart(
        "segment_sizes",
        _("Members in each segment at the end of the day"),
        [shown[d][5:] for d in counted],
        names,
        [[s["per_day"][d][name] or 0 for d in counted] for name in names],
        _("day"),
        _("members"),
    )
    rows = [
        [shown[d], *(count_or_dash(counts[name]) for name in names)]
        for d, counts in s["per_day"].items()
    ]
    summary = escape(_("Per day"))
    table = _rows([_("day"), *names], rows)
    return chart + f'<details class="data"><summary>{summary}</summary>{table}</details>'


def _conversion_by(report: dict[str, Any]) -> str:
    by = report["conversion_by"]
    parts = []
    for dimension, label in DIMENSION_LABELS.items():
        rows = by[dimension]
        if not rows:
            parts.append(_empty(_("No member has a {dimension}.").format(dimension=_(label))))
            continue
        parts.append(
            _rows(
                [_(label), _("members"), _("converted"), _("rate"), _("95% interval")],
                [
                    [
                        value_label(r["value"]),
                        r["members"],
                        r["converted"],
                        share(r["rate"]),
                        bounds(r["ci95"]),
                    ]
                    for r in rows
                ],
            )
        )
    return "".join(parts)


def _communities(report: dict[str, Any]) -> str:
    rows = report["communities"]
    if not rows:
        return _empty(_("No activity in the period."))
    out = _rows(
        [_("community"), _("events"), _("active members")],
        [[r["community"], r["events"], r["active_members"]] for r in rows],
    )
    channels = [[r["community"], ch["channel"], ch["events"]] for r in rows for ch in r["channels"]]
    if not channels:
        return out + _empty(_("No event named a channel in the period."))
    return out + _rows([_("community"), _("channel"), _("events")], channels)
