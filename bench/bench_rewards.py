"""Rewards benchmark (issue: rewards, item 10).

A rewards-heavy workload beside the core one, on the same deterministic stream (by
default 200,000 events from 10,000 members over about 4.6 days): every event awards
points under a daily cap, check-ins feed a streak bonus, a level ladder (with demotion)
is checked for every member an event touches, and a weekly leaderboard ranks the points
earned.  Both workloads run through `Runner` with the in-memory store, in the same
process, so their per-event costs compare directly; the target is that rewards stay
within 2x of the core workload's cost per event (`ratio` ≤ 2).

    python bench/bench_rewards.py [--events N] [--members N]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import make_events, make_rules  # the core benchmark's workload

from engage_rules import CompiledPlaybook, compile_playbook, parse_event
from engage_rules.events import Event
from engage_rules.shell.interpreter import tune_gc
from engage_rules.shell.runner import Runner
from engage_rules.testing import load_playbook_text, open_store

REWARDS_PLAYBOOK = """
engage_rules: 1
name: bench-rewards
community: {name: bench, timezone: Asia/Shanghai}
currencies: [points, coins]
levels:
  by: points
  ladder:
    - {level: 1, name: 新手, at: 0}
    - {level: 2, name: 活跃, at: 50}
    - {level: 3, name: 骨干, at: 200}
    - {level: 4, name: 核心, at: 600}
  demotion: {below: 0.9, grace: 14d}
leaderboards:
  weekly-points:
    measure: points
    period: week
    size: 10
    on_close:
      - {rank: 1, do: [{award: {points: 100, reason: weekly champion}}]}
      - {rank: [2, 10], do: [{award: {points: 30, reason: weekly top 10}}]}
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 3, reason: 发帖, cap: {per: day, max: 30}}}]
  - id: react
    on: reaction.added
    do: [{award: {points: 1, reason: 点赞, cap: {per: day, max: 10}}}]
  - id: share
    on: content.shared
    do: [{award: {points: 5, reason: 分享, cap: {per: day, max: 20}}}]
  - id: checkin
    on: checkin
    do: [{award: {points: 2, reason: 签到, cap: {per: day, max: 2}}}]
  - id: checkin-streak
    on: checkin
    if: "streak('checkin') >= 3"
    do: [{award: {currency: coins, amount: 1, reason: 连续签到, cap: {per: day, max: 1}}}]
  - id: purchase
    on: purchase
    do: [{award: {points: 10, reason: 消费, cap: {per: week, max: 100}}}]
"""


def _run(
    playbook: CompiledPlaybook, events: list[Event], on_commit: Any = None
) -> tuple[float, Runner]:
    gc.collect()
    gc.freeze()  # what exists now (the events, the playbooks) is never rescanned
    runner = Runner(playbook, open_store("memory:"), on_commit=on_commit)
    t0 = time.perf_counter()
    for e in events:
        runner.feed(e)
    runner.flush()
    return time.perf_counter() - t0, runner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--members", type=int, default=10_000)
    args = ap.parse_args()
    tune_gc()
    events = [parse_event(line) for line in make_events(args.events, args.members)]
    n = len(events)
    core_text, _ = make_rules()
    core = compile_playbook(load_playbook_text(core_text, "bench.yaml"))
    rewards = compile_playbook(load_playbook_text(REWARDS_PLAYBOOK, "bench-rewards.yaml"))

    core_s, core_runner = _run(core, events)
    del core_runner  # each workload starts from the same clean heap
    emitted: Counter[str] = Counter()  # one ledger entry per award action here
    rewards_s, runner = _run(rewards, events, lambda acts: emitted.update(a.type for a in acts))

    members = runner.state.communities["bench"].members.values()
    awards = emitted["award"]
    levels: dict[int, int] = {}
    for m in members:
        levels[m.level or 0] = levels.get(m.level or 0, 0) + 1
    boards = runner.state.communities["bench"].data.get("leaderboards", {})
    figures = {
        "events": n,
        "core_eps": round(n / core_s),
        "rewards_eps": round(n / rewards_s),
        "core_us_per_event": round(core_s / n * 1e6, 2),
        "rewards_us_per_event": round(rewards_s / n * 1e6, 2),
        "ratio": round(rewards_s / core_s, 3),
    }
    print(
        f"workload: {n} events, {args.members} members; rewards: {awards} ledger awards, "
        f"members by level {dict(sorted(levels.items()))}, "
        f"{len(boards)} leaderboard(s)",
        file=sys.stderr,
    )
    print(
        f"core {figures['core_eps']:,} ev/s ({figures['core_us_per_event']} µs/event) | "
        f"rewards {figures['rewards_eps']:,} ev/s ({figures['rewards_us_per_event']} "
        f"µs/event) | rewards/core cost ratio {figures['ratio']} (target ≤ 2)",
        file=sys.stderr,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
