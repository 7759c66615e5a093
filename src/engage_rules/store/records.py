"""What stores keep for reports and explanations, beside state: daily activity counts,
rule traces with their retention, and the context a report reads them in.

Activity is counted per (community, member, local day, event type) for every external
event that names a member; the day is the calendar date in the playbook's time zone,
which the runner tells the store with ``set_report_context``.  That is all a report
needs for daily, weekly and monthly active members, joins, leaves, retention cohorts,
silence and conversion — without keeping the events themselves.

Beside each event's own type, the counter keeps ``experiment:<name>=<variant>`` rows for
exposures (a type with a colon: no event type has one, so never activity); each member's
*marks* (:data:`MemberMarks`: the first day of each) — ``source:<name>`` for a join that
says where the member came from (:func:`join_source`), ``tag:<name>`` when the playbook
tags the member, ``segment:<name>`` from the first daily snapshot that found the member in
that segment (a decision's ``report_marks``, with the segment's size per day in its
``report_totals``); and the day's totals per (community, day, type) (:data:`DayTotals`):
the events of each type summed over members, the replies (``kind:reply``, a ``message.posted`` with
``data.reply_to``) and the events in each channel (``channel:<id>``, joins and leaves
apart) — so a report reads a period's volumes without reading its members' rows
(docs/reports.md, "What the store records").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .._util.periods import QUARTER_HOUR
from ..model.decision import Decision
from ..model.event_problems import BEYOND_DEDUP_WINDOW as BEYOND_DEDUP

if TYPE_CHECKING:
    from ..compile.playbook import CompiledPlaybook

#: (community, member, day, event type) -> events
ActivityCounts = dict[tuple[str, str, str, str], int]
#: (community, day, type) -> events: every member's, the replies, each channel's.
DayTotals = dict[tuple[str, str, str], int]
#: (community, member, mark) -> the first local day of it (``source:<name>``,
#: ``tag:<name>``): where a member came from, the tags the playbook gave them.
MemberMarks = dict[tuple[str, str, str], str]


def add_mark(marks: MemberMarks, key: tuple[str, str, str], day: str) -> None:
    """Keep the first day of a member's mark."""
    if key not in marks or day < marks[key]:
        marks[key] = day


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
    return BEYOND_DEDUP.format(id=repr(event_id), at=event_at, horizon=from_epoch(horizon))


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
    #: The playbook has ``tag`` actions (the counter then records who is tagged when).
    tags: bool = False

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
            any(a.name == "tag" for a in playbook.actions),
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
            "tags": self.tags,
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
            bool(d.get("tags", False)),
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


#: The bookkeeping type counting a member's replies (``message.posted`` with ``reply_to``).
REPLY_TYPE = "kind:reply"
#: Bookkeeping prefixes: events in a channel, where a member came from, tags given.
CHANNEL_PREFIX = "channel:"
SOURCE_PREFIX = "source:"
TAG_PREFIX = "tag:"
#: A segment's size at the end of a day (day totals) and the members seen in it (marks),
#: recorded by the daily segment snapshot (features/segments.py).
SEGMENT_PREFIX = "segment:"
#: The ``member.joined`` data keys that say where a member came from, first found first:
#: ``source`` (any event source may set it), then Telegram's invite link name and link.
SOURCE_KEYS = ("source", "invite_name", "invite_link")


def join_source(data: object) -> str | None:
    """Where a joining member came from (:data:`SOURCE_KEYS`), or None."""
    if not isinstance(data, dict):
        return None
    for key in SOURCE_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def exposure_type(experiment: object, variant: object) -> str | None:
    """The activity type that counts exposures to ``variant`` of ``experiment``."""
    if not isinstance(experiment, str) or not isinstance(variant, str):
        return None
    return f"{EXPOSURE_PREFIX}{experiment}={variant}"


class ActivityCounter:
    """Counts a batch's external events per member and local day, and the events the
    playbook raises itself (``emit`` actions)."""

    __slots__ = ("_channels", "_days", "_tags", "_tz", "emits")

    def __init__(self) -> None:
        self._tz = ZoneInfo("UTC")
        #: The playbook has ``emit`` actions or experiments (counted from the decisions'
        #: actions).
        self.emits = False
        #: quarter hour of UTC (``ts // QUARTER_HOUR``) -> local date: local midnight
        #: always falls on a quarter hour, so one conversion per quarter hour serves every
        #: event in it.
        self._days: dict[float, str] = {}
        #: channel -> its day-total type, ``channel:<name>`` (``_kept``)
        self._channels: dict[str, str] = {}
        #: tag name -> its mark, ``tag:<name>`` (``_kept``)
        self._tags: dict[str, str] = {}

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
        self.emits = bool(context.emitted or context.experiments or context.tags)

    def count(
        self,
        decisions: Iterable[Decision],
        into: ActivityCounts,
        totals: DayTotals | None = None,
        marks: MemberMarks | None = None,
    ) -> ActivityCounts:
        """Count ``decisions`` into ``into`` per member, the replies and channels' events
        into ``totals`` (:func:`add_totals` adds the rest of them), and the members'
        sources and tags into ``marks``.

        Every event adds 1 to a per-member key and mostly to a channel's total: the keys
        are listed, in order, and counted at the end by :class:`collections.Counter`
        (a loop in C, one hash per key) rather than by a ``get`` and a store each.  The
        counts come out in the order their keys were first seen, as one by one."""
        days = self._days
        keys: list[tuple[str, str, str, str]] = []  # of ``into``: one per event counted
        counted = keys.append
        extra: DayTotals = {} if totals is None else totals
        extra_keys: list[tuple[str, str, str]] = []  # of ``extra``: one per event counted
        added = extra_keys.append
        marked: MemberMarks = {} if marks is None else marks
        emits = self.emits
        channels = self._channels
        # The quarter hour of UTC [start, end) of the latest event and its day: the
        # events of a batch come in time order, so most of them fall in the same quarter
        # hour as the one before (a comparison, cheaper than finding its quarter hour).
        start, end, day = 0.0, 0.0, ""
        for d in decisions:
            if emits and d.actions:
                self._count_emits(d, counted, marked)
            if d.report_totals or d.report_marks:
                # its totals come after the events' counted so far, as they did
                _add_counts(extra, Counter(extra_keys))
                extra_keys.clear()
                _count_report_rows(d, extra, marked)
            ev = d.event
            if ev is None:
                continue
            ref = ev.member
            if ref is None or ev.internal:
                continue
            ts = ev.ts
            if not start <= ts < end:
                bucket = ts // QUARTER_HOUR
                start = bucket * QUARTER_HOUR
                end = start + QUARTER_HOUR
                day = days.get(bucket) or self._new_day(bucket, ev.at)
            community, member, type_ = ev.community, ref.id, ev.type
            counted((community, member, day, type_))
            if type_.startswith("member."):
                if type_ == "member.joined":
                    source = join_source(ev.data)
                    if source is not None:
                        add_mark(marked, (community, member, SOURCE_PREFIX + source), day)
                continue
            channel = ev.channel
            if channel:
                added(
                    (
                        community,
                        day,
                        channels.get(channel) or _kept(channels, channel, CHANNEL_PREFIX),
                    )
                )
            if type_ == "message.posted":
                # a reply: its data names the message it replies to
                reply_to = ev.data.get("reply_to")
                if reply_to is not None and reply_to != "":
                    added((community, day, REPLY_TYPE))
        _add_counts(extra, Counter(extra_keys))
        _add_counts(into, Counter(keys))
        return into

    def _count_emits(
        self,
        d: Decision,
        counted: Callable[[tuple[str, str, str, str]], None],
        marks: MemberMarks,
    ) -> None:
        """Count (``counted``: the key of each) the events ``d``'s ``emit`` actions raised
        (for their member), the exposures to experiments (as
        ``experiment:<name>=<variant>``, a bookkeeping type no event can have: never
        activity), and mark the members tagged."""
        # The actions of a decision mostly share their instant (the same object): its
        # day is found once, through the quarter-hour cache ``count`` uses.
        last_at: Any = None
        day = ""
        tags = self._tags
        for a in d.actions:
            kind = a.type
            if kind not in _COUNTED or a.member is None or a.shadow:
                continue
            if a.at is not last_at:
                last_at = a.at
                day = self._day(a.at)
            if kind == "tag":
                name = a.params.get("name")
                if isinstance(name, str) and name:
                    mark = tags.get(name) or _kept(tags, name, TAG_PREFIX)
                    marked = (a.community or "", a.member, mark)
                    if marked not in marks or day < marks[marked]:  # add_mark, written out
                        marks[marked] = day
                continue
            if kind == "emit":
                type_ = a.params.get("type")
            else:
                type_ = exposure_type(a.params.get("experiment"), a.params.get("variant"))
            if not isinstance(type_, str):
                continue
            counted((a.community or "", a.member, day, type_))

    def _day(self, at: datetime) -> str:
        """The local date of ``at``, from the quarter-hour cache when it has it."""
        bucket = at.timestamp() // QUARTER_HOUR
        return self._days.get(bucket) or self._new_day(bucket, at)

    def _new_day(self, bucket: float, at: datetime) -> str:
        """The local date of ``at`` (in quarter hour ``bucket``), added to the cache."""
        if len(self._days) > 4096:
            self._days.clear()
        day = self._days[bucket] = at.astimezone(self._tz).date().isoformat()
        return day


def _add_counts(into: dict[Any, int], counts: Counter[Any]) -> None:
    """Add ``counts`` to ``into``: at once (in C) when ``into`` is empty, as it is for a
    batch's own counts, else one by one."""
    if not into:
        into.update(counts)
        return
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


def _kept(cache: dict[str, str], name: str, prefix: str) -> str:
    """``prefix + name``, kept in ``cache`` for the next events of that name: one text per
    channel or tag, not one per event (bounded: cleared past 4,096 names)."""
    if len(cache) > 4096:
        cache.clear()
    text = cache[name] = prefix + name
    return text


#: The actions ``_count_emits`` looks at.
_COUNTED = frozenset({"emit", "exposed", "tag"})


def _count_report_rows(d: Decision, totals: DayTotals, marks: MemberMarks) -> None:
    """Add the report rows a decision carries (the daily segment snapshot's
    ``segment:<name>`` sizes and marks) to the batch's day totals and marks."""
    for community, day, type_, n in d.report_totals:
        key = (community, day, type_)
        totals[key] = totals.get(key, 0) + n
    for community, member, mark, day in d.report_marks:
        add_mark(marks, (community, member, mark), day)


def add_totals(activity: ActivityCounts, totals: DayTotals) -> DayTotals:
    """Add to ``totals`` the events of ``activity`` per (community, day, type), summed
    over members (exposures left out)."""
    for (community, _member, day, type_), n in activity.items():
        if ":" not in type_:
            key = (community, day, type_)
            totals[key] = totals.get(key, 0) + n
    return totals


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
