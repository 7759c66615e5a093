"""Segment snapshot benchmark (issue 18): the cost of the daily segment snapshot
(features/segment_snapshot.py), one community of N members (default 20,000) with two
segments, in a SQLite store.

  (a) in memory: the midnight right after the members were processed (all in memory);
  (b) stored:    the next midnight after the store is reopened, so every member is read
                 from the store (a page of 500 per query) and none is kept.

Times are wall seconds, each including the commit of the snapshot's rows.
The last line printed is one JSON object.

    python bench/bench_segments.py [--members N] [--store PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from engage_rules.shell.runner import Runner
from engage_rules.store import SQLiteStore
from engage_rules.testing import event, playbook

PLAYBOOK = """\
engage_rules: 1
name: bench-segments
community: {name: Bench, timezone: Asia/Shanghai}
currencies: [points]
segments:
  posters: "member.points >= 5"
  quiet: "member.silent_for >= days(7)"
rules:
  - id: points
    on: message.posted
    do: [{award: {points: 5, reason: post}}]
"""
START = datetime.fromisoformat("2026-05-01T10:00:00+08:00")


def _midnight(store: SQLiteStore, runner: Runner, day: int) -> float:
    began = time.perf_counter()
    runner.advance_to(datetime.fromisoformat("2026-05-01T00:00:01+08:00") + timedelta(days=day))
    runner.flush()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = args.store or Path(folder.name) / "bench.db"
    pb = playbook(PLAYBOOK)
    store = SQLiteStore(str(path))
    runner = Runner(pb, store, batch_size=1000)
    for i in range(args.members):
        type_ = "message.posted" if i % 2 == 0 else "member.joined"
        at = START + timedelta(seconds=i % 40_000)
        runner.feed(event(type_, f"u{i:07d}", at, id=f"e{i}", community="c"))
    runner.flush()
    in_memory = _midnight(store, runner, 1)
    store.close()
    again = SQLiteStore(str(path))
    stored = _midnight(again, Runner(pb, again, batch_size=1000), 2)
    rows = [r for r in again.activity_totals() if r[2].startswith("segment:")]
    newest = max(day for _c, day, _t, _n in rows)
    sizes = {t: n for _c, day, t, n in rows if day == newest}
    again.close()
    folder.cleanup()
    print(f"(a) snapshot, members in memory: {in_memory:.2f} s")
    print(f"(b) snapshot, members read from the store: {stored:.2f} s")
    result = {
        "members": args.members,
        "in_memory_s": round(in_memory, 3),
        "stored_s": round(stored, 3),
        "sizes": sizes,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
