"""Measure SQLiteStore.commit throughput (decisions/second) with synchronous=FULL.

Only the time spent inside commit() / commit_async() (and the final wait) is counted.

Each decision: one processed id, one touched member (drawn from a population), 0-2 new
ledger entries, 0-2 actions.  Batches of --batch decisions are committed as one
transaction.  Run:  PYTHONPATH=src python bench/bench_store_commit.py [--decisions N]
"""

from __future__ import annotations

import argparse
import itertools
import random
import tempfile
import time
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engage_rules.model.decision import ActionRecord, Decision
from engage_rules.model.state import LedgerEntry
from engage_rules.store import SQLiteStore

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--decisions", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--members", type=int, default=20_000)
    ap.add_argument(
        "--dist",
        choices=["uniform", "zipf"],
        default="uniform",
        help="which members act: uniformly at random (every decision of a "
        "batch touches a different member) or Zipf(1.1) like real chat",
    )
    ap.add_argument(
        "--pipelined",
        action="store_true",
        help="use commit_async: the fsync of a batch overlaps the next batch",
    )
    ap.add_argument("--path", default=None, help="database file (default: a temp dir)")
    args = ap.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.path or Path(tmp) / "bench.db")
        store = SQLiteStore(path)
        state = store.open()
        c = state.community("default")
        weights = [1.0 / (k + 1) ** 1.1 for k in range(args.members)]
        cum = list(itertools.accumulate(weights))
        population = range(args.members)

        def pick() -> int:
            if args.dist == "uniform":
                return rng.randrange(args.members)
            return rng.choices(population, cum_weights=cum)[0]

        n = 0
        spent = 0.0
        pending: Future[None] | None = None
        while n < args.decisions:
            batch: list[Decision] = []
            for _ in range(args.batch):
                n += 1
                at = T0 + timedelta(seconds=3 * n)  # 200k decisions ~ a week
                mid = f"u{pick()}"
                m = c.member(mid)
                m.record("message.posted", at.timestamp(), 86400.0)
                m.last_active_at = at
                d = Decision(cause=f"evt-{n}", at=at)
                d.touched.add(("default", mid))
                for _ in range(rng.randrange(3)):
                    seq = m.ledger_seq = m.ledger_seq + 1
                    e = LedgerEntry(
                        seq,
                        "points",
                        5,
                        "award",
                        "quality post",
                        "quality-post",
                        d.cause,
                        f"k{n}-{seq}",
                        at,
                        ref=f"m-{n}",
                    )
                    m.balances["points"] = m.balances.get("points", 0) + 5
                    d.ledger.append(("default", mid, e))
                for i in range(rng.randrange(3)):
                    d.actions.append(
                        ActionRecord(
                            key=f"a{n}-{i}",
                            type="award",
                            member=mid,
                            rule="quality-post",
                            cause=d.cause,
                            at=at,
                            params={"currency": "points", "amount": 5, "reason": "quality post"},
                        )
                    )
                batch.append(d)
            state.clock = batch[-1].at
            t = time.perf_counter()
            if args.pipelined:
                pending = store.commit_async(batch, state)
            else:
                store.commit(batch, state)
            spent += time.perf_counter() - t
        if pending is not None:
            t = time.perf_counter()
            pending.result()
            spent += time.perf_counter() - t
        t = time.perf_counter()
        for i in range(0, 100_000):
            store.is_processed(f"evt-{i * 7 % (2 * n)}")
        probe = (time.perf_counter() - t) / 100_000
        store.close()
        t = time.perf_counter()
        reopened = SQLiteStore(path)
        loaded = reopened.open()
        load = time.perf_counter() - t
        reopened.close()
        assert sum(m.ledger_seq for m in loaded.community("default").members.values()) == sum(
            m.ledger_seq for m in state.community("default").members.values()
        )
        mode = "commit_async" if args.pipelined else "commit"
        print(
            f"{args.dist} over {args.members} members, {mode}: "
            f"{n} decisions in batches of {args.batch}: {spent:.2f} s in commit, "
            f"{n / spent:,.0f} decisions/s; is_processed {probe * 1e6:.2f} us; "
            f"open() of {len(loaded.community('default').members)} members {load:.2f} s; "
            f"db {path.stat().st_size / 1e6:.0f} MB"
        )


if __name__ == "__main__":
    main()
