"""The human review queue: listing flagged events, approving and dismissing them.

``flag_for_review`` stores an item in the store's review log: the rule, the flag's
position in it, the member, the reason, what the rule's detectors matched, and the whole
event.  A moderator's verdict is appended to the same log as a *resolution* entry
(``{"id", "status": "approved"|"dismissed", "actor", "at"}``); :func:`review_items`
folds the log into the current items.

Approving runs the flag's ``on_approve:`` actions for the flagged member, through the
engine, as if the rule's actions ran again at the moment of approval: same rule, same
event data and ``match``, so templates render as they would have.  The verdict is one
:class:`~engage_rules.model.decision.Decision` whose cause is ``review:<id>:<verdict>``: its
actions get deterministic keys, it commits atomically with the state it changes, and a
store that has processed that cause ignores it — approving twice does nothing.  Every
action it takes, and the verdict itself, goes to the audit log with the moderator as
the actor.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

from ...compile.playbook import CompiledAction, CompiledRule
from ...engine.core import Engine
from ...errors import ReviewError
from ...i18n import _
from ...model.decision import Decision
from ...model.events import event_from_obj

__all__ = ["VERDICTS", "ReviewError", "decide_review", "find_item", "review_items"]

#: The rule name of strike-ladder actions: their flags have no `on_approve`.
LADDER_RULE = "moderation.strikes"
#: Verdict -> the status it gives the item.
VERDICTS = {"approve": "approved", "dismiss": "dismissed"}


def review_items(log: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The review items of a store's review log, in flagging order, each with its
    current ``status`` and, once resolved, ``resolved_by`` and ``resolved_at``."""
    items: dict[str, dict[str, Any]] = {}
    for entry in log:
        item_id = entry.get("id")
        if not isinstance(item_id, str):
            continue
        if "rule" in entry:
            items.setdefault(item_id, dict(entry))
        elif item_id in items:
            item = items[item_id]
            item["status"] = entry.get("status", item.get("status"))
            item["resolved_by"] = entry.get("actor")
            item["resolved_at"] = entry.get("at")
    return list(items.values())


def find_item(items: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    """The item whose id is ``ref`` or starts with it (at least 6 characters)."""
    exact = [i for i in items if i["id"] == ref]
    if exact:
        return exact[0]
    if len(ref) < 6:
        raise ReviewError(
            _("no review item {ref!r} (give at least 6 characters of its id)").format(ref=ref)
        )
    found = [i for i in items if i["id"].startswith(ref)]
    if not found:
        raise ReviewError(_("no review item {ref!r}").format(ref=ref))
    if len(found) > 1:
        raise ReviewError(
            _("{ref!r} matches {n} review items; give more of the id").format(ref=ref, n=len(found))
        )
    return found[0]


def _flag_action(rule: CompiledRule, path: str) -> CompiledAction | None:
    for action in (*rule.do, *rule.else_, *rule.refused):
        if action.path == path:
            return action
    return None


def decide_review(
    engine: Engine, item: dict[str, Any], verdict: str, actor: str, at: datetime
) -> Decision:
    """The decision of a moderator's verdict on an open item (see the module docs)."""
    if verdict not in VERDICTS:
        raise ReviewError(
            _("unknown verdict {verdict!r}; expected approve or dismiss").format(verdict=verdict)
        )
    if item.get("status") != "open":
        raise ReviewError(
            _("review item {id} is already {status}").format(
                id=item["id"][:12], status=item.get("status")
            )
        )
    cause = f"review:{item['id']}:{verdict}"
    d = Decision(cause, at)
    community = str(item.get("community") or "default")
    member_id = item.get("member")
    member = (
        engine.state.community(community).member(member_id) if isinstance(member_id, str) else None
    )
    if verdict == "approve" and item.get("rule") != LADDER_RULE:
        rule = engine.playbook.rule_by_id.get(str(item.get("rule")))
        if rule is None:
            raise ReviewError(
                _(
                    "the playbook has no rule {rule!r}, which flagged this item; approve it "
                    "with the playbook that flagged it"
                ).format(rule=item.get("rule"))
            )
        flag = _flag_action(rule, str(item.get("action", "")))
        actions: list[CompiledAction] = list(flag.consts.get("on_approve") or []) if flag else []
        if actions:
            original = event_from_obj(item["event_json"])
            event = msgspec.structs.replace(original, id=cause, at=at, ts=at.timestamp())
            engine.act(d, event, member, rule, actions, str(item.get("match") or ""))
    for entry in d.audit if isinstance(d.audit, list) else ():
        entry["actor"] = actor
    d.add_review(
        {"id": item["id"], "status": VERDICTS[verdict], "actor": actor, "at": at.isoformat()}
    )
    d.add_audit(
        {
            "at": at.isoformat(),
            "rule": item.get("rule"),
            "event": item.get("event"),
            "member": member_id,
            "community": community,
            "action": f"review.{verdict}",
            "reason": item.get("reason", ""),
            "actor": actor,
        }
    )
    return d
