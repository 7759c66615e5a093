"""Report benchmark: ``engage-rules report --json`` on a SQLite store of bench/engine.py's
workload (its rules and events; the playbook's time zone set to ``--timezone``).

Builds the store with ``engage-rules replay`` (or reuses ``--store`` if it exists), then
runs the report ``--runs`` times, each in a fresh process, and prints the wall time, CPU
time and peak RSS of each run; the last line is one JSON object with the best run.

    python bench/bench_report.py [--events N] [--members N] [--store PATH] [--runs R]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine import make_events, make_rules

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

#: One report in a child process, which then prints its own CPU time and peak RSS.
CHILD = """
import resource, sys
from engage_rules.cli import main
code = main(sys.argv[1:])
r = resource.getrusage(resource.RUSAGE_SELF)
print(f"{code} {r.ru_utime + r.ru_stime} {r.ru_maxrss}", file=sys.stderr)
"""


def build(path: Path, events: int, members: int, timezone: str) -> float:
    """Replay the workload into a new SQLite store at ``path``; the seconds it took."""
    text, _ = make_rules()
    text = text.replace("timezone: UTC", f"timezone: {timezone}")
    with tempfile.TemporaryDirectory() as tmp:
        playbook, lines = Path(tmp) / "bench.yaml", Path(tmp) / "events.jsonl"
        playbook.write_text(text)
        lines.write_text("\n".join(make_events(events, members)) + "\n")
        replay = ["replay", str(playbook), str(lines), "--store", f"sqlite:///{path}"]
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "engage_rules", *replay],
            check=True,
            stdout=subprocess.DEVNULL,
            env=ENV,
        )
        return time.perf_counter() - t0


def report(path: Path) -> dict[str, float]:
    """One ``report --json`` run: wall and CPU seconds, peak RSS in MB."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "report", "--json", "--store", f"sqlite:///{path}"],
        check=True,
        capture_output=True,
        text=True,
        env=ENV,
    )
    wall = time.perf_counter() - t0
    code, cpu, rss = done.stderr.split()[-3:]
    if code != "0":
        raise SystemExit(f"report failed:\n{done.stderr}")
    return {"wall_s": round(wall, 2), "cpu_s": round(float(cpu), 2), "rss_mb": int(rss) // 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--timezone", default="America/New_York")
    ap.add_argument("--store", type=Path, help="the store to report on (built if missing)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.store or Path(tmp) / "state.db"
        if not path.exists():
            seconds = build(path, args.events, args.members, args.timezone)
            print(f"built {path} ({path.stat().st_size / 1e6:.0f} MB) in {seconds:.0f} s")
        runs = [report(path) for _ in range(args.runs)]
        for run in runs:
            print(f"report: {run['wall_s']} s wall, {run['cpu_s']} s CPU, {run['rss_mb']} MB")
        print(json.dumps(min(runs, key=lambda r: r["wall_s"])))


if __name__ == "__main__":
    main()
