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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .._util.periods import QUARTER_HOUR
from ..model.decision import Decision

if TYPE_CHECKING:
    from ..compile.playbook import CompiledPlaybook

#: (community, member, day, event type) -> events
ActivityCounts = dict[tuple[str, str, str, str], int]

#: How long traces are kept by default, in seconds of event time (30 days).
DEFAULT_TRACE_RETENTION = 30 * 86400.0

#: How long a store remembers processed ids by default, in seconds of event time behind
#: its clock (30 days): the dedup window (docs/reference.md §10).
DEFAULT_DEDUP_WINDOW = 30 * 86400.0

#: The quarantine reason of an event dated before a store's dedup horizon: its id may
#: have been forgotten, so whether it was processed can no longer be known.
BEYOND_DEDUP_WINDOW = "beyond_dedup_window"


def beyond_horizon(event_ts: float, horizon: float | None) -> bool:
    """Whether an event dated ``event_ts`` is at or before a store's dedup horizon: its
    id may have been forgotten, so unless it is known as processed it is refused."""
    return horizon is not None and event_ts <= horizon


def dedup_message(event_id: str, event_at: str, horizon: float) -> str:
    """The quarantine message of an event dated before the dedup horizon."""
    return (
        f"event {event_id!r} is dated {event_at}, before {from_epoch(horizon)}: the store "
        "no longer remembers the ids of events that old (its dedup window), so it cannot "
        "tell whether this one was processed; it is not processed again"
    )


def from_epoch(ts: float) -> str:
    """An epoch time as ISO 8601 in UTC."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


@dataclass(slots=True)
class ReportContext:
    """What a store knows about the playbook that writes to it, for reports: its name,
    time zone and the event types that count as activity (docs/reference.md §5.6)."""

    playbook: str = ""
    timezone: str = "UTC"
    activity_events: tuple[str, ...] = ()
    #: The event types the playbook raises itself (``emit``): counted per member and
    #: day like external events, so a report's ``--goal`` can name them, but never
    #: activity unless ``activity_events`` lists them.
    emitted: tuple[str, ...] = ()
    #: The playbook's experiments and their variants, in the order written (a report
    #: splits a goal's conversion by variant).
    experiments: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: The community's display name (``community.name`` of the playbook), for titles.
    community_name: str = ""

    @classmethod
    def of(cls, playbook: CompiledPlaybook) -> ReportContext:
        emitted = {str(getattr(a.params, "type", "")) for a in playbook.actions if a.name == "emit"}
        return cls(
            playbook.name,
            playbook.timezone.key,
            tuple(sorted(playbook.activity_events)),
            tuple(sorted(t for t in emitted if t)),
            tuple(
                (name, tuple(v for v, _ in table))
                for name, table in playbook.env.experiments.items()
            ),
            playbook.community_name,
        )

    @property
    def passive_events(self) -> frozenset[str]:
        """Event types counted for goals that never make a member active."""
        return frozenset(self.emitted) - frozenset(self.activity_events)

    def to_json(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook,
            "timezone": self.timezone,
            "activity_events": list(self.activity_events),
            "emitted": list(self.emitted),
            "experiments": [[name, list(variants)] for name, variants in self.experiments],
            "community_name": self.community_name,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ReportContext:
        return cls(
            str(d.get("playbook", "")),
            str(d.get("timezone", "UTC")),
            tuple(d.get("activity_events", ())),
            tuple(d.get("emitted", ())),
            tuple((str(e[0]), tuple(e[1])) for e in d.get("experiments", ())),
            str(d.get("community_name", "")),
        )


def zone(name: str) -> ZoneInfo:
    """The time zone ``name``, or UTC when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


#: The activity type of an exposure to an experiment's variant: ``experiment:<name>=<v>``
#: (names cannot hold ``=``).
EXPOSURE_PREFIX = "experiment:"


def exposure_type(experiment: object, variant: object) -> str | None:
    """The activity type that counts exposures to ``variant`` of ``experiment``."""
    if not isinstance(experiment, str) or not isinstance(variant, str):
        return None
    return f"{EXPOSURE_PREFIX}{experiment}={variant}"


class ActivityCounter:
    """Counts a batch's external events per member and local day, and the events the
    playbook raises itself (``emit`` actions)."""

    __slots__ = ("_days", "_tz", "emits")

    def __init__(self) -> None:
        self._tz = ZoneInfo("UTC")
        #: The playbook has ``emit`` actions or experiments (counted from the decisions'
        #: actions).
        self.emits = False
        #: quarter hour of UTC (``ts // QUARTER_HOUR``) -> local date: local midnight
        #: always falls on a quarter hour, so one conversion per quarter hour serves every
        #: event in it.
        self._days: dict[float, str] = {}

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    @tz.setter
    def tz(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self._days = {}

    def use(self, context: ReportContext) -> None:
        """Count for the playbook ``context`` describes (its time zone, its emits)."""
        self.tz = zone(context.timezone)
        self.emits = bool(context.emitted or context.experiments)

    def count(self, decisions: Iterable[Decision], into: ActivityCounts) -> ActivityCounts:
        days = self._days
        get = into.get
        emits = self.emits
        # The day of the latest quarter hour seen: the events of a batch come in time
        # order, so most of them fall in the same quarter hour as the one before.
        last_bucket, day = None, ""
        for d in decisions:
            if emits and d.actions:
                self._count_emits(d, into)
            ev = d.event
            if ev is None:
                continue
            ref = ev.member
            if ref is None or ev.internal:
                continue
            bucket = ev.ts // QUARTER_HOUR
            if bucket != last_bucket:
                last_bucket = bucket
                found = days.get(bucket)
                if found is None:
                    if len(days) > 4096:
                        days.clear()
                    found = days[bucket] = ev.at.astimezone(self._tz).date().isoformat()
                day = found
            key = (ev.community, ref.id, day, ev.type)
            into[key] = get(key, 0) + 1
        return into

    def _count_emits(self, d: Decision, into: ActivityCounts) -> None:
        """Count the events ``d``'s ``emit`` actions raised (for their member), and the
        exposures to experiments (as ``experiment:<name>=<variant>``, a bookkeeping
        type no event can have: never activity)."""
        for a in d.actions:
            if a.member is None or a.shadow:
                continue
            if a.type == "emit":
                type_ = a.params.get("type")
            elif a.type == "exposed":
                type_ = exposure_type(a.params.get("experiment"), a.params.get("variant"))
            else:
                continue
            if not isinstance(type_, str):
                continue
            day = a.at.astimezone(self._tz).date().isoformat()
            key = (a.community or "", a.member, day, type_)
            into[key] = into.get(key, 0) + 1


def trace_rows(decisions: Sequence[Decision]) -> list[dict[str, Any]]:
    """Every trace of a batch, in decision order."""
    out: list[dict[str, Any]] = []
    for d in decisions:
        if d.traces:
            out.extend(d.traces)
    return out


def trace_matches(
    trace: dict[str, Any],
    event: str | None,
    cause: str | None,
    member: str | None,
    community: str | None,
) -> bool:
    """True when a stored trace matches every filter given."""
    if event is not None and trace.get("event") != event:
        return False
    if cause is not None and trace.get("cause", trace.get("event")) != cause:
        return False
    if member is not None and trace.get("member") != member:
        return False
    return community is None or trace.get("community") == community
