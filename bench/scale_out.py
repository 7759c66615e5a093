"""Scale-out benchmark: events/second decided by 1 and by 2 ``engage-rules worker``
processes (docs/scaling.md, "Measured").

The workload is bench/engine.py's core one (100 rules, about one firing per event),
spread over ``--communities`` communities (records keyed by community, so over the
topic's partitions).  For each worker count: a new topic on librdkafka's mock cluster
(in this process, 3 brokers, 4 partitions), a new schema of the PostgreSQL database
``--postgresql`` names (dropped before and after), the workers started and in the group,
then every event produced at once; the figure is the events divided by the seconds
from the first record produced to the last offset committed in PostgreSQL.

The last line printed is one JSON object: ``workers_1_eps``, ``workers_2_eps`` and
``ratio`` (2 workers over 1), and for each worker count the cores busy meanwhile (CPU
seconds over those seconds, from /proc on Linux): the workers' (``workers_N_cores``),
the PostgreSQL server's (``postgres_N_cores``) and this process's, which produces the
records and runs the mock brokers (``kafka_N_cores``); ``load_average``: the machine's
one-minute load average before the runs (other jobs compete for its cores).

    python bench/scale_out.py [--events N] [--communities N]
                              [--postgresql postgresql://USER@HOST/DB]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import confluent_kafka
import psycopg
from engine import iter_events, make_rules

CONFIG = """\
playbook: {playbook}
store: {store}
sources: [{{type: webhook, listen: "127.0.0.1:0", secret: "0123456789abcdef0123"}}]
adapters: {{console: {{}}}}
traces: {{enabled: false}}
kafka:
  bootstrap_servers: "{bootstrap}"
  topic: {topic}
  group_id: bench-{topic}
  max_poll_records: 5000
  poll_timeout: 0.1
  settings: {{session.timeout.ms: 6000, heartbeat.interval.ms: 500}}
"""


def events(n: int, communities: int, members: int) -> list[tuple[bytes, bytes]]:
    """(key, value) records: the core workload's events, each in one of the
    communities (its member's, so a member stays in one community)."""
    out = []
    for line in iter_events(n, members):
        event = json.loads(line)
        community = f"c{int(event['member']['id'][1:]) % communities}"
        event["community"] = community
        out.append((community.encode(), json.dumps(event).encode()))
    return out


def committed(conn: psycopg.Connection, schema: str, topic: str) -> int:
    row = conn.execute(
        f"SELECT coalesce(sum(next_offset), 0) FROM {schema}.partitions WHERE topic = %s",
        (topic,),
    ).fetchone()
    return int(row[0]) if row else 0


def cpu_seconds(pids: list[int]) -> float:
    """The CPU seconds (user and system) the processes ``pids`` used so far (0 for
    those gone or unreadable)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """The processes of the local PostgreSQL server."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().startswith("postgres"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def run(
    workers: int, records: list[tuple[bytes, bytes]], bootstrap: str, url: str
) -> dict[str, float]:
    """Events per second decided by ``workers`` worker processes, and the cores busy."""
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    schema = f"bench_scale_{workers}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "queue.buffering.max.messages": 10**6}
    )
    producer.produce(topic, records[0][1], records[0][0])  # the topic, before the group
    producer.flush(30)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp) / "bench.yaml"
        playbook.write_text(make_rules()[0], encoding="utf-8")
        config = Path(tmp) / "worker.yaml"
        config.write_text(
            CONFIG.format(
                playbook=playbook, store=f"{url}?schema={schema}", bootstrap=bootstrap, topic=topic
            ),
            encoding="utf-8",
        )
        logs = [Path(tmp) / f"w{n}.log" for n in range(workers)]
        try:
            for log in logs:
                with log.open("w") as out:
                    procs.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "engage_rules", "worker", "--config", config],
                            stderr=out,
                            env={**os.environ, "ENGAGE_RULES_LOAD_PLUGINS": ""},
                        )
                    )
            _settled(logs, workers)
            with psycopg.connect(url, autocommit=True) as conn:
                server = postgres_pids()
                ours = [proc.pid for proc in procs]
                before = (cpu_seconds(ours), cpu_seconds(server), cpu_seconds([os.getpid()]))
                t0 = time.perf_counter()
                for key, value in records[1:]:
                    while True:
                        try:
                            producer.produce(topic, value, key)
                            break
                        except BufferError:
                            producer.poll(0.05)
                producer.flush(60)
                while committed(conn, schema, topic) < len(records):
                    time.sleep(0.02)
                elapsed = time.perf_counter() - t0
                after = (cpu_seconds(ours), cpu_seconds(server), cpu_seconds([os.getpid()]))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    busy = [(b - a) / elapsed for a, b in zip(before, after, strict=True)]
    return {
        f"workers_{workers}_eps": round((len(records) - 1) / elapsed),
        f"workers_{workers}_cores": round(busy[0], 2),
        f"postgres_{workers}_cores": round(busy[1], 2),
        f"kafka_{workers}_cores": round(busy[2], 2),
    }


def _settled(logs: list[Path], workers: int) -> None:
    """Wait until every worker holds partitions and the group is stable (2 s without a
    new assignment)."""
    last: list[int] = []
    stable_since = time.monotonic()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = [log.read_text().count("assigned ") for log in logs]
        if counts != last:
            last, stable_since = counts, time.monotonic()
        elif all(counts) and time.monotonic() - stable_since > 2:
            return
        time.sleep(0.1)
    logged = "\n".join(p.read_text() for p in logs)
    raise SystemExit(f"the workers did not join the group:\n{logged}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--communities", type=int, default=16)
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument(
        "--postgresql",
        metavar="URL",
        default=os.environ.get("ENGAGE_RULES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
        + "/postgres",
        help="the database whose schemas bench_scale_1 and _2 are used (and dropped)",
    )
    args = ap.parse_args()
    owner = confluent_kafka.Producer({"test.mock.num.brokers": 3})
    brokers = owner.list_topics(timeout=10).brokers.values()
    bootstrap = ",".join(f"{b.host}:{b.port}" for b in brokers)
    records = events(args.events + 1, args.communities, args.members)
    out: dict[str, Any] = {
        "events": args.events,
        "communities": args.communities,
        "load_average": round(os.getloadavg()[0], 2),
    }
    for workers in (1, 2):
        figures = run(workers, records, bootstrap, args.postgresql)
        print(
            f"{workers} worker(s): {figures[f'workers_{workers}_eps']:,} events/s; cores busy: "
            f"workers {figures[f'workers_{workers}_cores']}, PostgreSQL "
            f"{figures[f'postgres_{workers}_cores']}, Kafka and producer "
            f"{figures[f'kafka_{workers}_cores']}",
            file=sys.stderr,
        )
        out.update(figures)
    out["ratio"] = round(out["workers_2_eps"] / out["workers_1_eps"], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
