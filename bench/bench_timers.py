"""Timer benchmark (issue 4, item 8): the cost of advancing time follows the timers that
are due, not the number of members.

Builds, in memory, a community of N members (default 1,000,000), each silent and each
with its pending silence deadline (``on: {silent_for: 14d}``), spread so that D of them
(default 10,000) fall due in the next day.  Then measures:

  (a) advance: ``Engine.advance_to(clock + 1 day)`` on the big state — D deadlines fire,
      each running the rule (a tag) and raising ``member.silent``;
  (b) fire:    the same D deadlines fired on a state that holds only those D members and
      timers — the cost of firing D timers and nothing else.

Times are CPU seconds of the process; both are the fastest of ``--repeat`` runs.
(a) ≈ (b) shows that the members with nothing due cost nothing.  A third figure, (c),
has half of the due members active meanwhile, so their deadline re-arms instead of
firing (the re-scheduling path).
The last line printed is one JSON object.

    python bench/bench_timers.py [--members N] [--due D]
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from engage_rules import Engine, compile_playbook
from engage_rules.model.state import CommunityState, MemberState, State, Timer, from_ts
from engage_rules.testing import load_playbook_text

PLAYBOOK = """\
engage_rules: 1
name: bench-timers
community: {name: bench, timezone: Asia/Shanghai}
rules:
  - id: winback
    on: {silent_for: 14d}
    do: [{tag: winback}]
"""

DAY = 86400.0
THRESHOLD = 14 * DAY
#: The clock when the benchmark starts (2026-03-02T00:00:00Z).
START = 1772409600.0


def build(members: int, due: int, active_share: float = 0.0) -> State:
    """A state of ``members`` silent members with one pending deadline each: ``due`` of
    them due within the next day, the others spread over the following 100 days.  With
    ``active_share``, that share of the due members was active after arming (their
    deadline must re-arm rather than fire)."""
    state = State()
    community = state.communities["c"] = CommunityState(name="c")
    table = community.members
    timers: list[Timer] = []
    later = max(members - due, 1)
    active_every = int(1 / active_share) if active_share else 0
    for i in range(members):
        mid = f"u{i}"
        if i < due:
            deadline = START + (i + 1) * (DAY / (due + 1))
        else:
            deadline = START + DAY + 1 + (i - due) * (100 * DAY / later)
        last = deadline - THRESHOLD
        m = MemberState(id=mid, community="c", status="active")
        m.last_active_at = from_ts(last)
        m.silence["winback"] = deadline
        if active_every and i < due and i % active_every == 0:
            m.last_active_at = from_ts(last + DAY / 2)  # active since the deadline was set
        table[mid] = m
        timers.append(
            Timer(
                deadline,
                i + 1,
                f"silence:c:{mid}:winback:{deadline:.3f}",
                "silence",
                "c",
                mid,
                "winback",
                {"rule": "winback"},
            )
        )
    heapq.heapify(timers)
    state.timers = timers
    state.timer_ids = {t.id for t in timers}
    state.timer_seq = members
    state.clock = from_ts(START)
    return state


def measure(members: int, due: int, active_share: float = 0.0) -> dict[str, Any]:
    pb = compile_playbook(load_playbook_text(PLAYBOOK, "bench.yaml"))
    gc.disable()  # millions of small containers: the collector would rescan them over and over
    t0 = time.perf_counter()
    state = build(members, due, active_share)
    built = time.perf_counter() - t0
    gc.enable()
    gc.collect()
    engine = Engine(pb, state)
    gc.disable()
    try:
        # CPU time of this process: the figure does not depend on what else the machine
        # runs (wall time on a shared machine does).
        t0 = time.process_time()
        decisions = engine.advance_to(from_ts(START + DAY))
        elapsed = time.process_time() - t0
    finally:
        gc.enable()
    fired = len(decisions)
    actions = sum(len(d.actions) for d in decisions)
    if not active_share:
        assert fired == due, (fired, due)
    return {
        "members": members,
        "due": due,
        "fired": fired,
        "actions": actions,
        "seconds": round(elapsed, 4),
        "timers_per_s": round(fired / elapsed),
        "build_s": round(built, 1),
        "pending_after": len(state.timers),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of (a) and (b); the fastest is reported"
    )
    args = parser.parse_args()

    def best(members: int) -> dict[str, Any]:
        runs = [measure(members, args.due) for _ in range(args.repeat)]
        return min(runs, key=lambda r: float(r["seconds"]))

    small = best(args.due)
    print(
        f"(b) fire {small['fired']:,} timers on a state of {small['members']:,} members: "
        f"{small['seconds'] * 1000:.0f} ms ({small['timers_per_s']:,} timers/s)"
    )
    big = best(args.members)
    print(
        f"(a) advance one day with {big['members']:,} members, {big['due']:,} due: "
        f"{big['seconds'] * 1000:.0f} ms ({big['timers_per_s']:,} timers/s; "
        f"state built in {big['build_s']} s)"
    )
    rearm = measure(args.members, args.due, active_share=0.5)
    print(
        f"(c) as (a), half of the due members active meanwhile (re-armed, not fired): "
        f"{rearm['seconds'] * 1000:.0f} ms, {rearm['actions']:,} actions, "
        f"{rearm['pending_after']:,} timers pending after"
    )
    ratio = big["seconds"] / small["seconds"]
    print(f"advance / fire = {ratio:.2f}")
    print(
        json.dumps(
            {"fire": small, "advance": big, "advance_half_rearmed": rearm, "ratio": round(ratio, 2)}
        )
    )


if __name__ == "__main__":
    main()
