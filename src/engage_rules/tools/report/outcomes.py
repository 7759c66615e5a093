"""The report's figures about what the playbook did: rules fired, moderation, messages,
points and shadow rules.

Pure functions of the store's aggregates (:mod:`engage_rules.store.reports`).  Actions
count on the local day they take effect (a deferred message on the day it was released);
shadow actions — decided by a rule in shadow mode and never delivered — are kept apart, so
the live figures are what members really saw.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ...lang.action_params import MESSAGE_ACTIONS, MODERATION_ACTIONS
from ...store.reports import ActionTally

#: Ledger entry kinds, in the order and with the names a report shows.
POINT_KINDS = (
    ("award", "issued"),
    ("spend", "spent"),
    ("expire", "expired"),
    ("revoke", "revoked"),
)
#: How many rules the "top rules" table lists.
TOP_RULES = 15


def rules_fired(actions: ActionTally, limit: int = TOP_RULES) -> list[dict[str, Any]]:
    """Live rules by the distinct events or timers they acted on (then by actions)."""
    rules = actions.rules
    ranked = sorted(rules, key=lambda r: (-rules[r][0], -rules[r][1], r))
    return [{"rule": r, "times": rules[r][0], "actions": rules[r][1]} for r in ranked[:limit]]


def moderation(actions: ActionTally) -> dict[str, int]:
    """Live moderation actions in the period, by type."""
    counts: Counter[str] = Counter()
    for (type_, _), n in actions.types.items():
        if type_ in MODERATION_ACTIONS:
            counts[type_] += n
    return dict(sorted(counts.items()))


def messages(actions: ActionTally, audit: dict[tuple[str, str], int]) -> dict[str, Any]:
    """Messages sent by kind, and the messaging policy's deferrals and suppressions."""
    sent: Counter[str] = Counter()
    for (type_, direct), n in actions.types.items():
        if type_ not in MESSAGE_ACTIONS:
            continue
        if type_ == "send":
            sent["direct message" if direct else "send to a channel"] += n
        else:
            sent[type_] += n
    deferred: Counter[str] = Counter()
    suppressed: Counter[str] = Counter()
    for (action, reason), n in audit.items():
        if action == "message_deferred":
            deferred[reason] += n
        elif action == "message_suppressed":
            suppressed[reason] += n
    return {
        "sent": dict(sorted(sent.items())),
        "sent_total": sum(sent.values()),
        "deferred": dict(sorted(deferred.items())),
        "deferred_total": sum(deferred.values()),
        "suppressed": dict(sorted(suppressed.items())),
        "suppressed_total": sum(suppressed.values()),
    }


def points(amounts: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    """Per currency, the amounts issued, spent, expired and revoked in the period."""
    names = dict(POINT_KINDS)
    out: dict[str, dict[str, int]] = {}
    for (currency, kind), amount in sorted(amounts.items()):
        row = out.setdefault(currency, {name: 0 for _, name in POINT_KINDS})
        name = names.get(kind, kind)
        row[name] = row.get(name, 0) + amount
    return out


def shadow(actions: ActionTally) -> list[dict[str, Any]]:
    """What shadow-mode rules would have done: actions by rule and type."""
    return [
        {"rule": rule, "action": action, "actions": n, "members": members}
        for (rule, action), (n, members) in sorted(actions.shadow.items())
    ]
