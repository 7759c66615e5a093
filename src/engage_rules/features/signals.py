"""Group-wide signals (docs/language.md, "Group-wide signals"): the community's history of
the event types ``community.count()`` and ``community.members_count()`` name.

For each such type the community's data (``data["signals"][type]``, layout in
:mod:`engage_rules.expr.group`) holds the lifetime total ``n`` and, when a window is
used, the recent events ``w`` as ``[ts, member, channel]`` ordered by time.  It is
updated before the event's rules run (so the event counts itself), for external and
internal events alike — a rule's ``emit: message.negative`` is counted, which is how a
playbook counts what its own rules detect.  ``w`` keeps only what the longest window
needs: entries older than the newest entry minus the window are dropped as events
arrive, and at most :data:`MAX_ENTRIES` entries are kept per type (the oldest go
first), so memory stays bounded whatever the traffic.  A late event is counted where it
is dated.  Nothing runs for playbooks that do not use these functions.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import deque
from operator import itemgetter
from typing import Any

from ..compile.feature import BaseFeature, CompileContext, FeaturePlan, Observer
from ..engine.effects import Effects
from ..expr.group import SIGNALS_KEY
from ..model.decision import Decision
from ..model.events import Event
from ..model.state import MemberState

#: At most this many recent events are kept per event type and community.
MAX_ENTRIES = 10_000

_TS = itemgetter(0)


def record(entry: dict[str, Any], window: float | None, ts: float, ev: Event) -> None:
    """Count ``ev`` (at ``ts``) in one type's history, keeping ``window`` seconds."""
    entry["n"] = entry.get("n", 0) + 1
    if window is None:
        return
    w: list[list[Any]] = entry.setdefault("w", [])
    item = [ts, ev.member.id if ev.member is not None else None, ev.channel]
    if not w or w[-1][0] <= ts:
        w.append(item)
    else:
        insort(w, item, key=_TS)  # a late event, where it is dated
    horizon = w[-1][0] - window
    drop = bisect_right(w, horizon, key=_TS)
    drop = max(drop, len(w) - MAX_ENTRIES)
    if drop > 0:
        del w[:drop]


def make_recorder(windows: dict[str, float | None]) -> Observer:
    """The observer that records events of the counted types, before their rules."""

    def observe(
        engine: Effects, ev: Event, m: MemberState | None, d: Decision, queue: deque[Event]
    ) -> None:
        data = engine.state.community(ev.community).data
        signals = data.get(SIGNALS_KEY)
        if signals is None:
            signals = data[SIGNALS_KEY] = {}
        entry = signals.get(ev.type)
        if entry is None:
            entry = signals[ev.type] = {"n": 0}
        record(entry, windows[ev.type], ev.ts, ev)
        d.touch_community(ev.community)

    return observe


class SignalsFeature(BaseFeature):
    """Keep the community-wide history ``community.count()`` and
    ``community.members_count()`` read."""

    name = "signals"

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        windows = dict(ctx.used.group)
        if not windows:
            return None
        observer = make_recorder(windows)
        return FeaturePlan(before={t: [observer] for t in sorted(windows)})
