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
file, commits included), ``parse`` (the JSON Lines reader alone), ``baseline`` (the
hand-written baseline of ``bench/engine.py``).  ``--workload busy`` runs the busy
workload's playbook (or baseline) instead of the core one; the baseline's count over the
engine's (``memory``) is the noise-free ``memory_ratio``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))


def workload(path: str, process: int, total: int, members: int, name: str) -> None:
    """Build ``total`` events and process the first ``process`` of them on ``path``, with
    the workload ``name`` (core or busy)."""
    from engine import WORKLOADS, make_events

    from engage_rules import compile_playbook, parse_event
    from engage_rules.shell.reader import read_lines
    from engage_rules.shell.runner import Runner, tune_gc
    from engage_rules.testing import load_playbook_text, open_store

    tune_gc()
    make, baseline = WORKLOADS[name]
    text, hand = make()
    playbook = compile_playbook(load_playbook_text(text, "bench.yaml"))
    lines = make_events(total, members)
    raw = [line.encode() for line in lines]
    events = [parse_event(line) for line in raw]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'state.db'}" if path == "sqlite" else "memory:"
        runner = Runner(playbook, open_store(url))
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


def count(path: str, process: int, total: int, members: int, name: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
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
            ],
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ, PYTHONHASHSEED="0"),
        )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{proc.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", choices=("memory", "sqlite", "parse", "baseline"), default="memory")
    ap.add_argument("--workload", choices=("core", "busy"), default="core")
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument(
        "--total",
        type=int,
        default=None,
        help="events built (default: --events); the set-up of both runs",
    )
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    total = args.total or args.events
    if args.inner:
        workload(args.path, args.events, total, args.members, args.workload)
        return
    work = count(args.path, args.events, total, args.members, args.workload)
    idle = count(args.path, 0, total, args.members, args.workload)
    per_event = (work - idle) / args.events
    print(
        f"{args.workload} {args.path}: {work:,} - {idle:,} instructions over "
        f"{args.events:,} events",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "workload": args.workload,
                "path": args.path,
                "events": args.events,
                "instructions_per_event": round(per_event),
            }
        )
    )


if __name__ == "__main__":
    main()
