"""Breakdown figures: events per type (posts and replies apart) per day and in total,
activity per community and per channel, segment sizes per day, and conversion by where
members came from, by tag and by segment (docs/reports.md defines them) — pure functions
of the store's tallies
(:class:`~engage_rules.store.report_breakdowns.BreakdownTally`,
:class:`~engage_rules.store.reports.MemberTally`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ...i18n import N_
from ...store.records import REPLY_TYPE
from ...store.report_breakdowns import BreakdownTally
from ...store.reports import DIMENSIONS, MemberTally
from .figures import Period, wilson

#: The volumes' first columns, in this order (the rest follow sorted by name).
VOLUME_ORDER = ("posts", "replies", "reaction.added", "content.shared", "checkin", "purchase")
#: A dimension's values listed at most (the most members first); the rest are summed
#: under :data:`OTHERS`.
TOP_VALUES = 20
OTHERS = N_("(others)")


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _volume_key(event_type: str) -> str:
    return "replies" if event_type == REPLY_TYPE else event_type


def volumes(tally: BreakdownTally, period: Period) -> dict[str, Any]:
    """Events per type per day of the period and in total; ``message.posted`` is split
    into ``posts`` (not replies) and ``replies``."""
    per_day: dict[str, Counter[str]] = {d.isoformat(): Counter() for d in period.days}
    for (day, event_type), n in tally.volumes.items():
        if day in period:
            per_day[day.isoformat()][_volume_key(event_type)] += n
    for counts in per_day.values():
        if "message.posted" in counts or "replies" in counts:
            counts["posts"] = counts.pop("message.posted", 0) - counts["replies"]
    seen = {k for counts in per_day.values() for k in counts}
    types = [k for k in VOLUME_ORDER if k in seen] + sorted(seen - set(VOLUME_ORDER))
    total = {k: sum(c[k] for c in per_day.values()) for k in types}
    return {
        "types": types,
        "total": total,
        "per_day": {day: {k: c[k] for k in types} for day, c in per_day.items()},
    }


def segment_sizes(tally: BreakdownTally, period: Period) -> dict[str, Any]:
    """Each segment's members at the end of each day of the period (None on a day the
    engine took no snapshot), and at the end of the newest day with one."""
    names = sorted({name for day, name in tally.segments if day in period})
    per_day = {
        d.isoformat(): {name: tally.segments.get((d, name)) for name in names} for d in period.days
    }
    last: dict[str, int | None] = dict.fromkeys(names)
    for counts in per_day.values():
        for name, n in counts.items():
            if n is not None:
                last[name] = n
    return {"segments": names, "per_day": per_day if names else {}, "last": last}


def communities(tally: BreakdownTally, members: MemberTally) -> list[dict[str, Any]]:
    """Per community (the most events first): events of activity types, members active,
    and the events in each of its channels (the most first)."""
    channels: dict[str, list[dict[str, Any]]] = {}
    for (community, channel), events in tally.channels.items():
        channels.setdefault(community, []).append({"channel": channel, "events": events})
    names = set(tally.communities) | set(channels) | set(members.active_by_community)
    out = []
    for name in names:
        rows = sorted(channels.get(name, []), key=lambda r: (-r["events"], r["channel"]))
        out.append(
            {
                "community": name,
                "events": tally.communities.get(name, 0),
                "active_members": members.active_by_community.get(name, 0),
                "channels": rows,
            }
        )
    return sorted(out, key=lambda r: (-r["events"], r["community"]))


def conversion_by(members: MemberTally, goal: str) -> dict[str, Any]:
    """Per dimension (source, tag, segment), per value: the members in it by the period's end,
    those of them with a goal event in the period on or after the day they entered it,
    the rate and its 95% Wilson interval.  The :data:`TOP_VALUES` values with the most
    members are listed, the rest summed as :data:`OTHERS`."""
    out: dict[str, Any] = {"goal": goal}
    for dimension, _ in DIMENSIONS:
        values = sorted(
            ((v, n, c) for (d, v), (n, c) in members.dimensions.items() if d == dimension),
            key=lambda r: (-r[1], r[0]),
        )
        if len(values) > TOP_VALUES:
            rest = values[TOP_VALUES - 1 :]
            values = values[: TOP_VALUES - 1]
            values.append((OTHERS, sum(r[1] for r in rest), sum(r[2] for r in rest)))
        rows = []
        for value, n, converted in values:
            interval = wilson(converted, n)
            rows.append(
                {
                    "value": value,
                    "members": n,
                    "converted": converted,
                    "rate": _ratio(converted, n),
                    "ci95": list(interval) if interval is not None else None,
                }
            )
        out[dimension] = rows
    return out
