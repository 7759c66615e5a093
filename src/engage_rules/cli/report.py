"""``engage-rules report``: read a store, compute the figures, print or write them.

Errors a user can make (no such store, a memory: store, a bad date or period, an unknown
community) are one ``error: ...`` line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .._util.durations import parse_duration
from .._util.suggest import closest
from ..errors import StoreError, UsageError
from ..i18n import _, ngettext
from ..model.events import CANONICAL_TYPES, INTERNAL_TYPES
from ..store.member_lists import LIST_KINDS

if TYPE_CHECKING:
    from ..tools.report.data import ReportData
    from ..tools.report.figures import Period


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
    p.add_argument(
        "--campaign",
        metavar="FROM..TO",
        help=_(
            "evaluate a campaign: the period FROM..TO (YYYY-MM-DD..YYYY-MM-DD) next to the "
            "same number of days just before it"
        ),
    )
    p.add_argument(
        "--compare-before",
        action="store_true",
        help=_("show the period's figures next to the same number of days just before it"),
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
    p.add_argument(
        "--list-size",
        type=int,
        default=None,
        metavar="N",
        help=_(
            "how many members the report lists as newly silent, churned and top "
            "contributors (default: 10; 0: no lists)"
        ),
    )
    p.add_argument("--json", action="store_true", help=_("print the figures as JSON"))
    p.add_argument("--html", metavar="FILE", help=_("also write an HTML report with charts"))
    p.add_argument(
        "--members",
        choices=LIST_KINDS,
        help=_(
            "export one member list instead of the report: silent (newly silent), "
            "churned or top (top contributors); with --csv and/or --xlsx"
        ),
    )
    p.add_argument(
        "--csv", metavar="FILE", help=_("write the --members list as CSV (UTF-8 with BOM)")
    )
    p.add_argument(
        "--xlsx", metavar="FILE", help=_("write the --members list as an Excel workbook")
    )
    p.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help=_("export at most N members of the --members list (default: all)"),
    )


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            _("{option} {value!r} is not a date; write it as YYYY-MM-DD").format(
                option=option, value=text
            )
        ) from None


def _churn_days(text: str) -> int:
    try:
        value = parse_duration(text)
    except ValueError as err:
        raise UsageError(_("--churn-after: {problem}").format(problem=err)) from None
    seconds = int(value.total_seconds())
    if seconds <= 0 or seconds % 86400:
        raise UsageError(
            _("--churn-after {value!r} must be a whole number of days, e.g. 30d or 4w").format(
                value=text
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


@dataclass(slots=True)
class Choices:
    """What the options ask for, checked: the period's days (None: the default), whether
    to compare with the days before, the churn days, and the list sizes."""

    start: date | None
    end: date | None
    compare: bool
    churn_days: int
    list_size: int


def _choices(args: argparse.Namespace) -> Choices:
    """The options, checked (UsageError: a mistake the user can fix)."""
    from ..tools.report.compare import parse_campaign
    from ..tools.report.lists import DEFAULT_LIST_SIZE

    start, end = _date(args.start, "--from"), _date(args.end, "--to")
    compare = args.compare_before
    if args.campaign is not None:
        if start is not None or end is not None:
            raise UsageError(_("--campaign gives the period: leave out --from and --to"))
        try:
            start, end = parse_campaign(args.campaign)
        except ValueError as err:
            raise UsageError(str(err)) from None
        compare = True
    if start is not None and end is not None and start > end:
        raise UsageError(
            _("--from {first} is after --to {last}").format(
                first=start.isoformat(), last=end.isoformat()
            )
        )
    exporting = args.csv is not None or args.xlsx is not None
    if args.members is not None and not exporting:
        raise UsageError(_("--members needs a file to write: --csv FILE and/or --xlsx FILE"))
    if args.members is not None:
        for option, given in (
            ("--json", args.json),
            ("--html", args.html is not None),
            ("--campaign", args.campaign is not None),
            ("--compare-before", args.compare_before),
        ):
            if given:
                raise UsageError(
                    _(
                        "--members writes a member list instead of the report: leave out "
                        "{option} (give the period with --from and --to)"
                    ).format(option=option)
                )
    if exporting and args.members is None:
        raise UsageError(
            _("--csv and --xlsx write a member list: add --members silent|churned|top")
        )
    if args.limit is not None and (args.members is None or args.limit < 1):
        raise UsageError(_("--limit N (1 or more) goes with --members"))
    if args.list_size is not None and args.list_size < 0:
        raise UsageError(_("--list-size must be 0 or more"))
    size = DEFAULT_LIST_SIZE if args.list_size is None else args.list_size
    return Choices(start, end, compare, _churn_days(args.churn_after), size)


def _export(
    args: argparse.Namespace, store: Any, data: ReportData, period: Period, c: Choices
) -> int:
    """Write the ``--members`` list to the ``--csv`` and ``--xlsx`` files."""
    from ..tools.report.export import write_csv, write_xlsx
    from ..tools.report.lists import cells, headings, list_title, member_rows

    kind = args.members

    def rows() -> Iterator[list[Any]]:
        for row in member_rows(store, data, period, kind, c.churn_days, args.limit, args.goal):
            yield cells(kind, row)

    for path, write in ((args.csv, "csv"), (args.xlsx, "xlsx")):
        if path is None:
            continue
        try:
            if write == "csv":
                n = write_csv(Path(path), headings(kind), rows())
            else:
                n = write_xlsx(Path(path), list_title(kind), headings(kind), rows())
        except OSError as err:
            print(
                _("error: cannot write {file}: {problem}").format(
                    file=path, problem=err.strerror or err
                ),
                file=sys.stderr,
            )
            return 2
        print(
            ngettext("wrote {file} ({n} member)", "wrote {file} ({n} members)", n).format(
                file=path, n=n
            ),
            file=sys.stderr,
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``engage-rules report``: a community report from what a store keeps."""
    from ..errors import PeriodError, ReportDataError
    from ..tools.report.build import build_report, choose_period
    from ..tools.report.compare import before, comparison
    from ..tools.report.data import read_period, read_store
    from ..tools.report.lists import read_member_lists
    from .common import open_persistent_store

    try:
        c = _choices(args)
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
        period = choose_period(data, c.start, c.end)
        if args.members is not None:
            return _export(args, store, data, period, c)
        counts = read_period(store, data, period, args.goal, c.churn_days)
        earlier = (
            read_period(store, data, before(period), args.goal, c.churn_days) if c.compare else None
        )
        member_lists = (
            read_member_lists(store, data, period, c.churn_days, c.list_size, args.goal)
            if c.list_size
            else None
        )
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
    report = build_report(data, counts, churn_days=c.churn_days)
    if member_lists is not None:
        report["member_lists"] = member_lists
    if earlier is not None:
        report["comparison"] = comparison(
            report, build_report(data, earlier, churn_days=c.churn_days)
        )
    if args.html:
        from ..tools.report.html import render_html

        try:
            Path(args.html).write_text(render_html(report), encoding="utf-8")
        except OSError as err:
            print(
                _("error: cannot write {file}: {problem}").format(
                    file=args.html, problem=err.strerror or err
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
