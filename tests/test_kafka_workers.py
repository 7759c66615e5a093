"""Kafka workers end to end (runtime/kafka_worker.py): worker processes on librdkafka's
mock cluster and the local PostgreSQL, broken on purpose — killed mid-batch, stopped
past their session timeout, joined by another worker, fed a batch twice.  After each,
the store holds exactly what one clean replay of the same events gives."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from kafka_helpers import (
    MockCluster,
    WorkerProcess,
    assert_same_as_replay,
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
