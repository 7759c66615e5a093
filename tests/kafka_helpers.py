"""Kafka workers under test: librdkafka's mock cluster (in the pytest process, which
other processes reach on its 127.0.0.1 ports), worker processes, the events they
decide, and the store's contents compared with one clean replay of the same events.

The mock cluster creates a topic with 4 partitions when it is first used; nothing here
creates topics.  Without confluent-kafka the tests are skipped (or fail, when
``ENGAGE_RULES_POSTGRES_TESTS=required``, as in CI, which installs it).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engage_rules import load
from engage_rules.model.events import parse_event
from engage_rules.shell.runner import Runner
from engage_rules.store.postgres import PostgreSQLStore
from engage_rules.testing import event_line, wait_for
from pg_helpers import REQUIRED_ENV

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "rules/starter/community.yaml"
#: Fast group membership: a stopped worker is out of the group after 3 s.
FAST_GROUP = {"session.timeout.ms": 3000, "heartbeat.interval.ms": 300}


def confluent() -> Any:
    """The confluent_kafka module, or skip (fail when required) without it."""
    try:
        import confluent_kafka
    except ImportError:
        if os.environ.get(REQUIRED_ENV) == "required":
            pytest.fail("confluent-kafka is not installed (pip install -e '.[dev]')")
        pytest.skip("confluent-kafka is not installed")
    return confluent_kafka


class MockCluster:
    """librdkafka's in-process mock cluster, alive as long as this object."""

    def __init__(self) -> None:
        ck = confluent()
        self._owner = ck.Producer({"test.mock.num.brokers": 3})
        brokers = self._owner.list_topics(timeout=10).brokers.values()
        self.bootstrap = ",".join(f"{b.host}:{b.port}" for b in brokers)

    def produce(self, topic: str, lines: list[str], *, key: str | None = None) -> None:
        """Produce event lines keyed by their community (or by ``key``), acknowledged."""
        ck = confluent()
        producer = ck.Producer({"bootstrap.servers": self.bootstrap, "acks": "all"})
        failures: list[Any] = []
        for line in lines:
            community = key if key is not None else parse_event(line).community
            producer.produce(
                topic,
                line.encode(),
                community.encode(),
                on_delivery=lambda err, _msg: failures.append(err) if err else None,
            )
            producer.poll(0)
        assert producer.flush(30) == 0 and not failures, failures


def worker_config(
    directory: Path,
    bootstrap: str,
    topic: str,
    store: str,
    *,
    group: str | None = None,
    playbook: Path = PLAYBOOK,
) -> Path:
    """A runtime config for workers (and the other roles) on ``topic``."""
    settings = "\n".join(f"    {k}: {v}" for k, v in FAST_GROUP.items())
    config = directory / f"worker-{uuid.uuid4().hex[:6]}.yaml"
    config.write_text(
        f"""\
playbook: {playbook}
store: {store}
sources:
  - type: webhook
    listen: 127.0.0.1:0
    secret: "0123456789abcdef0123"
adapters:
  console: {{}}
kafka:
  bootstrap_servers: "{bootstrap}"
  topic: {topic}
  group_id: {group or "g-" + topic}
  poll_timeout: 0.2
  max_poll_records: 50
  settings:
{settings}
""",
        encoding="utf-8",
    )
    return config


class WorkerProcess:
    """``engage-rules worker --config`` (or another role) in a subprocess, its log in a
    file."""

    def __init__(
        self, config: Path, log: Path, *, command: str = "worker", lang: str = "en"
    ) -> None:
        self.log = log
        env = {**os.environ, "ENGAGE_RULES_LOAD_PLUGINS": "", "PYTHONUNBUFFERED": "1"}
        args = ["--lang", lang, command, "--config", str(config)]
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "engage_rules", *args],
                stdout=subprocess.DEVNULL,
                stderr=out,
                env=env,
            )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_assigned(self, timeout: float = 30) -> None:
        wait_for(lambda: "assigned " in self.text() or self.proc.poll() is not None, timeout)
        assert "assigned " in self.text(), self.text()

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then the exit code (killed if it does not stop)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the worker did not stop:\n" + self.text()) from None


def events(count: int, *, communities: int = 8, members: int = 4, seed: int = 1) -> list[str]:
    """``count`` event lines of the starter playbook's kinds, over several communities,
    dated from 100 s ahead of now (within the workers' clock skew, ahead of their wall
    clock for the test's length: timers due by the wall clock are none)."""
    rng = random.Random(seed)
    start = datetime.now(UTC) + timedelta(seconds=100)
    lines: list[str] = []
    joined: set[tuple[str, str]] = set()
    for n in range(count):
        community = f"c{rng.randrange(communities)}"
        member = f"u{rng.randrange(members)}"
        at = start + timedelta(milliseconds=40 * n)
        common: dict[str, Any] = {"id": f"e{seed}-{n}", "community": community, "at": at}
        if (community, member) not in joined:
            joined.add((community, member))
            lines.append(event_line("member.joined", member, name=member, **common))
            continue
        kind = rng.choice(["message.posted", "message.posted", "checkin", "reaction.added"])
        data = {"text": "一张很好看的长曝光照片，三十秒 f/11" * rng.randrange(1, 3)}
        if kind == "message.posted":
            data["message_id"] = f"m{n}"
        lines.append(event_line(kind, member, data=data, **common))
    return lines


def committed(url: str, topic: str) -> int:
    """The records the workers committed: the sum of the partitions' next offsets."""
    conninfo, schema = url.split("?schema=")
    with psycopg.connect(conninfo) as conn:
        exists = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name = 'partitions'",
            (schema,),
        ).fetchone()
        if not exists:
            return 0
        (total,) = conn.execute(
            f'SELECT coalesce(sum(next_offset), 0) FROM "{schema}".partitions WHERE topic = %s',
            (topic,),
        ).fetchone() or (0,)
    return int(total)


def wait_committed(url: str, topic: str, count: int, timeout: float = 40) -> None:
    wait_for(lambda: committed(url, topic) >= count, timeout)
    assert committed(url, topic) == count


def replay(
    lines: list[str], url: str, playbook: Path = PLAYBOOK, until: datetime | None = None
) -> None:
    """One clean single-process replay of ``lines`` into the store at ``url`` (with the
    clock moved to ``until`` at the end)."""
    runner = Runner(load(playbook), PostgreSQLStore(url))
    runner.feed_many([parse_event(line) for line in lines])
    if until is not None:
        runner.advance_to(until)
    runner.close()


def contents(url: str) -> dict[str, Any]:
    """What the store holds, through its read API, without what may differ between
    workers and one process: outbox numbers and timer sequence numbers."""
    store = PostgreSQLStore(url)
    try:
        state = store.open()
        members: dict[str, Any] = {}
        for community in store.report_communities():
            for member in sorted(store.member_ids(community)):
                found = store.load_member(community, member)
                assert found is not None
                members[f"{community}/{member}"] = found.to_json()
        ledgers: dict[str, list[Any]] = {}
        for community, member, entry in store.ledgers():
            ledgers.setdefault(f"{community}/{member}", []).append(entry.to_json())
        outbox = sorted(
            (i.action.key, repr(i.action.to_json()), i.status, i.platform) for i in store.outbox()
        )
        timers = sorted(
            (t.id, t.due, t.kind, t.community, t.member, repr(t.payload))
            for t in state.pending_timers()
        )
        communities = {name: c.data for name, c in state.communities.items()}
        return {
            "members": members,
            "ledgers": ledgers,
            "outbox": outbox,
            "timers": timers,
            "communities": communities,
            "activity": store.activity(),
        }
    finally:
        store.close()


def assert_same_as_replay(
    lines: list[str],
    url: str,
    reference_url: str,
    playbook: Path = PLAYBOOK,
    until: datetime | None = None,
) -> None:
    """The store at ``url`` holds what one clean replay of ``lines`` gives: nothing lost,
    nothing doubled."""
    replay(lines, reference_url, playbook, until)
    got, want = contents(url), contents(reference_url)
    assert got["outbox"] and got["members"], "the test decided nothing"
    for part in want:
        assert got[part] == want[part], part


class Trickle:
    """Produce event lines a few at a time on a thread, so that workers are broken
    while they have records to decide."""

    def __init__(self, cluster: MockCluster, topic: str, lines: list[str], chunk: int = 10):
        self._thread = threading.Thread(
            target=self._run, args=(cluster, topic, lines, chunk), daemon=True
        )
        self.error: BaseException | None = None
        self._thread.start()

    def _run(self, cluster: MockCluster, topic: str, lines: list[str], chunk: int) -> None:
        try:
            for n in range(0, len(lines), chunk):
                cluster.produce(topic, lines[n : n + chunk])
                time.sleep(0.05)
        except BaseException as err:
            self.error = err

    def join(self) -> None:
        self._thread.join(60)
        assert self.error is None, self.error
