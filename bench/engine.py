"""Core engine benchmark (issue: engine core, item 9).

Builds a deterministic workload — by default 200,000 events from 10,000 members against a
playbook of 100 rules, about 20 per frequent event type, with conditions on event data and
member attributes, 40 of the rules awarding points — and measures events/second for:

  (a) baseline: hand-written Python doing the same matching (rules indexed by event type,
      conditions as lambdas, the same awards and tags) — its results are checked against
      the engine's, so both do the same work;
  (b) memory: the engine with the in-memory store (Runner + MemoryStore);
  (c) sqlite: a replay of the JSONL file into SQLite with durable group commits
      (parsing included, synchronous=FULL).

The last line printed is one JSON object with the figures.

    python bench/engine.py [--events N] [--members N]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from engage_rules import Event, compile_playbook, parse_event
from engage_rules.shell.runner import REPLAY_BATCH_SECONDS, REPLAY_BATCH_SIZE, Runner, tune_gc
from engage_rules.testing import load_playbook_text, open_store

TYPES = ["message.posted", "reaction.added", "checkin", "content.shared", "purchase"]
WEIGHTS = [50, 20, 12, 10, 8]
CHANNELS = ["general", "photos", "help", "offtopic"]
LANGS = ["zh", "en", "ja"]

Cond = Callable[[Any, dict[str, Any]], bool]


def make_rules() -> tuple[str, list[tuple[str, str, Cond, tuple[str, Any]]]]:
    """The playbook YAML and the same rules as hand-written (type, id, lambda, action)."""
    rng = random.Random(7)
    yaml_rules: list[str] = []
    hand: list[tuple[str, str, Cond, tuple[str, Any]]] = []
    n = 0
    for type_ in TYPES:
        for k in range(20):
            n += 1
            rid = f"r{n:03d}"
            kind = k % 5
            size = rng.randint(5, 120)
            chan = rng.choice(CHANNELS)
            lang = rng.choice(LANGS)
            pts = rng.randint(300, 2000)
            # Selective conditions, as in a real playbook: most rules do not fire for
            # most events (about one action per event on average).
            if kind == 0:
                size = rng.randint(150, 195)
                expr = f"event.data.size >= {size} and event.channel == '{chan}'"
                fn: Cond = lambda e, m, size=size, chan=chan: (
                    e.data.get("size", 0) >= size and e.channel == chan
                )
            elif kind == 1:
                expr = f"event.data.lang == '{lang}' and member.points >= {pts}"
                fn = lambda e, m, lang=lang, pts=pts: (
                    e.data.get("lang") == lang and m["points"] >= pts
                )
            elif kind == 2:
                size = rng.randint(170, 198)
                expr = f"'regular' in member.tags and event.data.size > {size}"
                fn = lambda e, m, size=size: "regular" in m["tags"] and e.data.get("size", 0) > size
            elif kind == 3:
                size = rng.randint(4, 30)
                expr = f"event.channel != '{chan}' and event.data.size < {size}"
                fn = lambda e, m, chan=chan, s=size: e.channel != chan and e.data.get("size", 0) < s
            else:
                pts = rng.randint(1, 8)
                expr = f"member.points < {pts} and event.data.lang != '{lang}'"
                fn = lambda e, m, pts=pts, lang=lang: (
                    m["points"] < pts and e.data.get("lang") != lang
                )
            if n % 5 in (0, 2):  # 40 rules award points
                amount = n % 4 + 1
                action_yaml = f"[{{award: {{points: {amount}, reason: bench}}}}]"
                action: tuple[str, Any] = ("award", amount)
            else:
                tag = "regular" if n % 5 == 1 else f"t{n % 7}"
                action_yaml = f"[{{tag: {tag}}}]"
                action = ("tag", tag)
            yaml_rules.append(
                f'  - id: {rid}\n    on: {type_}\n    if: "{expr}"\n    do: {action_yaml}\n'
            )
            hand.append((type_, rid, fn, action))
    text = "engage_rules: 1\nname: bench\ncommunity: {name: bench, timezone: UTC}\nrules:\n"
    return text + "".join(yaml_rules), hand


def make_events(n: int, members: int) -> list[str]:
    rng = random.Random(42)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        at = start + timedelta(seconds=i * 2)
        type_ = rng.choices(TYPES, WEIGHTS)[0]
        mid = f"u{rng.randrange(members)}"
        data = {"size": rng.randint(0, 200), "lang": rng.choice(LANGS)}
        out.append(
            json.dumps(
                {
                    "id": f"e{i}",
                    "type": type_,
                    "at": at.isoformat(),
                    "community": "bench",
                    "channel": rng.choice(CHANNELS),
                    "member": {"id": mid},
                    "data": data,
                }
            )
        )
    return out


def run_baseline(
    events: list[Event], hand: list[tuple[str, str, Cond, tuple[str, Any]]]
) -> tuple[dict[str, dict[str, Any]], list[tuple[Any, ...]]]:
    """Hand-written matching with the same outcomes as the engine: balances, a ledger
    entry per award (amount, reason, rule, cause, time), tags, and the list of emitted
    actions (type, member, rule, cause, time, params)."""
    by_type: dict[str, list[tuple[str, Cond, tuple[str, Any]]]] = {}
    for type_, rid, fn, action in hand:
        by_type.setdefault(type_, []).append((rid, fn, action))
    members: dict[str, dict[str, Any]] = {}
    actions: list[tuple[Any, ...]] = []
    for e in events:
        mid = e.member.id  # type: ignore[union-attr]
        m = members.get(mid)
        if m is None:
            m = members[mid] = {"points": 0, "tags": set(), "ledger": []}
        for rid, fn, (kind, arg) in by_type.get(e.type, ()):
            if fn(e, m):
                if kind == "award":
                    m["points"] += arg
                    m["ledger"].append(
                        {"amount": arg, "reason": "bench", "rule": rid, "cause": e.id, "at": e.at}
                    )
                    actions.append(
                        (
                            "award",
                            mid,
                            rid,
                            e.id,
                            e.at,
                            {"currency": "points", "amount": arg, "reason": "bench"},
                        )
                    )
                elif arg not in m["tags"]:
                    m["tags"].add(arg)
                    actions.append(("tag", mid, rid, e.id, e.at, {"name": arg}))
    return members, actions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--members", type=int, default=10_000)
    args = ap.parse_args()

    # Allocation-heavy workloads spend much of their time in the cyclic garbage collector;
    # `engage-rules replay` and `run` tune it the same way (runner.tune_gc).
    tune_gc()
    text, hand = make_rules()
    playbook = compile_playbook(load_playbook_text(text, "bench.yaml"))
    lines = make_events(args.events, args.members)
    events = [parse_event(line) for line in lines]
    n = len(events)

    t0 = time.perf_counter()
    base, base_actions = run_baseline(events, hand)
    baseline_s = time.perf_counter() - t0

    store = open_store("memory:")
    runner = Runner(playbook, store)
    t0 = time.perf_counter()
    for e in events:
        runner.feed(e)
    runner.flush()
    memory_s = time.perf_counter() - t0

    engine_actions = [
        (
            i.action.type,
            i.action.member,
            i.action.rule,
            i.action.cause,
            i.action.at,
            i.action.params,
        )
        for i in store.outbox()
    ]
    community = runner.state.communities["bench"]
    mismatches = 0
    for mid, m in base.items():
        mem = community.members[mid]
        if (
            mem.balances.get("points", 0) != m["points"]
            or set(mem.tags) != m["tags"]
            or mem.ledger_seq != len(m["ledger"])
        ):
            mismatches += 1
    if mismatches:
        raise SystemExit(f"baseline and engine disagree for {mismatches} members")
    if engine_actions != base_actions:
        raise SystemExit("baseline and engine emitted different actions")
    awards = sum(len(m["ledger"]) for m in base.values())
    # The SQLite replay starts from a clean heap, as `engage-rules replay` does in its own
    # process: drop the first two runs' results and re-freeze what is left.
    del base, base_actions, engine_actions, community, runner, store, events
    gc.collect()
    gc.freeze()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        path.write_text("\n".join(lines) + "\n")
        db = Path(tmp) / "state.db"
        from engage_rules.shell.reader import Quarantined, read_events

        t0 = time.perf_counter()
        sq = Runner(
            playbook,
            open_store(f"sqlite:///{db}"),
            batch_size=REPLAY_BATCH_SIZE,
            max_batch_seconds=REPLAY_BATCH_SECONDS,
        )
        for _, item in read_events(path):
            if not isinstance(item, Quarantined):
                sq.feed(item)
        sq.close()
        sqlite_s = time.perf_counter() - t0
        size = os.path.getsize(db)

    figures = {
        "events": n,
        "members": args.members,
        "rules": len(hand),
        "awards": awards,
        "baseline_eps": round(n / baseline_s),
        "memory_eps": round(n / memory_s),
        "sqlite_eps": round(n / sqlite_s),
        "memory_ratio": round(baseline_s / memory_s, 3),
    }
    print(
        f"workload: {n} events, {args.members} members, {len(hand)} rules, "
        f"{awards} awards (engine and baseline agree)",
        file=sys.stderr,
    )
    print(
        f"baseline {figures['baseline_eps']:,} ev/s | memory {figures['memory_eps']:,} ev/s | "
        f"sqlite {figures['sqlite_eps']:,} ev/s (db {size / 1e6:.1f} MB)",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {k: figures[k] for k in ("baseline_eps", "memory_eps", "sqlite_eps", "memory_ratio")}
        )
    )


if __name__ == "__main__":
    main()
