"""What stores keep for reports and explanations, beside state: daily activity counts,
rule traces with their retention, and the context a report reads them in.

Activity is counted per (community, member, local day, event type) for every external
event that names a member; the day is the calendar date in the playbook's time zone,
which the runner tells the store with ``set_report_context``.  That is all a report
needs for daily, weekly and monthly active members, joins, leaves, retention cohorts,
silence and conversion — without keeping the events themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..decision import Decision
from ..periods import PeriodCache

#: (community, member, day, event type) -> events
ActivityCounts = dict[tuple[str, str, str, str], int]

#: How long traces are kept by default, in seconds of event time (30 days).
DEFAULT_TRACE_RETENTION = 30 * 86400.0


@dataclass(slots=True)
class ReportContext:
    """What a store knows about the playbook that writes to it, for reports: its name,
    time zone and the event types that count as activity (DESIGN.md §5.6)."""

    playbook: str = ""
    timezone: str = "UTC"
    activity_events: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"playbook": self.playbook, "timezone": self.timezone,
                "activity_events": list(self.activity_events)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ReportContext:
        return cls(str(d.get("playbook", "")), str(d.get("timezone", "UTC")),
                   tuple(d.get("activity_events", ())))


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(slots=True)
class ActivityCounter:
    """Counts a batch's external events per member and local day."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    _days: PeriodCache | None = None

    def day(self, at: datetime, at_ts: float) -> str:
        days = self._days
        if days is None or days.tz is not self.tz:
            days = self._days = PeriodCache(self.tz, "day")
        return days.of(at, at_ts)

    def count(self, decisions: Iterable[Decision], into: ActivityCounts) -> ActivityCounts:
        day = self.day
        for d in decisions:
            ev = d.event
            if ev is None or ev.internal or ev.member is None:
                continue
            key = (ev.community, ev.member.id, day(ev.at, ev.ts), ev.type)
            into[key] = into.get(key, 0) + 1
        return into


def trace_rows(decisions: Sequence[Decision]) -> list[dict[str, Any]]:
    """Every trace of a batch, in decision order."""
    out: list[dict[str, Any]] = []
    for d in decisions:
        if d.traces:
            out.extend(d.traces)
    return out


def trace_matches(trace: dict[str, Any], event: str | None, cause: str | None,
                  member: str | None, community: str | None) -> bool:
    if event is not None and trace.get("event") != event:
        return False
    if cause is not None and trace.get("cause", trace.get("event")) != cause:
        return False
    if member is not None and trace.get("member") != member:
        return False
    return community is None or trace.get("community") == community
