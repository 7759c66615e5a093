"""The report's figures about what the playbook did: rules fired, moderation, messages,
points and shadow rules.

Pure functions of :class:`~.data.ReportData`.  Actions count on the local day they take
effect (a deferred message on the day it was released); shadow actions — decided by a rule
in shadow mode and never delivered — are kept apart, so the live figures are what members
really saw.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from ...lang.action_params import MESSAGE_ACTIONS, MODERATION_ACTIONS
from .data import ReportData
from .figures import Period

#: Ledger entry kinds, in the order and with the names a report shows.
POINT_KINDS = (
    ("award", "issued"),
    ("spend", "spent"),
    ("expire", "expired"),
    ("revoke", "revoked"),
)
#: How many rules the "top rules" table lists.
TOP_RULES = 15


def rules_fired(data: ReportData, period: Period, limit: int = TOP_RULES) -> list[dict[str, Any]]:
    """Live rules by the distinct events or timers they acted on (then by actions)."""
    causes: dict[str, set[str]] = defaultdict(set)
    actions: Counter[str] = Counter()
    for a in data.actions:
        if a.status != "shadow" and a.day in period:
            causes[a.rule].add(a.cause)
            actions[a.rule] += 1
    ranked = sorted(actions, key=lambda r: (-len(causes[r]), -actions[r], r))
    return [{"rule": r, "times": len(causes[r]), "actions": actions[r]} for r in ranked[:limit]]


def moderation(data: ReportData, period: Period) -> dict[str, int]:
    """Live moderation actions in the period, by type."""
    counts = Counter(
        a.type
        for a in data.actions
        if a.status != "shadow" and a.day in period and a.type in MODERATION_ACTIONS
    )
    return dict(sorted(counts.items()))


def messages(data: ReportData, period: Period) -> dict[str, Any]:
    """Messages sent by kind, and the messaging policy's deferrals and suppressions."""
    sent: Counter[str] = Counter()
    for a in data.actions:
        if a.status == "shadow" or a.day not in period or a.type not in MESSAGE_ACTIONS:
            continue
        if a.type == "send":
            sent["direct message" if a.direct else "send to a channel"] += 1
        else:
            sent[a.type] += 1
    deferred: Counter[str] = Counter()
    suppressed: Counter[str] = Counter()
    for e in data.audit:
        if e.day not in period:
            continue
        if e.action == "message_deferred":
            deferred[e.reason] += 1
        elif e.action == "message_suppressed":
            suppressed[e.reason] += 1
    return {
        "sent": dict(sorted(sent.items())),
        "sent_total": sum(sent.values()),
        "deferred": dict(sorted(deferred.items())),
        "deferred_total": sum(deferred.values()),
        "suppressed": dict(sorted(suppressed.items())),
        "suppressed_total": sum(suppressed.values()),
    }


def points(data: ReportData, period: Period) -> dict[str, dict[str, int]]:
    """Per currency, the amounts issued, spent, expired and revoked in the period."""
    names = dict(POINT_KINDS)
    out: dict[str, dict[str, int]] = {}
    for e in data.ledger:
        if e.day not in period:
            continue
        row = out.setdefault(e.currency, {name: 0 for _, name in POINT_KINDS})
        name = names.get(e.kind, e.kind)
        row[name] = row.get(name, 0) + e.amount
    return dict(sorted(out.items()))


def shadow(data: ReportData, period: Period) -> list[dict[str, Any]]:
    """What shadow-mode rules would have done: actions by rule and type."""
    counts: Counter[tuple[str, str]] = Counter()
    members: dict[tuple[str, str], set[str]] = defaultdict(set)
    for a in data.actions:
        if a.status == "shadow" and a.day in period:
            counts[(a.rule, a.type)] += 1
            if a.member is not None:
                members[(a.rule, a.type)].add(a.member)
    return [
        {"rule": rule, "action": action, "actions": n, "members": len(members[(rule, action)])}
        for (rule, action), n in sorted(counts.items())
    ]
