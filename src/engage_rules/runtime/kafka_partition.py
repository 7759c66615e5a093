"""One partition of a Kafka worker: its engine, what it decided since its last commit,
and its fenced store (store/postgres_worker.py ``PartitionStore``).

Each partition the worker holds has an engine of its own over a state of its own (its
communities, its timers, its clock): partitions are keyed by community, so no rule of
one reads another's state, and a partition taken over by another worker moves with
exactly its state.  Events are decided as a replay decides them (the runner of
``replay``): an event whose id the store knows, or that this batch holds, is a
duplicate; an event dated at or before the store's dedup horizon is refused; timers due
before an event fire first.  The clock follows the wall clock between events, as
``run``'s does (:meth:`PartitionLoop.tick`).  :meth:`PartitionLoop.commit` writes the
batch and the offset consumed up to in one fenced transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..compile.playbook import CompiledPlaybook
from ..engine.core import Engine
from ..i18n import _
from ..model.decision import Decision
from ..model.events import Event
from ..model.rule_problems import in_words
from ..store.base import evict_committed
from ..store.postgres_worker import PartitionStore
from ..store.records import BEYOND_DEDUP_WINDOW, beyond_horizon, dedup_message

log = logging.getLogger("engage_rules.runtime.worker")


def log_rule_errors(d: Decision) -> None:
    """Log the rule errors of a decision (a warning each, in the operator's language;
    what is stored stays English)."""
    for e in d.errors:
        log.warning(
            _("rule %(rule)s failed on %(cause)s: %(message)s"),
            {"rule": e.rule, "cause": e.cause, "message": in_words(e.message)},
        )


@dataclass(slots=True)
class Refused:
    """An event of a record the partition did not process: why."""

    offset: int
    reason: str
    message: str


class PartitionLoop:
    """The engine and pending batch of one partition (see the module doc)."""

    def __init__(self, playbook: CompiledPlaybook, store: PartitionStore, *, trace: bool) -> None:
        self.store = store
        self.engine = Engine(playbook, store.open(), trace=trace)
        self.pending: list[Decision] = []
        self._pending_ids: set[str] = set()
        self.processed = 0
        self.duplicates = 0
        self.timers_fired = 0
        #: Since when something waits to be committed (``time.monotonic``).
        self.dirty_since = 0.0
        self._clean = True
        # A stored state may lack what the playbook needs (a schedule added since).
        self._add(self.engine.start())

    @property
    def partition(self) -> int:
        return self.store.fence.partition

    def feed(self, records: Sequence[tuple[int, Event]]) -> list[Refused]:
        """Decide the events of ``records`` (offset, event), in order; what was refused.
        The store is asked about all their ids at once."""
        store, engine = self.store, self.engine
        self._touch()  # the records are consumed, decided or not
        done = store.processed_among([e.id for _, e in records])
        engine.state.prefetch_members(  # the chunk's members, in one query per community
            (e.community, e.member.id) for _, e in records if e.member is not None
        )
        horizon = store.dedup_horizon()
        refused: list[Refused] = []
        pending, ids = self.pending, self._pending_ids
        for offset, event in records:
            if event.id in done or event.id in ids:
                self.duplicates += 1
                continue
            if beyond_horizon(event.ts, horizon):
                message = dedup_message(event.id, event.at.isoformat(), horizon or 0.0)
                refused.append(Refused(offset, BEYOND_DEDUP_WINDOW, message))
                continue
            state = engine.state
            if state.timers and state.timers[0].due <= event.ts:
                self._add(engine.advance_iter(event.at))
            before = len(pending)
            engine.process_into(event, pending)
            for d in pending[before:]:
                ids.add(d.cause)
                log_rule_errors(d)
                if d.is_timer:
                    self.timers_fired += 1
            self.processed += 1
        return refused

    def tick(self, now: datetime) -> None:
        """Fire the timers due by the wall clock ``now`` and move the clock there."""
        self._add(self.engine.advance_iter(now))

    def _add(self, decisions: Iterable[Decision]) -> None:
        for d in decisions:
            self._touch()
            log_rule_errors(d)
            self.pending.append(d)
            self._pending_ids.add(d.cause)
            if d.is_timer:
                self.timers_fired += 1

    @property
    def dirty(self) -> bool:
        """Something to commit: decisions, or records consumed since the last commit."""
        return bool(self.pending) or self.store.position != self.store.committed

    def _touch(self) -> None:
        """Something waits to be committed from now on (if nothing did)."""
        if self._clean:
            self._clean = False
            self.dirty_since = time.monotonic()

    def commit(self) -> None:
        """Commit the pending decisions and the offset consumed up to, fenced
        (:class:`~engage_rules.errors.FencedError` if another worker took the
        partition: then nothing is written)."""
        batch = self.pending
        self.store.commit(batch, self.engine.state)
        evict_committed(self.store, self.engine.state, batch)
        self.pending = []
        self._pending_ids = set()
        self._clean = True
