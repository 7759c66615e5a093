"""Core engine benchmark (issue: engine core, item 9; the busy workload: issue 14).

Builds a deterministic workload — by default 200,000 events from 10,000 members against a
playbook of 100 rules, about 20 per frequent event type, with conditions on event data and
member attributes, 40 of the rules awarding points — and measures events/second for:

  (a) baseline: hand-written Python doing the same matching (rules indexed by event type,
      conditions as lambdas, the same awards and tags) — its results are checked against
      the engine's, so both do the same work;
  (b) memory: the engine with the in-memory store (Runner + MemoryStore);
  (c) sqlite: a replay of the JSONL file into SQLite with durable group commits
      (parsing included, synchronous=FULL);
  (d) with ``--postgresql URL``: the same replay into a PostgreSQL store (a schema
      ``bench_<workload>`` of the database the URL names, dropped before and after).

About one rule fires per event in that (core) workload.  The busy workload runs the same
events against another 100 rules of which about three fire per event — daily-capped
awards (``cap: {max, per: day}``), plain awards and tags — with its own hand-written
baseline, checked the same way.  The engine's results are compared with the baseline's
through what the engine reports: every member's balance and tags, and the actions the
runner reports as committed (``on_commit``), in order.

The last line printed is one JSON object with the figures (the busy workload's prefixed
``busy_``; ``rules_per_event``: rules whose conditions held, per event).

    python bench/engine.py [--events N] [--members N] [--workload core|busy|both]
                           [--repeat N] [--postgresql postgresql://USER@HOST/DB]

Each path runs ``--repeat`` times (3 by default; the baseline and the memory path take
turns) and its best time counts, as ``timeit`` does: on a shared machine a run is only
ever slowed down by others, so the fastest is the nearest to the code's own cost.  Every
time is printed to standard error.
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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from engage_rules import CompiledPlaybook, Event, compile_playbook, parse_event
from engage_rules.shell.interpreter import BatchCollector, tune_interpreter
from engage_rules.shell.reader import Quarantined, read_events
from engage_rules.shell.runner import REPLAY_BATCH_SECONDS, REPLAY_BATCH_SIZE, Runner
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


def make_busy_rules() -> tuple[str, list[tuple[str, str, Cond, tuple[str, Any]]]]:
    """The busy workload: the playbook YAML and the same rules hand-written.

    100 rules, 20 per event type, about three of which fire per event: broad daily-capped
    awards (``award`` with ``cap: {max, per: day}``, cut to what is left under the cap),
    plain awards, tags on points thresholds (most of them already held, so no action),
    and capped awards for members tagged ``regular``.  Actions are ``("award", amount)``,
    ``("tag", name)`` or ``("capped", (amount, max))``.
    """
    rng = random.Random(11)
    yaml_rules: list[str] = []
    hand: list[tuple[str, str, Cond, tuple[str, Any]]] = []
    n = 0
    for type_ in TYPES:
        for k in range(20):
            n += 1
            rid = f"b{n:03d}"
            kind = k % 5
            chan = rng.choice(CHANNELS)
            lang = rng.choice(LANGS)
            action: tuple[str, Any]
            if kind == 0:  # capped per day; the first of each type nearly always fires
                size = rng.randint(5, 15) if k == 0 else rng.randint(135, 180)
                expr = f"event.data.size >= {size}"
                fn: Cond = lambda e, m, size=size: e.data.get("size", 0) >= size
                action = ("capped", (rng.randint(2, 5), rng.randint(3, 8)))
            elif kind == 1:  # a plain award
                size = rng.randint(60, 120)
                expr = f"event.data.lang == '{lang}' and event.data.size < {size}"
                fn = lambda e, m, lang=lang, size=size: (
                    e.data.get("lang") == lang and e.data.get("size", 0) < size
                )
                action = ("award", rng.randint(1, 4))
            elif kind == 2:  # a tag on a points threshold (mostly held already)
                pts = rng.randint(5, 300)
                size = rng.randint(40, 120)
                expr = f"member.points >= {pts} and event.data.size < {size}"
                fn = lambda e, m, pts=pts, size=size: (
                    m["points"] >= pts and e.data.get("size", 0) < size
                )
                action = ("tag", f"p{pts}")
            elif kind == 3:  # capped, for regulars
                size = rng.randint(120, 190)
                expr = f"'regular' in member.tags and event.data.size > {size}"
                fn = lambda e, m, size=size: "regular" in m["tags"] and e.data.get("size", 0) > size
                action = ("capped", (rng.randint(2, 6), rng.randint(4, 10)))
            else:  # who becomes a regular
                size = rng.randint(150, 195)
                expr = f"event.data.size > {size} and event.channel == '{chan}'"
                fn = lambda e, m, size=size, chan=chan: (
                    e.data.get("size", 0) > size and e.channel == chan
                )
                action = ("tag", "regular" if n % 2 else f"c{chan}")
            if action[0] == "capped":
                amount, most = action[1]
                action_yaml = (
                    f"[{{award: {{points: {amount}, reason: busy, "
                    f"cap: {{max: {most}, per: day}}}}}}]"
                )
            elif action[0] == "award":
                action_yaml = f"[{{award: {{points: {action[1]}, reason: busy}}}}]"
            else:
                action_yaml = f"[{{tag: {action[1]}}}]"
            yaml_rules.append(
                f'  - id: {rid}\n    on: {type_}\n    if: "{expr}"\n    do: {action_yaml}\n'
            )
            hand.append((type_, rid, fn, action))
    text = "engage_rules: 1\nname: bench-busy\ncommunity: {name: bench, timezone: UTC}\nrules:\n"
    return text + "".join(yaml_rules), hand


def iter_events(n: int, members: int) -> Iterator[str]:
    """The workload's event stream, one JSON line at a time (seeded: always the same)."""
    rng = random.Random(42)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for i in range(n):
        at = start + timedelta(seconds=i * 2)
        type_ = rng.choices(TYPES, WEIGHTS)[0]
        mid = f"u{rng.randrange(members)}"
        data = {"size": rng.randint(0, 200), "lang": rng.choice(LANGS)}
        yield json.dumps(
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


def make_events(n: int, members: int) -> list[str]:
    """The first ``n`` events of the stream (``iter_events``) as a list."""
    return list(iter_events(n, members))


Hand = list[tuple[str, str, Cond, tuple[str, Any]]]
#: A baseline's outcome: members (points, tags, ledger), the emitted actions (type,
#: member, rule, cause, time, params) and how many rules fired (their conditions held).
Outcome = tuple[dict[str, dict[str, Any]], list[tuple[Any, ...]], int]


def run_baseline(events: list[Event], hand: Hand) -> Outcome:
    """Hand-written matching with the same outcomes as the engine: balances, a ledger
    entry per award (amount, reason, rule, cause, time), tags, and the list of emitted
    actions (type, member, rule, cause, time, params)."""
    by_type: dict[str, list[tuple[str, Cond, tuple[str, Any]]]] = {}
    for type_, rid, fn, action in hand:
        by_type.setdefault(type_, []).append((rid, fn, action))
    members: dict[str, dict[str, Any]] = {}
    actions: list[tuple[Any, ...]] = []
    fired = 0
    for e in events:
        mid = e.member.id  # type: ignore[union-attr]
        m = members.get(mid)
        if m is None:
            m = members[mid] = {"points": 0, "tags": set(), "ledger": []}
        for rid, fn, (kind, arg) in by_type.get(e.type, ()):
            if fn(e, m):
                fired += 1
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
    return members, actions, fired


def run_busy_baseline(events: list[Event], hand: Hand) -> Outcome:
    """The busy workload by hand: as ``run_baseline``, plus daily caps per member and
    rule (days from UTC midnight, the playbook's time zone): a capped award is cut to
    what is left under its cap, and emits nothing once the cap is reached."""
    by_type: dict[str, list[tuple[str, Cond, tuple[str, Any]]]] = {}
    for type_, rid, fn, action in hand:
        by_type.setdefault(type_, []).append((rid, fn, action))
    members: dict[str, dict[str, Any]] = {}
    actions: list[tuple[Any, ...]] = []
    fired = 0
    for e in events:
        mid = e.member.id  # type: ignore[union-attr]
        m = members.get(mid)
        if m is None:
            m = members[mid] = {"points": 0, "tags": set(), "ledger": [], "caps": {}}
        day = -1  # the event's day, computed for its first capped award
        for rid, fn, (kind, arg) in by_type.get(e.type, ()):
            if not fn(e, m):
                continue
            fired += 1
            if kind == "tag":
                if arg not in m["tags"]:
                    m["tags"].add(arg)
                    actions.append(("tag", mid, rid, e.id, e.at, {"name": arg}))
                continue
            if kind == "capped":
                amount, most = arg
                if day < 0:
                    day = int(e.at.timestamp() // 86400)
                slot = m["caps"].get(rid)
                if slot is None or slot[0] != day:
                    slot = m["caps"][rid] = [day, 0]
                amount = min(amount, most - slot[1])
                if amount <= 0:
                    continue
                slot[1] += amount
            else:
                amount = arg
            m["points"] += amount
            m["ledger"].append(
                {"amount": amount, "reason": "busy", "rule": rid, "cause": e.id, "at": e.at}
            )
            actions.append(
                (
                    "award",
                    mid,
                    rid,
                    e.id,
                    e.at,
                    {"currency": "points", "amount": amount, "reason": "busy"},
                )
            )
    return members, actions, fired


def run_engine(playbook: CompiledPlaybook, events: list[Event]) -> tuple[float, Runner, list[Any]]:
    """The engine through ``Runner`` and the memory store: seconds, the runner, and the
    actions it reported as committed (``on_commit``)."""
    committed: list[Any] = []
    collector = BatchCollector()  # run between batches, as `engage-rules replay` runs it
    runner = Runner(
        playbook, open_store("memory:"), on_commit=committed.extend, collector=collector
    )
    t0 = time.perf_counter()
    for i in range(0, len(events), 512):  # as `engage-rules replay` feeds them
        runner.feed_many(events[i : i + 512])
    runner.flush()
    collector.stop()
    return time.perf_counter() - t0, runner, committed


def check(runner: Runner, outcome: Outcome, committed: list[Any], label: str) -> None:
    """Fail unless the engine and the baseline agree on every member's balance and tags
    and on the full list of actions (the engine's as reported by ``on_commit``)."""
    base, base_actions, _ = outcome
    members = runner.state.communities["bench"].members
    mismatches = len(base) != len(members)
    for mid, m in base.items():
        mem = members[mid]
        if mem.balances.get("points", 0) != m["points"] or set(mem.tags) != m["tags"]:
            mismatches += 1
    if mismatches:
        raise SystemExit(f"{label}: baseline and engine disagree for {mismatches} members")
    engine_actions = [(a.type, a.member, a.rule, a.cause, a.at, a.params) for a in committed]
    if engine_actions != base_actions:
        raise SystemExit(f"{label}: baseline and engine emitted different actions")


def replay_sqlite(playbook: CompiledPlaybook, path: Path, db: Path) -> float:
    """Seconds to read ``path`` and replay it into a new SQLite store at ``db``, with the
    batches of ``engage-rules replay``."""
    return replay_into(playbook, path, f"sqlite:///{db}")


def replay_postgresql(playbook: CompiledPlaybook, path: Path, url: str, label: str) -> float:
    """Seconds to replay ``path`` into a new PostgreSQL store: schema ``bench_<label>`` of
    the database ``url`` names (dropped before and after)."""
    import psycopg

    schema = f"bench_{label}"
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    try:
        return replay_into(playbook, path, f"{url.split('?')[0]}?schema={schema}")
    finally:
        with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def replay_into(playbook: CompiledPlaybook, path: Path, url: str) -> float:
    """Seconds to read ``path`` and replay it into the new store ``url``, with the
    batches of ``engage-rules replay``."""
    t0 = time.perf_counter()
    sq = Runner(
        playbook,
        open_store(url),
        batch_size=REPLAY_BATCH_SIZE,
        max_batch_seconds=REPLAY_BATCH_SECONDS,
        collector=BatchCollector(),
    )
    chunk: list[Event] = []  # as `engage-rules replay` feeds them: ids checked per chunk
    for _, item in read_events(path):
        if not isinstance(item, Quarantined):
            chunk.append(item)
            if len(chunk) == 512:
                sq.feed_many(chunk)
                chunk = []
    sq.feed_many(chunk)
    sq.close()
    return time.perf_counter() - t0


def measure(
    label: str,
    make: Callable[[], tuple[str, Hand]],
    baseline: Callable[[list[Event], Hand], Outcome],
    events: list[Event],
    path: Path,
    postgresql: str | None = None,
    repeat: int = 1,
) -> dict[str, Any]:
    """One workload: baseline, memory (checked against the baseline), SQLite and
    (given its URL) PostgreSQL; the best of ``repeat`` runs of each."""
    text, hand = make()
    playbook = compile_playbook(load_playbook_text(text, f"{label}.yaml"))
    n = len(events)
    baseline_times: list[float] = []
    memory_times: list[float] = []
    for i in range(repeat):  # the two take turns, so that both meet the same machine
        t0 = time.perf_counter()
        outcome = baseline(events, hand)
        baseline_times.append(time.perf_counter() - t0)
        memory_s, runner, committed = run_engine(playbook, events)
        memory_times.append(memory_s)
        if i == 0:
            check(runner, outcome, committed, label)
        if i < repeat - 1:
            del outcome, runner, committed
            gc.collect()
    baseline_s, memory_s = min(baseline_times), min(memory_times)
    fired = outcome[2]
    awards = sum(1 for a in outcome[1] if a[0] == "award")
    # The SQLite replay starts from a clean heap, as `engage-rules replay` does in its own
    # process: drop the first two runs' results and re-freeze what is left.
    del outcome, runner, committed
    gc.collect()
    gc.freeze()
    db = path.with_name(f"{label}.db")
    sqlite_times: list[float] = []
    for _ in range(repeat):
        sqlite_times.append(replay_sqlite(playbook, path, db))
        size = os.path.getsize(db)
        db.unlink()
        gc.collect()
        gc.freeze()  # and so does the next run
    sqlite_s = min(sqlite_times)
    figures = {
        "baseline_eps": round(n / baseline_s),
        "memory_eps": round(n / memory_s),
        "sqlite_eps": round(n / sqlite_s),
        "memory_ratio": round(baseline_s / memory_s, 3),
        "rules_per_event": round(fired / n, 2),
    }
    if postgresql is not None:
        figures["postgresql_eps"] = round(n / replay_postgresql(playbook, path, postgresql, label))
        gc.collect()
        gc.freeze()
        print(f"{label}: postgresql {figures['postgresql_eps']:,} ev/s", file=sys.stderr)
    for name, times in (
        ("baseline", baseline_times),
        ("memory", memory_times),
        ("sqlite", sqlite_times),
    ):
        print(f"{label}: {name} runs: {', '.join(f'{t:.3f}' for t in times)} s", file=sys.stderr)
    print(
        f"{label}: {n} events, {len(hand)} rules, {fired / n:.2f} fired per event, "
        f"{awards} awards (engine and baseline agree)",
        file=sys.stderr,
    )
    print(
        f"{label}: baseline {figures['baseline_eps']:,} ev/s | "
        f"memory {figures['memory_eps']:,} ev/s | sqlite {figures['sqlite_eps']:,} ev/s "
        f"(db {size / 1e6:.1f} MB)",
        file=sys.stderr,
    )
    return figures


WORKLOADS = {
    "core": (make_rules, run_baseline),
    "busy": (make_busy_rules, run_busy_baseline),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument(
        "--workload",
        choices=["core", "busy", "both"],
        default="both",
        help="which workload to run (default both: core, then busy)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        metavar="N",
        help="run each path N times and count its best time (default 3)",
    )
    ap.add_argument(
        "--postgresql",
        metavar="URL",
        help="also replay into a PostgreSQL store in this database (postgresql_eps)",
    )
    args = ap.parse_args()

    # Allocation-heavy workloads spend much of their time in the cyclic garbage collector;
    # `engage-rules replay` and `run` tune it the same way (interpreter.tune_interpreter).
    tune_interpreter()
    lines = make_events(args.events, args.members)
    events = [parse_event(line) for line in lines]
    print(f"workload: {len(events)} events, {args.members} members", file=sys.stderr)
    names = ["core", "busy"] if args.workload == "both" else [args.workload]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        path.write_text("\n".join(lines) + "\n")
        del lines
        for name in names:
            make, baseline = WORKLOADS[name]
            figures = measure(
                name, make, baseline, events, path, args.postgresql, max(1, args.repeat)
            )
            prefix = "" if name == "core" else f"{name}_"
            out.update({prefix + k: v for k, v in figures.items()})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
