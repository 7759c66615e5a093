"""What the commands share: loading a playbook and reporting its problems, opening a
store a command reads, and feeding an event file to runners with a progress line."""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .._util.suggest import did_you_mean
from ..errors import PlaybookError, StoreError
from ..i18n import N_, _
from ..model.event_problems import in_words
from ..model.rule_problems import in_words as rule_in_words
from ..shell.reader import LINES_SHOWN, MAX_ERRORS_SHOWN, keep_for_summary

__all__ = ["LINES_SHOWN", "MAX_ERRORS_SHOWN"]

if TYPE_CHECKING:
    from ..compile.playbook import CompiledPlaybook
    from ..model.decision import RuleFailure
    from ..model.events import Event
    from ..plugins.registry import Registry
    from ..shell.reader import Quarantined
    from ..shell.runner import Runner, RunStats
    from ..store import Store

    Items = Iterable[tuple[int, Event | Quarantined]]


#: Suffixes of event files (JSON Lines), never of a playbook.
EVENT_FILE_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})


def load_or_report(path: str, registry: Registry) -> CompiledPlaybook | None:
    """Load and compile a playbook; on failure print every problem as
    ``file:line:col: message`` on stderr and return None (the command exits 1)."""
    from ..compile.compiler import load

    try:
        return load(path, registry=registry)
    except PlaybookError as err:
        if Path(path).suffix.lower() in EVENT_FILE_SUFFIXES:  # PLAYBOOK and EVENTS swapped?
            message = _(
                "this looks like an events file, not a playbook: the playbook comes first "
                "(engage-rules replay PLAYBOOK EVENTS)"
            )
            print(f"{path}:0:0: {message}", file=sys.stderr)
            return None
        for problem in err.problems:
            print(problem, file=sys.stderr)
    except OSError as err:
        print(cannot_read(path, err), file=sys.stderr)
    return None


def cannot_read(path: str, err: OSError) -> str:
    """The problem line of a file that cannot be read (``path:0:0: cannot read: ...``)."""
    reason = err.strerror or str(err)
    return f"{path}:0:0: " + _("cannot read: {reason}").format(reason=reason)


def open_persistent_store(url: str, registry: Registry) -> Store:
    """Open the store a command reads (a durable one: a memory store holds nothing)."""
    from ..store import open_store

    if url.strip().lower().startswith("memory"):
        raise StoreError(
            _(
                "a memory: store keeps nothing between commands; give the store "
                "the engine wrote, e.g. --store sqlite:///state.db"
            )
        )
    if url.strip().lower().startswith("sqlite:"):
        _existing_sqlite_file(url)
    return open_store(url, registry=registry)


def _existing_sqlite_file(url: str) -> None:
    """Refuse a SQLite store file that does not exist (a command that reads a store must
    not create an empty one and answer "0 entries"), naming the stores nearby."""
    from ..store.base import sqlite_path

    path = sqlite_path(url)
    if path == ":memory:" or Path(path).exists():
        return
    folder = Path(path).parent
    nearby = sorted(p.name for p in folder.glob("*.db")) if folder.is_dir() else []
    hint = did_you_mean(Path(path).name, nearby)
    listed = (
        _(" (SQLite stores in {folder}: {names})").format(folder=folder, names=", ".join(nearby))
        if nearby and not hint
        else ""
    )
    raise StoreError(
        _(
            "no store at {path}: give the store that `replay --store` or `run` wrote "
            "(e.g. --store sqlite:///state.db){hint}{listed}"
        ).format(path=path, hint=hint, listed=listed)
    )


class Progress:
    """A one-line progress display on a terminal; silent otherwise."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, count: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        rate = count / max(now - self.started, 1e-9)
        line = _("{count} events  {rate}/s").format(count=f"{count:,}", rate=f"{rate:,.0f}")
        self.stream.write(f"\r  {line} ")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 40 + "\r")
            self.stream.flush()


def first_event(items: Items) -> tuple[str | None, Iterator[tuple[int, Event | Quarantined]]]:
    """The id of the stream's first event (None if it has none), and the whole stream
    again, nothing consumed.  Raises OSError when the input cannot be read."""
    from ..model.events import Event

    it = iter(items)
    head: list[tuple[int, Event | Quarantined]] = []
    first: str | None = None
    for item in it:
        head.append(item)
        if isinstance(item[1], Event):
            first = item[1].id
            break
    return first, itertools.chain(head, it)


def feed_events(
    source: str | Items,
    runners: Sequence[Runner],
    until: datetime | None,
    quarantined: list[Quarantined],
) -> None:
    """Replay the event file ``source`` (``-`` for stdin; or items already being read)
    through each runner: a quarantined line is appended to ``quarantined`` and counted
    in every runner's stats; then each runner advances its clock to ``until`` and
    flushes.  A progress line shows on a terminal.  Raises OSError when the file cannot
    be read."""
    from ..shell.reader import read_events

    items = read_events(source) if isinstance(source, str) else source
    progress = Progress(sys.stderr)
    try:
        chunk: list[tuple[int, Event | Quarantined]] = []
        for numbered in items:
            chunk.append(numbered)
            if len(chunk) == FEED_CHUNK:
                _feed_chunk(chunk, runners, quarantined)
                chunk = []
                progress.update(runners[0].stats.read)
        _feed_chunk(chunk, runners, quarantined)
        for runner in runners:
            if until is not None:
                runner.advance_to(until)
            runner.flush()
    finally:
        progress.done()


#: Events whose ids a runner checks against its store in one query.
FEED_CHUNK = 512


def _feed_chunk(
    chunk: list[tuple[int, Event | Quarantined]],
    runners: Sequence[Runner],
    quarantined: list[Quarantined],
) -> None:
    """Feed one chunk of read lines to each runner; quarantine what the reader or the
    first runner refused, in line order."""
    from ..shell.reader import Quarantined

    if not chunk:
        return
    # Most chunks hold events only, and no runner refuses one: the lines are paired with
    # the events only when something is quarantined or refused (a pass less per event).
    events = [item for _line, item in chunk if not isinstance(item, Quarantined)]
    refused: list[Quarantined] = []
    if len(events) < len(chunk):
        for _line, item in chunk:
            if isinstance(item, Quarantined):
                refused.append(item)
                for runner in runners:
                    runner.stats.quarantined[item.reason] += 1
    for i, runner in enumerate(runners):
        reasons = runner.feed_many(events)
        if i == 0 and any(reasons):
            lines = [line for line, item in chunk if not isinstance(item, Quarantined)]
            refused.extend(
                Quarantined(line, reason, runner.refusal(e), "")
                for line, e, reason in zip(lines, events, reasons, strict=True)
                if reason is not None
            )
    if refused:
        refused.sort(key=lambda q: q.line)
        for q in refused:  # only what the summary shows: a run keeps no history of them
            keep_for_summary(quarantined, q)


def first_errors(errors: list[RuleFailure]) -> Callable[[RuleFailure], None]:
    """A runner's ``on_error`` that keeps the first rule errors, as many as the summary
    shows (the summary counts them all): a run holds no history of them."""

    def keep(error: RuleFailure) -> None:
        if len(errors) < MAX_ERRORS_SHOWN:
            errors.append(error)

    return keep


#: What the messaging policy did to messages, as a replay's summary counts them (the
#: runner's keys, shell/runner.py), in words; each sentence names its code for grep.
POLICY_COUNTS = {
    "deferred": N_("deferred: {n}"),
    "suppressed: capped": N_("suppressed: capped: {n}"),
    "suppressed: quiet_hours": N_("suppressed: quiet_hours: {n}"),
    "suppressed: opted_out": N_("suppressed: opted_out: {n}"),
}


def policy_count(key: str, n: int) -> str:
    """One count of the summary's ``messages:`` line, in the current language (a reason
    a plugin invents is named by its code)."""
    if key in POLICY_COUNTS:
        return _(POLICY_COUNTS[key]).format(n=n)
    return _("{kind}: {n}").format(kind=key, n=n)


def print_summary(
    s: RunStats, quarantined: Sequence[Quarantined], errors: Sequence[RuleFailure]
) -> None:
    """The summary of a replay on stderr (``s``: its runner's stats): events, quarantined
    lines, timers, actions by type, messages and rule errors."""
    err = sys.stderr
    total_q = sum(s.quarantined.values())
    print(
        _(
            "events: {read} read, {processed} processed, {duplicates} duplicate, "
            "{quarantined} quarantined"
        ).format(
            read=s.read + total_q,
            processed=s.processed,
            duplicates=s.duplicates,
            quarantined=total_q,
        ),
        file=err,
    )
    for reason, n in sorted(s.quarantined.items()):
        lines = [str(q.line) for q in quarantined if q.reason == reason][:LINES_SHOWN]
        if lines:  # none for the second run of a comparison: listed under the first
            text = _("quarantined {reason}: {n} (lines {lines})")
            print("  " + text.format(reason=reason, n=n, lines=_(", ").join(lines)), file=err)
    for q in quarantined[:MAX_ERRORS_SHOWN]:
        text = _("line {line}: {reason}: {message}")
        print(
            "  " + text.format(line=q.line, reason=q.reason, message=in_words(q.message)), file=err
        )
    if s.late:
        print(_("late events (older than the clock): {n}").format(n=s.late), file=err)
    print(_("timers fired: {n}").format(n=s.timers_fired), file=err)
    total_a = sum(s.actions.values())
    by_type = ", ".join(f"{t}: {n}" for t, n in sorted(s.actions.items()))
    if by_type:
        print(_("actions: {n} ({by_type})").format(n=total_a, by_type=by_type), file=err)
    else:
        print(_("actions: {n}").format(n=total_a), file=err)
    if s.shadow:  # rules in shadow mode: recorded with "shadow": true, never delivered
        shadow = ", ".join(f"{t}: {n}" for t, n in sorted(s.shadow.items()))
        text = _("shadow actions (not delivered): {n} ({by_type})")
        print(text.format(n=sum(s.shadow.values()), by_type=shadow), file=err)
    if s.messages:  # the messaging policy at work (docs/reference.md §5.8)
        parts = _(", ").join(policy_count(k, n) for k, n in sorted(s.messages.items()))
        print(_("messages: {counts}").format(counts=parts), file=err)
    print(_("rule errors: {n}").format(n=s.rule_errors), file=err)
    for e in errors[:MAX_ERRORS_SHOWN]:
        text = _("rule {rule} on {cause}: {message}")
        told = rule_in_words(e.message)
        print("  " + text.format(rule=e.rule, cause=e.cause, message=told), file=err)
    shown = min(len(errors), MAX_ERRORS_SHOWN)
    if s.rule_errors > shown:
        print("  " + _("... and {n} more").format(n=s.rule_errors - shown), file=err)
