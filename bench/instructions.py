"""Instructions per event, counted by callgrind: the noise-free comparison of two versions.

Wall-clock figures on a shared machine move by 10-15% from run to run; the number of
instructions a fixed workload executes does not.  This script builds the workload of
``bench/engine.py`` and processes the first ``--events`` of them on one path; run it
under callgrind twice, processing N events and 0 events (the set-up is identical), and
the difference divided by N is the cost per event::

    python bench/instructions.py --path memory --events 20000   # prints instructions/event

It re-runs itself under ``valgrind --tool=callgrind`` (valgrind must be installed) and
prints, last line, JSON: ``{"path": ..., "events": N, "instructions_per_event": ...}``.
Paths: ``memory`` (Runner + MemoryStore, the engine), ``sqlite`` (Runner into a SQLite
file, commits included), ``replay`` (what ``bench/engine.py`` measures as ``sqlite_eps``:
the JSON Lines file read, parsed and replayed into a new SQLite file, in commit groups of
``--batch`` events, 50,000 by default as ``replay``'s, never cut by time so that the
count does not depend on the clock), ``parse`` (the JSON Lines reader alone),
``baseline`` (the hand-written baseline of ``bench/engine.py``).  Callgrind counts every
thread; the ``replay`` path prints the engine's thread and the SQLite writer's thread
apart too (``main_per_event``, ``writer_per_event``): the writer's work overlaps the
engine's, the engine's thread is the one the wall clock waits for.

``--workload busy`` runs the busy workload's playbook (or baseline) instead of the core
one; the baseline's count over the engine's (``memory``) is the noise-free
``memory_ratio``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

#: ``replay``'s commit groups (shell/runner.py REPLAY_BATCH_SIZE), without importing it
#: before the path is set up.
REPLAY_BATCH_SIZE = 50_000
PATHS = ("memory", "sqlite", "replay", "parse", "baseline")


def workload(path: str, process: int, total: int, members: int, name: str, batch: int) -> None:
    """Build ``total`` events and process the first ``process`` of them on ``path``, with
    the workload ``name`` (core or busy)."""
    from engine import WORKLOADS, make_events

    from engage_rules import compile_playbook, parse_event
    from engage_rules.shell.interpreter import BatchCollector, tune_gc
    from engage_rules.shell.reader import read_lines
    from engage_rules.shell.runner import Runner
    from engage_rules.testing import load_playbook_text, open_store

    tune_gc()
    make, baseline = WORKLOADS[name]
    text, hand = make()
    playbook = compile_playbook(load_playbook_text(text, "bench.yaml"))
    lines = make_events(total, members)
    raw = [line.encode() for line in lines]
    events = [parse_event(line) for line in raw]
    with tempfile.TemporaryDirectory() as tmp:
        if path == "replay":
            replay(playbook, raw[:process], Path(tmp), batch)
            return
        url = f"sqlite:///{Path(tmp) / 'state.db'}" if path == "sqlite" else "memory:"
        # (the collector run between batches, as `engage-rules replay` runs it)
        runner = Runner(playbook, open_store(url), collector=BatchCollector())
        if path == "parse":
            for _ in read_lines(raw[:process]):
                pass
        elif path == "baseline":
            baseline(events[:process], hand)
        else:
            todo = events[:process]
            for i in range(0, len(todo), 512):  # as `engage-rules replay` feeds them
                runner.feed_many(todo[i : i + 512])
        runner.close()


def replay(playbook: Any, lines: list[bytes], tmp: Path, batch: int) -> None:
    """``lines`` written to a JSON Lines file, read back and replayed into a new SQLite
    store as ``bench/engine.py`` does (chunks of 512 events), in groups of ``batch``."""
    from engage_rules.shell.interpreter import BatchCollector
    from engage_rules.shell.reader import Quarantined, read_events
    from engage_rules.shell.runner import Runner
    from engage_rules.testing import open_store

    path = tmp / "events.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    runner = Runner(
        playbook,
        open_store(f"sqlite:///{tmp / 'state.db'}"),
        batch_size=batch,
        max_batch_seconds=math.inf,
        collector=BatchCollector(),
    )
    chunk = []
    for _, item in read_events(path):
        if not isinstance(item, Quarantined):
            chunk.append(item)
            if len(chunk) == 512:
                runner.feed_many(chunk)
                chunk = []
    runner.feed_many(chunk)
    runner.close()
    stats = runner.stats
    print(
        f"replayed {stats.processed} events, {sum(stats.actions.values())} actions",
        file=sys.stderr,
    )


def count(path: str, process: int, total: int, members: int, name: str, batch: int) -> list[int]:
    """Instructions callgrind counts for the run: per thread, the main one first."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--separate-threads=yes",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--inner",
                "--path",
                path,
                "--events",
                str(process),
                "--total",
                str(total),
                "--members",
                str(members),
                "--workload",
                name,
                "--batch",
                str(batch),
            ],
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ, PYTHONHASHSEED="0"),
        )
        threads = []
        for part in sorted(Path(tmp).glob("callgrind.out-*")):
            found = re.search(r"^(?:summary|totals): (\d+)", part.read_text(), re.MULTILINE)
            if found is not None:
                threads.append(int(found.group(1)))
    if not threads:
        raise SystemExit(f"callgrind printed no count:\n{proc.stderr[-2000:]}")
    return threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", choices=PATHS, default="memory")
    ap.add_argument("--workload", choices=("core", "busy"), default="core")
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument(
        "--total",
        type=int,
        default=None,
        help="events built (default: --events); the set-up of both runs",
    )
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument(
        "--batch",
        type=int,
        default=REPLAY_BATCH_SIZE,
        help="events per commit group on the replay path (default: replay's, 50,000)",
    )
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    total = args.total or args.events
    if args.inner:
        workload(args.path, args.events, total, args.members, args.workload, args.batch)
        return
    work = count(args.path, args.events, total, args.members, args.workload, args.batch)
    idle = count(args.path, 0, total, args.members, args.workload, args.batch)
    per_event = (sum(work) - sum(idle)) / args.events
    print(
        f"{args.workload} {args.path}: {sum(work):,} - {sum(idle):,} instructions over "
        f"{args.events:,} events",
        file=sys.stderr,
    )
    figures: dict[str, Any] = {
        "workload": args.workload,
        "path": args.path,
        "events": args.events,
        "instructions_per_event": round(per_event),
    }
    if args.path == "replay":
        figures["main_per_event"] = round((work[0] - idle[0]) / args.events)
        figures["writer_per_event"] = round((sum(work[1:]) - sum(idle[1:])) / args.events)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
