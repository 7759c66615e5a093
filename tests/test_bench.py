"""Smoke tests of the benchmark scripts (bench/engine.py, bench/scale.py,
bench/scale_out.py) at tiny sizes.

They check that the scripts run on the current code and print what docs/performance.md
says they print — never a timing.  bench/engine.py fails unless the engine and its
hand-written baselines agree, so a run is also a check of the engine's results.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"

CORE_FIELDS = {"baseline_eps", "memory_eps", "sqlite_eps", "memory_ratio", "rules_per_event"}
BUSY_FIELDS = {f"busy_{f}" for f in CORE_FIELDS}

SCALE_FIELDS = {
    "rss_growth_memory",
    "rss_200k_memory_mb",
    "rss_2m_memory_mb",
    "replay_200k_memory_s",
    "replay_2m_memory_s",
    "rss_growth_sqlite",
    "rss_200k_sqlite_mb",
    "rss_2m_sqlite_mb",
    "replay_200k_sqlite_s",
    "replay_2m_sqlite_s",
    "open_1m_s",
    "open_1m_rss_mb",
    "report_1m_s",
    "report_1m_rss_mb",
    "sqlite_1m_members_eps",
}


def bench(script: str, *args: str) -> tuple[dict[str, float], str]:
    """Run a bench script; its last line of output (JSON) and its progress lines."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1]), proc.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_engine_bench_runs_both_workloads_and_agrees_with_its_baselines() -> None:
    figures, progress = bench("engine.py", "--events", "3000", "--members", "100")
    assert set(figures) == CORE_FIELDS | BUSY_FIELDS
    assert all(v > 0 for v in figures.values()), figures
    assert "core: 3000 events" in progress and "busy: 3000 events" in progress
    assert progress.count("(engine and baseline agree)") == 2
    # About one rule fires per event in the core workload, about three in the busy one.
    assert 0.5 <= figures["rules_per_event"] <= 1.5
    assert 2.5 <= figures["busy_rules_per_event"] <= 4.0


@pytest.mark.subprocess
def test_engine_bench_runs_one_workload() -> None:
    figures, progress = bench(
        "engine.py", "--events", "500", "--members", "20", "--workload", "busy"
    )
    assert set(figures) == BUSY_FIELDS
    assert "core:" not in progress


@pytest.mark.slow
@pytest.mark.subprocess
def test_scale_bench_quick_prints_every_field_and_reuses_its_stores(tmp_path: Path) -> None:
    figures, progress = bench("scale.py", "--quick", "--workdir", str(tmp_path))
    assert set(figures) == SCALE_FIELDS
    assert all(v > 0 for v in figures.values()), figures
    for kind in ("memory", "sqlite"):  # growth = the ratio of the two (rounded) peaks
        ratio = figures[f"rss_2m_{kind}_mb"] / figures[f"rss_200k_{kind}_mb"]
        assert figures[f"rss_growth_{kind}"] == pytest.approx(ratio, abs=0.05)
    assert "target <= 1.3" in progress and "target >= 30,000" in progress
    assert "members-10000 store: built" in progress
    # The stores are cached in the work directory: a second run builds nothing.
    again, progress = bench(
        "scale.py", "--quick", "--workdir", str(tmp_path), "--only", "open_1m_s,report_1m_s"
    )
    assert set(again) == {"open_1m_s", "open_1m_rss_mb", "report_1m_s", "report_1m_rss_mb"}
    assert "built" not in progress and "writing" not in progress
    assert "members-10000 store: cached" in progress


@pytest.mark.subprocess
def test_scale_bench_names_the_fields_when_only_names_an_unknown_one() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "scale.py"), "--only", "open_1m_s,open_time"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown field open_time" in proc.stderr
    assert "sqlite_1m_members_eps" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.slow
@pytest.mark.subprocess
def test_engine_bench_replays_into_postgresql(pg_database: str) -> None:
    figures, progress = bench(
        "engine.py",
        "--events",
        "2000",
        "--members",
        "50",
        "--workload",
        "core",
        "--postgresql",
        pg_database,
    )
    assert set(figures) == CORE_FIELDS | {"postgresql_eps"}
    assert figures["postgresql_eps"] > 0 and "core: postgresql" in progress


@pytest.mark.slow
@pytest.mark.subprocess
def test_scale_out_bench_prints_both_worker_counts(pg_database: str) -> None:
    from kafka_helpers import confluent

    confluent()  # skipped (or failed, when required) without confluent-kafka
    figures, progress = bench(
        "scale_out.py", "--events", "1000", "--members", "50", "--postgresql", pg_database
    )
    per_run = {"workers_{}_eps", "workers_{}_cores", "postgres_{}_cores", "kafka_{}_cores"}
    fields = {f.format(n) for f in per_run for n in (1, 2)}
    assert set(figures) == {"events", "communities", "load_average", "ratio"} | fields
    assert figures["workers_1_eps"] > 0 and figures["workers_2_eps"] > 0
    assert "2 worker(s)" in progress


@pytest.mark.subprocess
def test_instructions_replay_path_replays_the_file_into_sqlite() -> None:
    """The part of bench/instructions.py that callgrind counts (``--inner``; counting
    itself needs valgrind): the replay path reads, parses and commits every event."""
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "instructions.py"),
            "--inner",
            "--path",
            "replay",
            "--events",
            "600",
            "--total",
            "800",
            "--members",
            "30",
            "--batch",
            "250",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    processed, actions = map(
        int, re.findall(r"replayed (\d+) events, (\d+) actions", proc.stderr)[0]
    )
    assert processed == 600
    assert 100 <= actions <= 900  # about half an action per event early in the core stream
