"""``engage-rules worker``: decide the events of a Kafka topic keyed by community, in a
consumer group, into a PostgreSQL store shared with the other workers (docs/scaling.md).

- **Assignment.**  When the group assigns partitions to this worker it fences them in
  the store (``PostgreSQLStore.fence``: their epochs bumped in one transaction), loads
  each one's state (its communities and timers; members on demand) and seeks each to
  the offset the store holds for it — never to offsets committed to Kafka, which the
  worker does not use.
- **Records.**  Each record is an event line (docs/language.md, "Events") keyed by its
  community.  A record that is not one — malformed, keyed by another community, dated
  more than ``max_clock_skew`` ahead of the wall clock — is quarantined: logged with
  its partition, offset and reason, consumed, never stopping the worker.
- **Commits.**  After each poll, every partition that decided something (or consumed
  records) commits its batch with the offset it consumed up to, in one transaction
  fenced by the epoch it holds (kafka_partition.py).  Timers due by the wall clock fire
  on the worker holding their community, and are committed the same way.
- **Revocation.**  Partitions taken away are committed one last time (if still fenced
  in) and their state dropped.  A commit refused because another worker fenced the
  partition (FencedError) drops that partition's state and pauses it; the others go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..compile.compiler import load
from ..compile.playbook import CompiledPlaybook
from ..errors import FencedError, SetupError
from ..features.persons import uses_persons
from ..i18n import _
from ..model import event_problems
from ..model.event_problems import in_words
from ..model.events import Event, EventError, parse_event
from ..plugins.registry import Registry
from ..store.postgres import PostgreSQLStore
from ..store.postgres_worker import PartitionStore
from ..store.records import ReportContext
from ..store.schemes import open_postgresql
from .config import RuntimeConfig
from .kafka_client import confluent, consumer_settings, kafka_section, postgresql_store
from .kafka_partition import PartitionLoop
from .service import FUTURE_TIME, future_dated

log = logging.getLogger("engage_rules.runtime.worker")

#: The reason code of a record whose key is not its event's community.
WRONG_KEY = "wrong_key"
#: The reason code of a record without a value.
EMPTY_RECORD = "empty_record"


@dataclass
class WorkerStats:
    """What a worker did."""

    processed: int = 0
    duplicates: int = 0
    timers_fired: int = 0
    commits: int = 0
    fenced: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)


class Worker:
    """One worker process's consumer and partitions; :meth:`run` until :meth:`request_stop`."""

    def __init__(
        self,
        config: RuntimeConfig,
        playbook: CompiledPlaybook,
        store: PostgreSQLStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.kafka = kafka_section(config)
        self.playbook = playbook
        self.store = store
        self.clock = clock
        self.stats = WorkerStats()
        self.parts: dict[int, PartitionLoop] = {}
        self._stop = threading.Event()
        self._ck = confluent()
        self._consumer: Any = None
        store.set_report_context(ReportContext.of(playbook))
        store.keep_traces(config.traces.keep)
        store.keep_processed(config.dedup_window)

    @classmethod
    def from_config(cls, config: RuntimeConfig, *, registry: Registry) -> Worker:
        """Check the config has what a worker needs, load the playbook (with the plugins
        of ``registry``), open the store in worker mode."""
        kafka_section(config)
        postgresql_store(config)
        playbook = load(config.playbook_path(), registry=registry)
        if uses_persons(playbook):
            raise SetupError(
                [
                    _(
                        "the playbook {name} uses persons (a currency, badge or ladder with "
                        "`scope: person`, or `bind_code`/`bind`): person-wide state crosses "
                        "communities, and the "
                        "Kafka worker decides each community's partition on its own; run it "
                        "with `engage-rules run` (one process) instead (docs/scaling.md, "
                        '"Persons")'
                    ).format(name=playbook.name)
                ]
            )
        store = open_postgresql(config.store, worker=True)
        try:
            return cls(config, playbook, store)
        except BaseException:
            store.close()
            raise

    def request_stop(self) -> None:
        """Stop after the current poll (safe from a signal handler)."""
        self._stop.set()

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> None:
        """Join the group, then poll, decide and commit until asked to stop; commit what
        is held and leave the group."""
        consumer = self._ck.Consumer(consumer_settings(self.kafka))
        self._consumer = consumer
        consumer.subscribe(
            [self.kafka.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        log.info(
            "worker of group %s on topic %s (store %s)",
            self.kafka.group_id,
            self.kafka.topic,
            self.config.store,
        )
        try:
            while not self._stop.is_set():
                records = consumer.consume(self.kafka.max_poll_records, self.kafka.poll_timeout)
                self.handle(records)
                self.tick()
            for part in list(self.parts):
                self._release(part)
        except BaseException:
            self.parts.clear()  # the store failed: leaving the group commits nothing
            raise
        finally:
            consumer.close()
            self.store.close()
        s = self.stats
        log.info(
            "stopped: %d events processed, %d duplicate, %d quarantined, %d timers fired, "
            "%d commits, %d refused (fenced)",
            s.processed,
            s.duplicates,
            s.quarantined.total(),
            s.timers_fired,
            s.commits,
            s.fenced,
        )

    def handle(self, records: list[Any]) -> None:
        """Decide a poll's records, partition by partition, and commit each partition."""
        by_part: dict[int, list[Any]] = defaultdict(list)
        for record in records:
            err = record.error()
            if err is not None:
                if err.code() != self._ck.KafkaError._PARTITION_EOF:
                    log.warning(_("Kafka consumer: %(error)s"), {"error": err})
                continue
            by_part[record.partition()].append(record)
        wall = self.clock()
        for part, batch in by_part.items():
            loop = self.parts.get(part)
            if loop is None:  # fenced out meanwhile: the group will take it away
                continue
            events: list[tuple[int, Event]] = []
            for record in batch:
                offset = record.offset()
                if offset < loop.store.position:
                    continue
                decoded = self._decode(record, wall)
                if isinstance(decoded, Event):
                    events.append((offset, decoded))
                else:
                    self._quarantine(part, offset, *decoded)
            for refused in loop.feed(events):
                self._quarantine(part, refused.offset, refused.reason, refused.message)
            loop.store.position = max(loop.store.position, batch[-1].offset() + 1)

    def tick(self) -> None:
        """Fire every partition's timers due by the wall clock, and commit each
        partition whose oldest uncommitted decision waited ``commit_interval`` (or
        that holds ``max_poll_records`` decisions)."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        due = time.monotonic() - self.kafka.commit_interval
        for loop in list(self.parts.values()):
            loop.tick(now)
            if loop.dirty and (
                loop.dirty_since <= due or len(loop.pending) >= self.kafka.max_poll_records
            ):
                self._commit(loop)

    def _decode(self, record: Any, wall: float) -> Event | tuple[str, str]:
        """The event of a record, or (reason, message) why it is quarantined."""
        value = record.value()
        if not value:
            return EMPTY_RECORD, event_problems.EMPTY_RECORD
        try:
            event = parse_event(value)
        except EventError as err:
            return err.reason, err.message
        key = record.key()
        if key is None or key != event.community.encode():
            return WRONG_KEY, event_problems.WRONG_KEY.format(
                key=repr(key), community=repr(event.community)
            )
        ahead = future_dated([event], wall, self.config.max_clock_skew)
        if ahead is not None:
            return FUTURE_TIME, ahead.message or ""
        return event

    def _quarantine(self, part: int, offset: int, reason: str, message: str) -> None:
        self.stats.quarantined[reason] += 1
        log.warning(
            _("quarantined record %(topic)s[%(partition)d]@%(offset)d: %(reason)s: %(message)s"),
            {
                "topic": self.kafka.topic,
                "partition": part,
                "offset": offset,
                "reason": reason,
                "message": in_words(message),
            },
        )

    def _commit(self, loop: PartitionLoop) -> bool:
        """Commit one partition; on FencedError drop it (and pause it).  True if committed."""
        stats = self.stats
        processed, duplicates, fired = loop.processed, loop.duplicates, loop.timers_fired
        try:
            loop.commit()
        except FencedError as err:
            stats.fenced += 1
            log.warning(
                _(
                    "commit refused: fenced: another worker owns %(partitions)s now; nothing was "
                    "committed; dropping partition %(partition)d"
                ),
                {
                    "partitions": ", ".join(f"{err.topic}[{p}]" for p in err.partitions),
                    "partition": loop.partition,
                },
            )
            self.parts.pop(loop.partition, None)
            if self._consumer is not None:
                self._consumer.pause([self._ck.TopicPartition(self.kafka.topic, loop.partition)])
            return False
        stats.commits += 1
        stats.processed += processed
        stats.duplicates += duplicates
        stats.timers_fired += fired
        loop.processed = loop.duplicates = loop.timers_fired = 0
        return True

    # -- rebalancing ---------------------------------------------------------------------
    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        """Fence the assigned partitions, load their state and seek each to its stored
        offset."""
        fences = self.store.fence(self.kafka.topic, [tp.partition for tp in partitions])
        for tp in partitions:
            fence = fences[tp.partition]
            self.parts[tp.partition] = PartitionLoop(
                self.playbook, PartitionStore(self.store, fence), trace=self.config.traces.enabled
            )
            tp.offset = fence.next_offset
        consumer.assign(partitions)
        log.info(
            "assigned %s",
            ", ".join(
                f"{self.kafka.topic}[{p}] (epoch {fences[p].epoch}, offset {fences[p].next_offset})"
                for p in sorted(fences)
            ),
        )

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        """Commit what the revoked partitions hold (if still fenced in); drop them."""
        for tp in partitions:
            self._release(tp.partition)
        consumer.unassign()
        log.info(
            "revoked %s", ", ".join(f"{self.kafka.topic}[{tp.partition}]" for tp in partitions)
        )

    def _release(self, part: int) -> None:
        """Commit one partition a last time (its offset too: so a stale holder learns it
        was fenced) and drop its state."""
        loop = self.parts.get(part)
        if loop is None:
            return
        if self._commit(loop):
            self.parts.pop(part, None)
