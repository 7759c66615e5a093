"""The report as terminal tables (rich).  On a terminal it has colour; written to a file
or a pipe it is plain text, with no escape codes, so it can be pasted or mailed.

Written to a file or a pipe, a table is never cut: one wider than :data:`PLAIN_WIDTH` is
printed at its own width.  On a terminal, the retention table's cohort labels shrink to
the week alone (``2026-W14``) when the full label (``2026-W14 (2026-03-30)``) would not
fit, and are never cut either.
"""

from __future__ import annotations

from typing import IO, Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ...i18n import _
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
from .text_figures import print_figures

#: The widest the plain-text report's paragraphs get when not on a terminal.
PLAIN_WIDTH = 100


def _table(*columns: str, numeric_from: int = 1) -> Table:
    t = Table(show_header=True, header_style="bold", show_edge=True, pad_edge=True)
    for i, name in enumerate(columns):
        t.add_column(name, justify="right" if i >= numeric_from else "left", no_wrap=i == 0)
    return t


def natural_width(console: Console, table: Table) -> int:
    """The width ``table`` takes when nothing limits it."""
    return Measurement.get(console, console.options.update_width(10**5), table).maximum


def print_table(console: Console, table: Table) -> None:
    """Print ``table``; off a terminal, at its own width when wider than the page, so no
    cell is cut."""
    if console.is_terminal:
        console.print(table)
        return
    width = console.width
    console.width = max(width, natural_width(console, table))
    try:
        console.print(table)
    finally:
        console.width = width


def _section(console: Console, report: dict[str, Any], key: str) -> None:
    console.print()
    console.print(Text(title(key), style="bold underline"))
    console.print(Text(explain(key, report), style="dim"))


def _counts(console: Console, heading: str, counts: dict[str, int], empty: str) -> None:
    if not counts:
        console.print(empty)
        return
    t = _table(heading, _("count"))
    for name, n in counts.items():
        t.add_row(words(name), str(n))
    print_table(console, t)


def make_console(stream: IO[str], width: int | None = None) -> Console:
    """A console for ``stream``: coloured on a terminal, plain text elsewhere."""
    terminal = stream.isatty()
    return Console(
        file=stream,
        highlight=False,
        soft_wrap=False,
        markup=False,
        emoji=False,
        width=width if width is not None else (None if terminal else PLAIN_WIDTH),
        force_terminal=terminal,
        no_color=not terminal,
    )


def print_report(report: dict[str, Any], stream: IO[str], width: int | None = None) -> None:
    """Print every section of ``report`` to ``stream`` (``width``: the terminal's, when
    known better than rich can tell)."""
    console = make_console(stream, width)
    period = report["period"]
    where = report["community"] or _("all communities")
    console.print(
        Text(
            _("Community report: {title} ({where})").format(
                title=report_title(report), where=where
            ),
            style="bold",
        )
    )
    console.print(
        _("Period: {first} to {last} ({days} days, time zone {timezone})").format(
            first=period["from"],
            last=period["to"],
            days=period["days"],
            timezone=report["timezone"],
        )
    )
    note = partial_note(period)
    if note is not None:
        console.print(Text(note, style="dim"))
    if report.get("comparison"):
        _comparison(console, report)

    m, a = report["members"], report["activity"]
    _section(console, report, "members")
    t = _table(_("figure"), _("value"))
    for label, value in (
        (_("members at period end"), m["total"]),
        (_("new"), m["new"]),
        (_("left"), m["left"]),
        (_("churned"), m["churned"]),
    ):
        t.add_row(label, str(value))
    print_table(console, t)

    _section(console, report, "activity")
    t = _table(_("figure"), _("value"))
    t.add_row(_("average DAU"), f"{a['average_dau']:g}")
    t.add_row(_("WAU (last 7 days)"), str(a["wau"]))
    t.add_row(_("MAU (last 30 days)"), str(a["mau"]))
    t.add_row(_("active in the period"), str(a["active_in_period"]))
    t.add_row(_("monthly activity rate"), percent(a["monthly_active_rate"]))
    t.add_row(_("period activity rate"), percent(a["period_active_rate"]))
    print_table(console, t)
    t = _table(_("day"), _("DAU"), _("new"), _("left"))
    partial = partial_days(period)
    for day, n in a["dau"].items():
        shown = f"{day} *" if partial is not None and day >= partial else day
        t.add_row(shown, str(n), str(m["new_per_day"][day]), str(m["left_per_day"][day]))
    print_table(console, t)

    _retention(console, report)

    _section(console, report, "silence")
    t = _table(_("stage"), _("members"))
    for stage in report["silence_stages"]:
        t.add_row(words(stage["label"]), str(m["silence"][stage["key"]]))
    print_table(console, t)

    if report.get("member_lists"):
        _lists(console, report)

    c = report["conversion"]
    _section(console, report, "conversion")
    t = _table(_("figure"), _("value"))
    t.add_row(_("'{goal}' events").format(goal=c["goal"]), str(c["events"]))
    t.add_row(_("members who converted"), str(c["converters"]))
    t.add_row(_("active members"), str(c["active_members"]))
    t.add_row(_("conversion rate"), percent(c["rate"]))
    per = c["events_per_active_member"]
    t.add_row(_("goal events per active member"), "–" if per is None else f"{per:g}")
    print_table(console, t)

    if report.get("experiments"):
        _section(console, report, "experiments")
        t = _table(
            _("experiment"),
            _("variant"),
            _("exposed"),
            _("converted"),
            _("rate"),
            _("95% interval"),
            numeric_from=2,
        )
        for e in report["experiments"]:
            for v in e["variants"]:
                t.add_row(
                    e["experiment"],
                    v["variant"],
                    str(v["exposed"]),
                    str(v["converted"]),
                    percent(v["rate"]),
                    interval(v["ci95"]),
                )
        print_table(console, t)

    print_figures(console, report)
    _outcomes(console, report)


def cohort_label(cohort: dict[str, Any], short: bool = False) -> str:
    """A retention cohort's label: its ISO week and the Monday it starts on, or (short)
    the week alone."""
    if short:
        return str(cohort["week"])
    return f"{cohort['week']} ({cohort['starts']})"


def _retention_table(cohorts: list[dict[str, Any]], short: bool, weeks: int) -> Table:
    t = _table(
        _("joined in week"),
        _("members"),
        *(_("week {n}").format(n=k) for k in range(weeks)),
    )
    for c in cohorts:
        cells = [f"{p:.0f}%" for p in c["percent"][:weeks]]
        t.add_row(cohort_label(c, short), str(c["members"]), *cells, *[""] * (weeks - len(cells)))
    return t


def _retention(console: Console, report: dict[str, Any]) -> None:
    _section(console, report, "retention")
    cohorts = report["retention"]
    if not cohorts:
        console.print(_("No members were first seen in the period."))
        return
    weeks = max(len(c["percent"]) for c in cohorts)
    t = _retention_table(cohorts, False, weeks)
    if not console.is_terminal or natural_width(console, t) <= console.width:
        print_table(console, t)
        return
    # On a terminal too narrow for it: the week alone as the label, and the weeks that fit.
    shown = weeks
    t = _retention_table(cohorts, True, shown)
    while shown > 1 and natural_width(console, t) > console.width:
        shown -= 1
        t = _retention_table(cohorts, True, shown)
    console.print(t)
    if shown < weeks:
        console.print(
            Text(
                _(
                    "Weeks {first} to {last} do not fit in this terminal: see them with "
                    "--html or --json, or in a wider window."
                ).format(first=shown, last=weeks - 1),
                style="dim",
            )
        )


def _outcomes(console: Console, report: dict[str, Any]) -> None:
    _section(console, report, "rules")
    if report["rules"]:
        t = _table(_("rule"), _("times fired"), _("actions"))
        for r in report["rules"]:
            t.add_row(r["rule"], str(r["times"]), str(r["actions"]))
        print_table(console, t)
    else:
        console.print(_("No rule acted in the period."))

    _section(console, report, "moderation")
    _counts(console, _("action"), report["moderation"], _("No moderation actions in the period."))

    msg = report["messages"]
    _section(console, report, "messages")
    _counts(console, _("sent"), msg["sent"], _("No messages sent in the period."))
    console.print(
        _("Deferred: {deferred}   Suppressed: {suppressed}").format(
            deferred=msg["deferred_total"], suppressed=msg["suppressed_total"]
        )
    )
    if msg["deferred"]:
        _counts(console, _("deferred because"), msg["deferred"], "")
    if msg["suppressed"]:
        _counts(console, _("suppressed because"), msg["suppressed"], "")

    _section(console, report, "points")
    if report["points"]:
        kinds = ("issued", "spent", "expired", "revoked")
        t = _table(_("currency"), *(words(k) for k in kinds))
        for currency, row in report["points"].items():
            t.add_row(currency, *(str(row.get(k, 0)) for k in kinds))
        print_table(console, t)
    else:
        console.print(_("No points moved in the period."))

    _section(console, report, "shadow")
    if report["shadow"]:
        t = _table(_("rule"), _("would have done"), _("times"), _("members"), numeric_from=2)
        for s in report["shadow"]:
            t.add_row(s["rule"], s["action"], str(s["actions"]), str(s["members"]))
        print_table(console, t)
    else:
        console.print(_("No rule in shadow mode acted in the period."))


def _comparison(console: Console, report: dict[str, Any]) -> None:
    console.print()
    console.print(Text(_("Campaign: this period and the days before"), style="bold underline"))
    console.print(Text(compare.caption(report), style="dim"))
    c = report["comparison"]
    t = _table(*compare.headings())
    for row in compare.display_rows(c):
        t.add_row(*row)
    print_table(console, t)


def _lists(console: Console, report: dict[str, Any]) -> None:
    found = report["member_lists"]
    for kind in lists.KINDS:
        console.print()
        console.print(Text(lists.list_title(kind), style="bold underline"))
        console.print(Text(lists.list_explain(kind, report["churn_after_days"]), style="dim"))
        if not found[kind]:
            console.print(_("Nobody in the period."))
            continue
        numeric = 3  # member, name, community, then figures
        t = _table(*lists.headings(kind), numeric_from=numeric)
        for row in found[kind]:
            t.add_row(*("" if v is None else str(v) for v in lists.cells(kind, row)))
        print_table(console, t)
