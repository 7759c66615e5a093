"""Caps on channel messages (docs/reference.md §5.8): `messaging.max_broadcasts` and
`messaging.max_per_channel`.

``max_broadcasts: {count: 3, per: day}`` allows at most 3 ``broadcast`` actions per
community per calendar period (community time zone); ``max_per_channel: {count, per}``
at most that many channel messages — ``reply``, and ``broadcast`` to a channel — per
channel.  A message beyond a cap is **refused**: nothing is sent, the refusal is
recorded in the audit log (``message_suppressed``, reason ``capped``) and the rule's
``else:`` runs (e.g. to tell the moderator who asked).  Channel messages are never
deferred: a late announcement is usually a wrong one.

The counts live in the community's data (``data["message_caps"]``: ``{"broadcast" or
"#<channel>": [period, count]}``); counts of past periods are dropped when a message
is counted, so it holds at most one entry per channel messaged in the current period.
"""

from __future__ import annotations

from typing import Any

from .._util.periods import period_key
from ..errors import ActionRefused

#: Where the counts live in ``CommunityState.data``.
CAPS_KEY = "message_caps"


def take_cap(
    run: Any, message: str, slot: str, cap: tuple[int, str], community: str | None = None
) -> None:
    """Count one channel message against ``cap`` (count, per) under ``slot``
    (``broadcast`` or ``#<channel>``) in ``community`` (default: the event's); beyond
    the cap, refuse it (ActionRefused)."""
    count, per = cap
    community = community or run.event.community
    data = run.effects.state.community(community).data
    period = period_key(run.at.astimezone(run.playbook.timezone), per)
    caps: dict[str, list[Any]] = data.setdefault(CAPS_KEY, {})
    used = caps.get(slot)
    n = used[1] if used is not None and used[0] == period else 0
    if n >= count:
        ev = run.event
        run.d.add_audit(
            {
                "at": run.at.isoformat(),
                "rule": run.rule,
                "event": ev.id,
                "member": None,
                "community": community,
                "action": "message_suppressed",
                "reason": "capped",
                "actor": "engine",
                "message": message,
                "cap": slot,
            }
        )
        raise ActionRefused(f"{message}: {count} per {per} reached ({slot})")
    for key in [k for k, v in caps.items() if v[0] != period]:
        del caps[key]
    caps[slot] = [period, n + 1]
    run.d.touch_community(community)
