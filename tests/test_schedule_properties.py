"""docs/reference.md §11.7 for schedules, as a property: whatever the time zone, the cron and
the way the clock advances (in many steps or one), every slot between the clock's start
and its end fires exactly once, at the instant an independent oracle gives — the first
minute whose local wall time reaches the slot (so a repeated wall time fires at its
first occurrence, a skipped one at the first instant after the gap)."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from hypothesis import given
from hypothesis import strategies as st

from engage_rules import Engine
from engage_rules.testing import event
from helpers import playbook, run

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
#: DST transitions of 2026 (UTC, a little before): spring and autumn of each zone.
NEAR = {
    "Europe/Berlin": ["2026-03-28T12:00", "2026-10-24T12:00"],
    "America/New_York": ["2026-03-07T12:00", "2026-10-31T12:00"],
    "Australia/Lord_Howe": ["2026-04-04T00:00", "2026-10-03T00:00"],
}
CRONS = ["30 2 * * *", "15 2 * * *", "45 1 * * *", "0 * * * *", "*/20 1-3 * * *", "0,30 2 * * SUN"]


def oracle(expr: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    """(slot wall time, instant) of every slot firing in (start, end]: the wall times
    matching the cron, each at the first UTC minute whose wall time reaches it."""
    first = start - timedelta(hours=4)
    minutes = [
        first + timedelta(minutes=k)
        for k in range(int((end - first).total_seconds() // 60) + 4 * 60)
    ]
    walls = [u.astimezone(tz).replace(tzinfo=None) for u in minutes]
    running, top = [], walls[0]
    for w in walls:
        top = max(top, w)
        running.append(top)
    out = []
    it = croniter(expr, walls[0] - timedelta(minutes=1))  # naive: wall-clock matches
    w = it.get_next(datetime)
    while w <= walls[-1]:
        i = bisect.bisect_left(running, w)
        if i < len(minutes) and start < minutes[i] <= end:
            out.append((w.isoformat(timespec="minutes"), minutes[i]))
        w = it.get_next(datetime)
    return out


@given(
    zone=st.sampled_from(ZONES),
    autumn=st.booleans(),
    cron=st.sampled_from(CRONS),
    offset=st.integers(min_value=0, max_value=24 * 60),
    steps=st.lists(st.integers(min_value=1, max_value=30 * 60), min_size=1, max_size=6),
)
def test_every_slot_fires_exactly_once_at_the_oracle_instant(
    zone: str, autumn: bool, cron: str, offset: int, steps: list[int]
) -> None:
    tz = ZoneInfo(zone)
    start = datetime.fromisoformat(NEAR[zone][autumn]).replace(tzinfo=UTC) + timedelta(
        minutes=offset
    )
    engine = Engine(
        playbook(
            f'rules:\n  - id: s\n    on: {{cron: "{cron}"}}\n'
            "    do: [{broadcast: {text: x}}]\n",
            f"engage_rules: 1\nname: p\ncommunity: {{name: c, timezone: {zone}}}\n",
        )
    )
    run(engine, event("member.joined", "u1", start))
    now = start
    acts = []
    for minutes in steps:
        now += timedelta(minutes=minutes)
        acts += [a for d in engine.advance_to(now) for a in d.actions]
    got = [(a.cause.split(":", 3)[3], a.at.astimezone(UTC)) for a in acts]
    assert got == oracle(cron, tz, start, now)
