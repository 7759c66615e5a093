"""Replaying one part of a stream — some of its communities — exactly as the whole
stream's replay treats them, for comparisons and backtests split by community.

A community's rules never touch another community's members or data, so a stream can be
split by community and each part replayed on its own — but for one thing the runner
shares: its clock.  An event older than the clock is *late* (docs/reference.md §3.5):
it fires no timer; and a timer fires just before the first event that moves the clock
past its due time, whatever its community.  So a part is also given the stream's
*ticks*: the line number and time of every well-formed event dated at or after every
event before it, whatever its community.  Before each of its own events, a part moves
its clock through the ticks of other communities' events since its previous one
(firing its own due timers there, in order); its own events it feeds to its runners as
the whole replay would.  Its clock is then the whole stream's clock at every event, and
its communities decide exactly what the whole replay decides for them (see
docs/scaling.md, "Backtests on Dask", for where a split stream differs: an event id
reused in another community, a duplicate dated ahead of the clock, the dedup memory).

Each decision gets a *stamp*, its place in the whole stream: the line of its event (or,
for a timer, of the tick that fired it, then its due time and community), so that rule
errors and examples kept by several parts are listed as one replay lists them.  Between
timers of two communities fired by the same tick at the same due time, the community
name decides (one replay fires them in the order they were set).

:class:`PartitionRun` is the worker's side (a Dask actor, or the one part of
``replay --compare``); it keeps only the bounded summaries a merge needs
(:class:`PartResult`).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..model.events import Event
from ..shell.reader import MAX_ERRORS_SHOWN, Quarantined, keep_for_summary, parse_line
from ..shell.runner import Runner, RunStats
from ..store import MemoryStore
from ..store.records import DEFAULT_DEDUP_WINDOW
from .compare import PartComparison, RunResult, Stamp, compare_part, run_result
from .totals import RunTotals, run_totals

if TYPE_CHECKING:
    from ..compile.playbook import CompiledPlaybook
    from ..model.decision import Decision, RuleFailure

#: The position of what happens after the last line (``--until``).
END = sys.maxsize
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(at: datetime) -> int:
    """An aware time as whole microseconds since the epoch (a tick's exact instant)."""
    return (at - _EPOCH) // _MICROSECOND


class Ticks:
    """The ticks of a stream, read in order: :meth:`see` each well-formed event."""

    def __init__(self) -> None:
        self.clock: int | None = None  # the latest event time seen, in microseconds
        self.lines = array("q")
        self.times = array("q")

    def see(self, line: int, event: Event) -> None:
        """Note ``event`` (at ``line``) as a tick unless it is late."""
        t = micros(event.at)
        if self.clock is None or t >= self.clock:
            self.clock = t
            self.lines.append(line)
            self.times.append(t)

    def take(self) -> tuple[array[int], array[int]]:
        """The ticks seen since the last call (line numbers, times), forgotten here."""
        out = (self.lines, self.times)
        self.lines, self.times = array("q"), array("q")
        return out


@dataclass
class SideResult:
    """What one playbook's run of a part reports: its stats, its first rule errors (with
    their stamps) and the actions' totals or comparison input."""

    stats: RunStats
    errors: list[tuple[Stamp, RuleFailure]]


@dataclass
class PartResult:
    """What a part of a stream reports to be merged: each side's stats and errors, the
    lines its first runner refused (those a summary shows), and the comparison of its
    communities (with two playbooks) or the one run's result summed up."""

    sides: list[SideResult]
    quarantined: list[Quarantined]
    comparison: PartComparison | None = None
    totals: RunTotals | None = None


class _Side:
    """One playbook's in-memory run of a part, stamping each decision it commits.  It
    keeps its actions (``keep_actions``: to be compared) or only counts them."""

    def __init__(
        self,
        playbook: CompiledPlaybook,
        batch_size: int | None,
        dedup_window: float | None,
        keep_actions: bool,
    ) -> None:
        self.playbook = playbook
        # Only what is live: the actions and the ledger's totals are kept here, as they
        # are committed, and a replay's actions are not kept by its store.
        self.store = MemoryStore()
        self.store.begin_replay("part")
        self.ledger: Counter[tuple[str, str]] = Counter()  # (rule, currency) -> net
        self.keep_actions = keep_actions
        self.tally: Counter[tuple[str, str, bool]] = Counter()  # (rule, type, shadow)
        self.actions: list[dict[str, Any]] = []
        self.stamps: list[Stamp] = []
        self.errors: list[tuple[Stamp, RuleFailure]] = []
        #: (decisions made once an item was fed, the item's position), oldest first.
        self._segments: deque[tuple[int, int]] = deque()
        self._reported = 0
        self._current = 0  # the position of the item being fed
        self._pending_timers: dict[str, str] = {}  # timer id -> community
        self.runner = Runner(
            playbook,
            self.store,
            on_decisions=self._committed,
            batch_size=batch_size,
            dedup_window=dedup_window,
        )
        self.runner.flush()  # what a start decided (nothing, on an empty state): position 0
        self._started = self._reported

    def _made(self) -> int:
        s = self.runner.stats
        return self._started + s.processed + s.timers_fired

    def _mark(self, position: int) -> None:
        made = self._made()
        segments = self._segments
        if made > (segments[-1][0] if segments else self._reported):
            segments.append((made, position))

    def feed(self, position: int, event: Event) -> str | None:
        self._current = position
        reason = self.runner.feed(event)
        self._mark(position)
        return reason

    def advance(self, position: int, at: datetime) -> None:
        self._current = position
        self.runner.advance_to(at)
        self._mark(position)

    def _committed(self, decisions: Sequence[Decision]) -> None:
        segments, timers = self._segments, self._pending_timers
        for d in decisions:
            i = self._reported
            self._reported += 1
            while segments and segments[0][0] <= i:
                segments.popleft()
            # Decisions past every fed item's are the current item's (a batch filled
            # up while it was fed).
            position = segments[0][1] if segments else self._current
            if d.is_timer:
                stamp: Stamp = (position, 0, d.at.timestamp(), timers.pop(d.cause, ""), i)
            else:
                stamp = (position, 1, 0.0, "", i)
            for t in d.timers_added:
                timers[t.id] = t.community
            for _, _, entry in d.ledger:
                self.ledger[(entry.rule, entry.currency)] += entry.amount
            if not self.keep_actions:
                self.tally.update((a.rule, a.type, a.shadow) for a in d.actions)
            else:
                for j, action in enumerate(d.actions):
                    self.actions.append(action.to_json())
                    self.stamps.append((*stamp, j))
            if d.errors:
                self.errors.extend(((*stamp, j), e) for j, e in enumerate(d.errors))
                if len(self.errors) > 2 * MAX_ERRORS_SHOWN:
                    self.errors = sorted(self.errors, key=_first)[:MAX_ERRORS_SHOWN]

    def result(self, label: str) -> RunResult:
        for action in self.actions:
            action.pop("key", None)
        run = run_result(label, self.playbook, (), self.runner.state, ())
        return replace(
            run, actions=tuple(self.actions), ledger=dict(self.ledger), stamps=tuple(self.stamps)
        )


def _first(item: tuple[Stamp, Any]) -> Stamp:
    return item[0]


def _line(q: Quarantined) -> int:
    return q.line


class Refused:
    """The lines a reader quarantined before any part saw them: counted, and those a
    summary shows kept (in line order)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.kept: list[Quarantined] = []

    def add(self, q: Quarantined) -> None:
        self.counts[q.reason] += 1
        keep_for_summary(self.kept, q)


class PartitionRun:
    """One part of a stream replayed under one playbook, or two to compare.

    Feed it its own events with the stream's ticks (:meth:`feed` or, as lines,
    :meth:`feed_lines`), in stream order, then :meth:`finish`."""

    def __init__(
        self,
        playbooks: Sequence[CompiledPlaybook],
        *,
        batch_size: int | None = None,
        dedup_window: float | None = None,
    ) -> None:
        window = DEFAULT_DEDUP_WINDOW if dedup_window is None else dedup_window or None
        compare = len(playbooks) > 1
        self.sides = [_Side(pb, batch_size, window, compare) for pb in playbooks]
        self.quarantined: list[Quarantined] = []

    def feed_lines(
        self,
        lines: Sequence[tuple[int, bytes]],
        tick_lines: Sequence[int] = (),
        tick_times: Sequence[int] = (),
    ) -> None:
        """:meth:`feed` the events of lines (numbered in the stream; a malformed one is
        quarantined, as the reader does)."""
        events = []
        refused = []
        for line, raw in lines:
            item = parse_line(line, raw)
            if isinstance(item, Event):
                events.append((line, item))
            else:
                refused.append(item)
        self.feed(events, tick_lines, tick_times, refused)

    def feed(
        self,
        events: Sequence[tuple[int, Event]],
        tick_lines: Sequence[int] = (),
        tick_times: Sequence[int] = (),
        refused: Sequence[Quarantined] = (),
    ) -> None:
        """Feed this part's events (line, event), in stream order, moving the clock
        through the stream's ticks up to the last line fed (those of this part's own
        events are skipped: feeding them moves the clock).  ``refused``: the lines
        among them the reader quarantined, counted in each run's stats."""
        refused = list(refused)
        for q in refused:
            for side in self.sides:
                side.runner.stats.quarantined[q.reason] += 1
        t = 0
        n = len(tick_lines)
        for line, event in events:
            hi = bisect_left(tick_lines, line, t)
            if hi > t:
                self._ticks(tick_lines, tick_times, t, hi)
            t = hi + 1 if hi < n and tick_lines[hi] == line else hi
            reasons = [side.feed(line, event) for side in self.sides]
            if reasons and reasons[0] is not None:
                refused.append(
                    Quarantined(line, reasons[0], self.sides[0].runner.refusal(event), "")
                )
        if t < n:
            self._ticks(tick_lines, tick_times, t, n)
        for q in sorted(refused, key=_line):
            keep_for_summary(self.quarantined, q)

    def _ticks(self, lines: Sequence[int], times: Sequence[int], lo: int, hi: int) -> None:
        """Move each run's clock through the ticks ``lo:hi`` of other communities'
        events, firing its due timers at the tick that fires them in one replay."""
        last = times[hi - 1] / 1_000_000
        for side in self.sides:
            state = side.runner.state
            i = lo
            while state.timers and state.timers[0].due <= last:
                due = state.timers[0].due
                j = bisect_left(times, due, i, hi, key=lambda us: us / 1_000_000)
                side.advance(lines[j], _EPOCH + times[j] * _MICROSECOND)
                i = j + 1
            side.advance(lines[hi - 1], _EPOCH + times[hi - 1] * _MICROSECOND)

    def finish(self, until: datetime | None, labels: Sequence[str]) -> PartResult:
        """Advance to ``until`` (if given), flush, and sum up the part (``labels``: how
        the output names each playbook)."""
        results = []
        for side, label in zip(self.sides, labels, strict=True):
            if until is not None:
                side.advance(END, until)
            side.runner.flush()
            results.append(side.result(label))
        out = PartResult(
            [
                SideResult(side.runner.stats, sorted(side.errors, key=_first)[:MAX_ERRORS_SHOWN])
                for side in self.sides
            ],
            self.quarantined,
        )
        if len(results) == 2:
            out.comparison = compare_part(results[0], results[1])
        else:
            out.totals = run_totals(results[0], self.sides[0].tally)
        for side in self.sides:
            side.runner.close()
        return out
