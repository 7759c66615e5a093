"""``engage-rules report``: read a store, compute the figures, print or write them.

Errors a user can make (no such store, a memory: store, a bad date or period, an unknown
community) are one ``error: ...`` line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .._util.durations import parse_duration
from .._util.suggest import closest
from ..errors import StoreError, UsageError
from ..i18n import _
from ..model.events import CANONICAL_TYPES, INTERNAL_TYPES

if TYPE_CHECKING:
    from ..tools.report.data import ReportData


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules report``."""
    p.add_argument(
        "--store",
        required=True,
        metavar="URL",
        help=_("the store the engine wrote, e.g. sqlite:///state.db"),
    )
    p.add_argument(
        "--from",
        dest="start",
        metavar="DATE",
        help=_(
            "first day of the period, YYYY-MM-DD in the playbook's time zone "
            "(default: the 30 days ending with --to, --to included)"
        ),
    )
    p.add_argument(
        "--to",
        dest="end",
        metavar="DATE",
        help=_("last day of the period, inclusive (default: the newest day with activity)"),
    )
    p.add_argument("--community", metavar="NAME", help=_("only this community (default: all)"))
    p.add_argument(
        "--goal",
        default="purchase",
        metavar="TYPE",
        help=_("the event type that counts as a conversion (default: purchase)"),
    )
    p.add_argument(
        "--churn-after",
        default="30d",
        metavar="DURATION",
        help=_("a member silent this long counts as churned (default: 30d)"),
    )
    p.add_argument("--json", action="store_true", help=_("print the figures as JSON"))
    p.add_argument("--html", metavar="FILE", help=_("also write an HTML report with charts"))


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            _("{option} {text!r} is not a date; write it as YYYY-MM-DD").format(
                option=option, text=text
            )
        ) from None


def _churn_days(text: str) -> int:
    try:
        value = parse_duration(text)
    except ValueError as err:
        raise UsageError(_("--churn-after: {reason}").format(reason=err)) from None
    seconds = int(value.total_seconds())
    if seconds <= 0 or seconds % 86400:
        raise UsageError(
            _("--churn-after {text!r} must be a whole number of days, e.g. 30d or 4w").format(
                text=text
            )
        )
    return seconds // 86400


#: How close a --goal must be to a known event type to be taken for a typo of it.
GOAL_SIMILARITY = 0.8


def goal_typo(goal: str, data: ReportData, registry: Any) -> str | None:
    """Why ``goal`` looks like a typo of a known event type (the canonical and internal
    types, the installed plugins', the playbook's emitted and activity types), or None.
    A type nobody knows and close to none is accepted: platforms and playbooks invent
    their own."""
    known = {
        *CANONICAL_TYPES,
        *INTERNAL_TYPES,
        *getattr(registry, "event_types", {}),
        *data.passive,
        *data.activity_events,
    }
    if goal in known:
        return None
    match = closest(goal, known, cutoff=GOAL_SIMILARITY)
    if match is None:
        return None
    return _(
        "--goal {goal!r} is no event type the playbook or its platforms use; "
        "did you mean {match!r}?"
    ).format(goal=goal, match=match)


def cmd_report(args: argparse.Namespace) -> int:
    """``engage-rules report``: a community report from what a store keeps."""
    from ..errors import PeriodError, ReportDataError
    from ..tools.report.build import build_report, choose_period
    from ..tools.report.data import read_period, read_store
    from .common import open_persistent_store

    try:
        start, end = _date(args.start, "--from"), _date(args.end, "--to")
        if start is not None and end is not None and start > end:
            raise UsageError(
                _("--from {start} is after --to {end}").format(
                    start=start.isoformat(), end=end.isoformat()
                )
            )
        churn_days = _churn_days(args.churn_after)
        store = open_persistent_store(args.store, args.registry)
    except (UsageError, StoreError) as err:
        print(_("error: {message}").format(message=err), file=sys.stderr)
        return 2
    try:
        data = read_store(store, args.community)
        typo = goal_typo(args.goal, data, args.registry)
        if typo is not None:
            print(_("error: {message}").format(message=typo), file=sys.stderr)
            return 2
        period = choose_period(data, start, end)
        counts = read_period(store, data, period, args.goal)
    except (ReportDataError, PeriodError) as err:
        print(_("error: {message}").format(message=err), file=sys.stderr)
        return 2
    finally:
        store.close()
    if not counts.members.goal_events:
        print(
            _(
                "note: no {goal!r} events in the period (--goal names the event type "
                "that counts as a conversion)"
            ).format(goal=args.goal),
            file=sys.stderr,
        )
    report = build_report(data, counts, churn_days=churn_days)
    if args.html:
        from ..tools.report.html import render_html

        try:
            Path(args.html).write_text(render_html(report), encoding="utf-8")
        except OSError as err:
            print(
                _("error: cannot write {file}: {reason}").format(
                    file=args.html, reason=err.strerror or err
                ),
                file=sys.stderr,
            )
            return 2
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        from ..tools.report.text import print_report

        print_report(report, sys.stdout)
    if args.html:
        print(_("wrote {file}").format(file=args.html), file=sys.stderr)
    return 0
