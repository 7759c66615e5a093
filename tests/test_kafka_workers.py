"""Kafka workers end to end (runtime/kafka_worker.py): worker processes on librdkafka's
mock cluster and the local PostgreSQL, broken on purpose — killed mid-batch, stopped
past their session timeout, joined by another worker, fed a batch twice.  After each,
the store holds exactly what one clean replay of the same events gives."""

from __future__ import annotations

import re
import signal
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from engage_rules.testing import HEADER, event_line, wait_for
from kafka_helpers import (
    MockCluster,
    Trickle,
    WorkerProcess,
    assert_same_as_replay,
    committed,
    contents,
    events,
    wait_committed,
    worker_config,
)
from pg_helpers import new_schema

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.subprocess]


def _topic() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def test_two_workers_decide_a_topic_as_one_replay(
    mock_cluster: MockCluster, pg_database: str, tmp_path: Path
) -> None:
    topic, url = _topic(), new_schema(pg_database)
    lines = events(240)
    config = worker_config(tmp_path, mock_cluster.bootstrap, topic, url)
    mock_cluster.produce(topic, lines[:5])  # the topic exists before the group forms
    workers = [WorkerProcess(config, tmp_path / f"w{n}.log") for n in range(2)]
    try:
        for w in workers:
            w.wait_assigned()
        mock_cluster.produce(topic, lines[5:])
        wait_committed(url, topic, len(lines))
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0], [w.text() for w in workers]
    assert_same_as_replay(lines, url, new_schema(pg_database))


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    mock_cluster: MockCluster, pg_database: str, tmp_path: Path
) -> None:
    topic, url = _topic(), new_schema(pg_database)
    lines = events(400, seed=2)
    config = worker_config(tmp_path, mock_cluster.bootstrap, topic, url)
    mock_cluster.produce(topic, lines[:5])
    workers = [WorkerProcess(config, tmp_path / f"w{n}.log") for n in range(2)]
    try:
        for w in workers:
            w.wait_assigned()
        trickle = Trickle(mock_cluster, topic, lines[5:])
        wait_for(lambda: committed(url, topic) >= 100, 30)
        workers[0].signal(signal.SIGKILL)  # whatever it was deciding is not committed
        trickle.join()
        assert committed(url, topic) < len(lines)
        wait_committed(url, topic, len(lines))  # the survivor took its partitions over
    finally:
        codes = [w.stop() for w in workers]
    assert codes[1] == 0, workers[1].text()
    assert workers[1].text().count("assigned ") >= 2, workers[1].text()
    assert_same_as_replay(lines, url, new_schema(pg_database))


def test_a_worker_stopped_past_its_session_cannot_commit_again(
    mock_cluster: MockCluster, pg_database: str, tmp_path: Path
) -> None:
    topic, url = _topic(), new_schema(pg_database)
    lines = events(240, seed=3)
    config = worker_config(tmp_path, mock_cluster.bootstrap, topic, url)
    mock_cluster.produce(topic, lines[:5])
    workers = [WorkerProcess(config, tmp_path / f"w{n}.log") for n in range(2)]
    try:
        for w in workers:
            w.wait_assigned()
        mock_cluster.produce(topic, lines[5:120])
        wait_committed(url, topic, 120)
        stopped, survivor = workers
        stopped.signal(signal.SIGSTOP)
        mock_cluster.produce(topic, lines[120:])
        # The group drops the stopped worker after its session timeout (3 s); the
        # survivor fences its partitions and decides their records.
        wait_committed(url, topic, len(lines), timeout=60)
        stopped.signal(signal.SIGCONT)
        wait_for(lambda: "commit refused: fenced" in stopped.text(), 30)
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0], [w.text() for w in workers]
    assert survivor.text().count("assigned ") >= 2, survivor.text()
    assert_same_as_replay(lines, url, new_schema(pg_database))


def test_workers_joining_take_partitions_over_where_they_were(
    mock_cluster: MockCluster, pg_database: str, tmp_path: Path
) -> None:
    topic, url = _topic(), new_schema(pg_database)
    lines = events(480, seed=4)
    config = worker_config(tmp_path, mock_cluster.bootstrap, topic, url)
    mock_cluster.produce(topic, lines[:5])
    first = WorkerProcess(config, tmp_path / "w0.log")
    workers = [first]
    try:
        first.wait_assigned()
        trickle = Trickle(mock_cluster, topic, lines[5:])
        for n, mark in ((1, 100), (2, 250)):  # a second worker, then a third, mid-stream
            wait_for(lambda mark=mark: committed(url, topic) >= mark, 30)
            workers.append(WorkerProcess(config, tmp_path / f"w{n}.log"))
            workers[-1].wait_assigned()
        trickle.join()
        wait_committed(url, topic, len(lines))
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0, 0], [w.text() for w in workers]
    assert first.text().count("revoked ") >= 2
    assert_same_as_replay(lines, url, new_schema(pg_database))


def test_a_batch_delivered_twice_and_bad_records_change_nothing(
    mock_cluster: MockCluster, pg_database: str, tmp_path: Path
) -> None:
    topic, url = _topic(), new_schema(pg_database)
    lines = events(200, seed=5)
    config = worker_config(tmp_path, mock_cluster.bootstrap, topic, url)
    mock_cluster.produce(topic, lines)
    worker = WorkerProcess(config, tmp_path / "w0.log")
    try:
        worker.wait_assigned()
        wait_committed(url, topic, len(lines))
    finally:
        assert worker.stop() == 0, worker.text()
    # Again, with a restart in between: the same records, a malformed one and one keyed
    # by another community than its event's.
    mock_cluster.produce(topic, lines[50:150])
    mock_cluster.produce(topic, ["{not json", lines[0]], key="c1")
    worker = WorkerProcess(config, tmp_path / "w1.log")
    try:
        worker.wait_assigned()
        wait_committed(url, topic, len(lines) + 102)
    finally:
        assert worker.stop() == 0, worker.text()
    log = worker.text()
    assert "quarantined record" in log and "wrong_key" in log, log
    assert "stopped: 0 events processed, 100 duplicate, 2 quarantined" in log, log
    assert_same_as_replay(lines, url, new_schema(pg_database))


def test_timers_fire_by_the_wall_clock_on_the_worker_owning_their_community(
    mock_cluster: MockCluster, pg_database: str, tmp_path: Path
) -> None:
    topic, url = _topic(), new_schema(pg_database)
    playbook = tmp_path / "tags.yaml"
    playbook.write_text(
        HEADER
        + """\
rules:
  - id: welcome
    on: member.joined
    do:
      - tag: {name: newcomer, expires: 2s}
      - send: {text: "hi"}
""",
        encoding="utf-8",
    )
    start = datetime.now(UTC) + timedelta(seconds=1)
    lines = [
        event_line(
            "member.joined",
            f"u{n}",
            start + timedelta(milliseconds=10 * n),
            id=f"j{n}",
            community=f"c{n % 6}",
        )
        for n in range(24)
    ]
    config = worker_config(tmp_path, mock_cluster.bootstrap, topic, url, playbook=playbook)
    mock_cluster.produce(topic, lines[:1])
    workers = [WorkerProcess(config, tmp_path / f"w{n}.log") for n in range(2)]
    try:
        for w in workers:
            w.wait_assigned()
        mock_cluster.produce(topic, lines[1:])
        wait_committed(url, topic, len(lines))
        # Every tag expires 2 s after its event: each worker fires its communities'.
        wait_for(lambda: not contents(url)["timers"], 30)
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0], [w.text() for w in workers]
    fired = [int(re.findall(r"(\d+) timers fired", w.text())[-1]) for w in workers]
    assert sum(fired) == len(lines) and all(fired), fired
    assert_same_as_replay(
        lines, url, new_schema(pg_database), playbook, start + timedelta(minutes=1)
    )
    assert all("newcomer" not in str(m.get("tags")) for m in contents(url)["members"].values())


def test_a_worker_whose_store_fails_stops_with_one_line_and_exit_2(
    mock_cluster: MockCluster, pg_database: str, tmp_path: Path
) -> None:
    topic, url = _topic(), new_schema(pg_database)
    lines = events(40, seed=6)
    config = worker_config(tmp_path, mock_cluster.bootstrap, topic, url)
    mock_cluster.produce(topic, lines[:20])
    worker = WorkerProcess(config, tmp_path / "w0.log")
    try:
        worker.wait_assigned()
        wait_committed(url, topic, 20)
        database = pg_database.rsplit("/", 1)[1]
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = 'engage-rules'",
                (database,),
            )
        mock_cluster.produce(topic, lines[20:])
        assert worker.proc.wait(30) == 2, worker.text()
    finally:
        worker.stop()
    assert "error: PostgreSQL store" in worker.text() and "Traceback" not in worker.text()
    assert committed(url, topic) == 20
