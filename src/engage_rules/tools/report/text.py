"""The report as terminal tables (rich).  On a terminal it has colour; written to a file
or a pipe it is plain text, with no escape codes, so it can be pasted or mailed."""

from __future__ import annotations

from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

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
from .text_figures import print_figures

#: The widest the plain-text report gets when not on a terminal.
PLAIN_WIDTH = 100


def _table(*columns: str, numeric_from: int = 1) -> Table:
    t = Table(show_header=True, header_style="bold", show_edge=True, pad_edge=True)
    for i, name in enumerate(columns):
        t.add_column(name, justify="right" if i >= numeric_from else "left")
    return t


def _section(console: Console, report: dict[str, Any], key: str) -> None:
    console.print()
    console.print(Text(title(key), style="bold underline"))
    console.print(Text(explain(key, report), style="dim"))


def _counts(console: Console, heading: str, counts: dict[str, int], empty: str) -> None:
    if not counts:
        console.print(empty)
        return
    t = _table(heading, "count")
    for name, n in counts.items():
        t.add_row(REASONS.get(name, name), str(n))
    console.print(t)


def print_report(report: dict[str, Any], stream: IO[str]) -> None:
    """Print every section of ``report`` to ``stream``."""
    terminal = stream.isatty()
    console = Console(
        file=stream,
        highlight=False,
        soft_wrap=False,
        markup=False,
        emoji=False,
        width=None if terminal else PLAIN_WIDTH,
        force_terminal=terminal,
        no_color=not terminal,
    )
    period = report["period"]
    where = report["community"] or "all communities"
    console.print(Text(f"Community report: {report_title(report)} ({where})", style="bold"))
    console.print(
        f"Period: {period['from']} to {period['to']} ({period['days']} days, "
        f"time zone {report['timezone']})"
    )
    note = partial_note(period)
    if note is not None:
        console.print(Text(note, style="dim"))

    m, a = report["members"], report["activity"]
    _section(console, report, "members")
    t = _table("figure", "value")
    for label, value in (
        ("members at period end", m["total"]),
        ("new", m["new"]),
        ("left", m["left"]),
        ("churned", m["churned"]),
    ):
        t.add_row(label, str(value))
    console.print(t)

    _section(console, report, "activity")
    t = _table("figure", "value")
    t.add_row("average DAU", f"{a['average_dau']:g}")
    t.add_row("WAU (last 7 days)", str(a["wau"]))
    t.add_row("MAU (last 30 days)", str(a["mau"]))
    t.add_row("active in the period", str(a["active_in_period"]))
    t.add_row("monthly activity rate", percent(a["monthly_active_rate"]))
    t.add_row("period activity rate", percent(a["period_active_rate"]))
    console.print(t)
    t = _table("day", "DAU", "new", "left")
    partial = partial_days(period)
    for day, n in a["dau"].items():
        shown = f"{day} *" if partial is not None and day >= partial else day
        t.add_row(shown, str(n), str(m["new_per_day"][day]), str(m["left_per_day"][day]))
    console.print(t)

    _retention(console, report)

    _section(console, report, "silence")
    t = _table("stage", "members")
    for stage in report["silence_stages"]:
        t.add_row(stage["label"], str(m["silence"][stage["key"]]))
    console.print(t)

    c = report["conversion"]
    _section(console, report, "conversion")
    t = _table("figure", "value")
    t.add_row(f"'{c['goal']}' events", str(c["events"]))
    t.add_row("members who converted", str(c["converters"]))
    t.add_row("active members", str(c["active_members"]))
    t.add_row("conversion rate", percent(c["rate"]))
    per = c["events_per_active_member"]
    t.add_row("goal events per active member", "–" if per is None else f"{per:g}")
    console.print(t)

    if report.get("experiments"):
        _section(console, report, "experiments")
        t = _table(
            "experiment", "variant", "exposed", "converted", "rate", "95% interval", numeric_from=2
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
        console.print(t)

    print_figures(console, report)
    _outcomes(console, report)


def _retention(console: Console, report: dict[str, Any]) -> None:
    _section(console, report, "retention")
    cohorts = report["retention"]
    if not cohorts:
        console.print("No members were first seen in the period.")
        return
    weeks = max(len(c["percent"]) for c in cohorts)
    t = _table("joined in week", "members", *(f"week {k}" for k in range(weeks)))
    for c in cohorts:
        cells = [f"{p:.0f}%" for p in c["percent"]] + [""] * (weeks - len(c["percent"]))
        t.add_row(f"{c['week']} ({c['starts']})", str(c["members"]), *cells)
    console.print(t)


def _outcomes(console: Console, report: dict[str, Any]) -> None:
    _section(console, report, "rules")
    if report["rules"]:
        t = _table("rule", "times fired", "actions")
        for r in report["rules"]:
            t.add_row(r["rule"], str(r["times"]), str(r["actions"]))
        console.print(t)
    else:
        console.print("No rule acted in the period.")

    _section(console, report, "moderation")
    _counts(console, "action", report["moderation"], "No moderation actions in the period.")

    msg = report["messages"]
    _section(console, report, "messages")
    _counts(console, "sent", msg["sent"], "No messages sent in the period.")
    console.print(f"Deferred: {msg['deferred_total']}   Suppressed: {msg['suppressed_total']}")
    if msg["deferred"]:
        _counts(console, "deferred because", msg["deferred"], "")
    if msg["suppressed"]:
        _counts(console, "suppressed because", msg["suppressed"], "")

    _section(console, report, "points")
    if report["points"]:
        t = _table("currency", "issued", "spent", "expired", "revoked")
        for currency, row in report["points"].items():
            t.add_row(
                currency, *(str(row.get(k, 0)) for k in ("issued", "spent", "expired", "revoked"))
            )
        console.print(t)
    else:
        console.print("No points moved in the period.")

    _section(console, report, "shadow")
    if report["shadow"]:
        t = _table("rule", "would have done", "times", "members", numeric_from=2)
        for s in report["shadow"]:
            t.add_row(s["rule"], s["action"], str(s["actions"]), str(s["members"]))
        console.print(t)
    else:
        console.print("No rule in shadow mode acted in the period.")
