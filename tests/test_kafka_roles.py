"""The three scaled-out roles together (docs/scaling.md): ``ingest`` (verified webhooks
→ the topic), ``worker`` (the topic → PostgreSQL) and two ``dispatch`` processes sharing
the outbox (claims with SKIP LOCKED), on librdkafka's mock cluster and the local
PostgreSQL; and the roles' set-up errors."""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engage_rules.errors import SetupError
from engage_rules.runtime.config import load_config
from engage_rules.runtime.kafka_client import (
    confluent,
    consumer_settings,
    kafka_section,
    postgresql_store,
    producer_settings,
)
from engage_rules.store.postgres import PostgreSQLStore
from engage_rules.testing import HEADER, event_line, post_signed, run_cli, wait_for
from kafka_helpers import FAST_GROUP, MockCluster, WorkerProcess, committed
from kafka_helpers import confluent as kafka_module
from pg_helpers import new_schema

SECRET = "0123456789abcdef0123"
LISTENING = re.compile(r"webhook source listening on http://127\.0\.0\.1:(\d+)/events")
PLAYBOOK = (
    HEADER
    + """\
currencies: [points]
rules:
  - id: hello
    on: message.posted
    do:
      - send: {text: "hi"}
      - award: {points: 5}
"""
)


def _config(directory: Path, name: str, bootstrap: str, topic: str, store: str) -> Path:
    (directory / "hello.yaml").write_text(PLAYBOOK, encoding="utf-8")
    settings = "\n".join(f"    {k}: {v}" for k, v in FAST_GROUP.items())
    path = directory / f"{name}.yaml"
    path.write_text(
        f"""\
playbook: hello.yaml
store: {store}
sources:
  - type: webhook
    listen: 127.0.0.1:0
    secret: "{SECRET}"
adapters:
  out:
    type: jsonl
    actions_out: {directory}/{name}-actions.jsonl
dispatch:
  default: out
kafka:
  bootstrap_servers: "{bootstrap}"
  topic: {topic}
  group_id: g-{topic}
  poll_timeout: 0.2
  settings:
{settings}
""",
        encoding="utf-8",
    )
    return path


def _role(command: str, config: Path, log: Path) -> WorkerProcess:
    return WorkerProcess(config, log, command=command)


def _delivered(directory: Path) -> list[str]:
    keys: list[str] = []
    for path in directory.glob("d*-actions.jsonl"):
        keys += [json.loads(line)["key"] for line in path.read_text().splitlines() if line]
    return keys


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.subprocess
def test_ingest_worker_and_two_dispatchers_end_to_end(
    mock_cluster: MockCluster, pg_database: str, tmp_path: Path
) -> None:
    topic, url = f"t-{uuid.uuid4().hex[:8]}", new_schema(pg_database)
    mock_cluster.produce(topic, [])  # nothing: the topic is created by the first record
    configs = {
        name: _config(tmp_path, name, mock_cluster.bootstrap, topic, url)
        for name in ("ingest", "worker", "d0", "d1")
    }
    roles = [_role("ingest", configs["ingest"], tmp_path / "ingest.log")]
    try:
        wait_for(lambda: LISTENING.search(roles[0].text()) is not None, 30)
        match = LISTENING.search(roles[0].text())
        assert match is not None
        endpoint = f"http://127.0.0.1:{match.group(1)}/events"
        lines = [
            event_line(
                "message.posted",
                f"u{n % 5}",
                datetime.now(UTC) - timedelta(seconds=5),
                id=f"m{n}",
                community=f"c{n % 4}",
                text="hello",
            )
            for n in range(40)
        ]
        for n, line in enumerate(lines):
            status, answer = post_signed(endpoint, line.encode(), SECRET, delivery=f"d{n}")
            assert (status, answer["status"]) == (202, "accepted"), answer
        # A delivery again: 409; a forged one: 401; one dated in the future: 422.
        assert post_signed(endpoint, lines[0].encode(), SECRET, delivery="d0")[0] == 409
        assert post_signed(endpoint, lines[1].encode(), SECRET, sig="v2=00")[0] == 401
        ahead = event_line(
            "message.posted", "u1", datetime.now(UTC) + timedelta(hours=1), id="late", text="x"
        )
        assert post_signed(endpoint, ahead.encode(), SECRET)[0] == 422
        roles.append(_role("worker", configs["worker"], tmp_path / "worker.log"))
        roles += [_role("dispatch", configs[d], tmp_path / f"{d}.log") for d in ("d0", "d1")]
        wait_for(lambda: committed(url, topic) >= len(lines), 40)
        # Two actions per event (the jsonl adapter takes the award too).
        wait_for(lambda: len(_delivered(tmp_path)) >= 2 * len(lines), 40)
    finally:
        codes = [r.stop() for r in roles]
    assert codes == [0] * len(roles), [r.text() for r in roles]
    delivered = _delivered(tmp_path)
    assert len(delivered) == len(set(delivered)) == 2 * len(lines)
    store = PostgreSQLStore(url)
    try:
        items = store.outbox()
        assert {i.action.key for i in items} == set(delivered)
        assert {i.status for i in items} == {"delivered"}
        assert sorted(i.action.cause for i in items) == sorted(2 * [f"m{n}" for n in range(40)])
    finally:
        store.close()


def _consume(bootstrap: str, topic: str, count: int) -> list[tuple[bytes, bytes, dict[str, bytes]]]:
    ck = kafka_module()
    consumer = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    out: list[tuple[bytes, bytes, dict[str, bytes]]] = []
    deadline = time.monotonic() + 30
    try:
        while len(out) < count and time.monotonic() < deadline:
            for record in consumer.consume(50, 0.5):
                if record.error() is None:
                    out.append((record.key(), record.value(), dict(record.headers() or [])))
    finally:
        consumer.close()
    return out


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.subprocess
def test_ingest_produces_each_event_keyed_by_its_community(
    mock_cluster: MockCluster, pg_database: str, tmp_path: Path
) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    config = _config(tmp_path, "ingest", mock_cluster.bootstrap, topic, new_schema(pg_database))
    ingest = _role("ingest", config, tmp_path / "ingest.log")
    try:
        wait_for(lambda: LISTENING.search(ingest.text()) is not None, 30)
        match = LISTENING.search(ingest.text())
        assert match is not None
        endpoint = f"http://127.0.0.1:{match.group(1)}/events"
        line = event_line("checkin", "u1", datetime.now(UTC), id="k1", community="社群-a")
        assert post_signed(endpoint, line.encode(), SECRET, delivery="one")[0] == 202
        assert post_signed(endpoint, b"{not json", SECRET)[0] == 400
    finally:
        assert ingest.stop() == 0, ingest.text()
    [(key, value, headers)] = _consume(mock_cluster.bootstrap, topic, 1)
    assert key == "社群-a".encode()
    assert json.loads(value) == json.loads(line) | {"at": json.loads(value)["at"]}
    assert headers == {"engage-delivery": b"webhook-delivery:one"}


@pytest.mark.parametrize("command", ["ingest", "worker", "dispatch"])
def test_a_role_without_what_it_needs_is_one_line_and_exit_1(command: str, tmp_path: Path) -> None:
    (tmp_path / "hello.yaml").write_text(PLAYBOOK, encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"""\
playbook: hello.yaml
store: sqlite:///{tmp_path}/x.db
sources: [{{type: webhook, listen: "127.0.0.1:0", secret: "{SECRET}"}}]
adapters: {{console: {{}}}}
""",
        encoding="utf-8",
    )
    result = run_cli(command, "--config", config)
    assert result.returncode == 1, (result.stdout, result.stderr)
    expected = "PostgreSQL store" if command == "dispatch" else "`kafka:` section"
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_the_config_example_of_the_scaling_guide_loads(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "scaling.md").read_text()
    [example] = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "kafka:" in b]
    (tmp_path / "community.yaml").write_text(PLAYBOOK, encoding="utf-8")
    (tmp_path / "live.yaml").write_text(example, encoding="utf-8")
    env = {"ENGAGE_WEBHOOK_SECRET": "s" * 20, "TELEGRAM_TOKEN": "t", "KAFKA_PASSWORD": "pw"}
    config = load_config(tmp_path / "live.yaml", env)
    assert config.kafka is not None
    assert config.kafka.settings["sasl.password"] == "pw"
    assert config.kafka.commit_interval == 0.2 and config.kafka.max_poll_records == 1000
    assert kafka_section(config) is config.kafka and postgresql_store(config) == config.store
    settings = consumer_settings(config.kafka)
    assert settings["enable.auto.commit"] is False and settings["session.timeout.ms"] == 15000
    assert producer_settings(config.kafka)["acks"] == "all"


def test_a_missing_kafka_client_is_one_line_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    with pytest.raises(SetupError) as caught:
        confluent()
    assert caught.value.problems == [
        "the Kafka roles need confluent-kafka, which is not installed: "
        "pip install 'engage-rules[kafka]'"
    ]


@pytest.mark.e2e
@pytest.mark.subprocess
def test_ingest_answers_503_when_the_brokers_do_not_acknowledge(tmp_path: Path) -> None:
    kafka_module()
    config = _config(tmp_path, "ingest", "127.0.0.1:1", "t", "postgresql://x@127.0.0.1/x")
    text = config.read_text().replace(
        "  settings:\n", "  settings:\n    message.timeout.ms: 1500\n"
    )
    config.write_text(text, encoding="utf-8")
    ingest = _role("ingest", config, tmp_path / "ingest.log")
    try:
        wait_for(lambda: LISTENING.search(ingest.text()) is not None, 30)
        match = LISTENING.search(ingest.text())
        assert match is not None
        endpoint = f"http://127.0.0.1:{match.group(1)}/events"
        line = event_line("checkin", "u1", datetime.now(UTC), id="k1")
        status, answer = post_signed(endpoint, line.encode(), SECRET, delivery="one")
        assert status == 503 and "not produced" in answer["reason"], answer
        # Not acknowledged, so not remembered: the sender's retry is not a replay.
        status, answer = post_signed(endpoint, line.encode(), SECRET, delivery="one")
        assert status == 503, answer
    finally:
        assert ingest.stop() == 0, ingest.text()
