"""Tags and custom attributes (docs/reference.md §5.3): `tag`, `untag` and `set`.

A tag may expire (``tag: {name: x, expires: 30d}``): a timer removes it when it ends, if
it is still the tag that ends then (re-tagging sets a new timer; the stale one does
nothing).  ``set:`` stores custom attributes (``member.attrs``) as JSON data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..compile.feature import ActionDef, BaseFeature, Executor, TimerHandler
from ..compile.playbook import CompiledAction
from ..engine.effects import Effects
from ..engine.scope import ActionScope
from ..engine.timers import same_instant, timer_action
from ..errors import ActionError
from ..i18n import N_
from ..lang.action_params import ActionSpec, SetParams, TagParams, UntagParams
from ..lang.names import is_name
from ..model import rule_problems as rp
from ..model.decision import ActionRecord, Decision
from ..model.state import MemberState, Timer
from ..model.storable import json_value

#: The timer kind that removes an expiring tag.
UNTAG = "untag"


def do_tag(run: ActionScope, action: CompiledAction) -> None:
    """The ``tag`` action."""
    m = run.require_target(action)
    name = run.text(action, "name")
    if "name" in action.values and not is_name(name):  # templated: checked now
        raise ActionError(rp.english(rp.TAG_NOT_A_NAME, name=repr(name)))
    delta = action.consts.get("expires_delta")
    expires = run.at + delta if delta is not None else None
    tags = m.tags
    if name in tags:
        current = tags[name]
        if current == expires and (current is None or current > run.at):
            return
    m.tags[name] = expires
    run.d.touched.add((m.community, m.id))
    params: dict[str, Any] = {"name": name}
    if expires is not None:
        params["expires"] = expires.isoformat()
        run.add_timer("untag", expires, m.id, {"name": name})
    run.emit(action, m.id, params)


def do_untag(run: ActionScope, action: CompiledAction) -> None:
    """The ``untag`` action."""
    m = run.require_target(action)
    name = run.text(action, "name")
    if m.tags.pop(name, "absent") == "absent":
        return
    run.d.touched.add((m.community, m.id))
    run.emit(action, m.id, {"name": name})


def do_set(run: ActionScope, action: CompiledAction) -> None:
    """The ``set`` action: set member attributes."""
    m = run.require_target(action)
    changed = {}
    for name in (*action.consts, *action.values):
        if name == "to":
            continue
        value = json_value(run.value(action, name), name)
        if m.attrs.get(name, object()) != value:
            m.attrs[name] = value
            changed[name] = value
    if changed:
        run.d.touched.add((m.community, m.id))
        run.emit(action, m.id, changed)


def _fast_tag(name: str) -> Executor:
    def tag(run: ActionScope, action: CompiledAction) -> None:
        m = run.m  # the event's member (`run.member`, without the property's call)
        if m is None:
            raise ActionError(rp.english(rp.NEEDS_A_MEMBER, action="tag"))
        tags = m.tags
        if name in tags and tags[name] is None:
            return  # already tagged, without expiry: nothing changes
        tags[name] = None  # the event's own member: in `touched` already
        ev = run.event
        run.d.actions.append(
            ActionRecord(
                None,
                "tag",
                m.id,
                run.rule,
                ev.id,
                ev.at,
                {"name": name},
                ev.community,
                action.key_source,
            )
        )

    return tag


def expire_tag(
    engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
) -> None:
    """An expiring tag's timer: remove the tag, if it is still the one that ends now."""
    name = timer.payload.get("name", "")
    if m is None or name not in m.tags or not same_instant(m.tags[name], at):
        return
    del m.tags[name]
    d.touched.add((m.community, m.id))
    timer_action(
        engine,
        d,
        timer,
        "untag",
        at,
        {"name": name, "reason": engine.playbook.say(N_("tag expired"))},
    )


def specialise_tag(action: CompiledAction, tz: ZoneInfo) -> Executor | None:
    """A faster executor for `tag: name` (a constant name, no expiry, no `to:`)."""
    consts = action.consts
    if action.values or consts.get("to") is not None or "expires_delta" in consts:
        return None
    name = consts.get("name")
    if isinstance(name, str) and name:
        return _fast_tag(name)
    return None


class TagsFeature(BaseFeature):
    """Member tags (optionally expiring) and custom attributes."""

    name = "tags"

    def actions(self) -> list[ActionDef]:
        return [
            ActionDef(
                ActionSpec(
                    "tag",
                    TagParams,
                    "name",
                    N_("add a tag, optionally expiring"),
                    title=N_("Add tag"),
                ),
                do_tag,
                specialise=specialise_tag,
            ),
            ActionDef(
                ActionSpec("untag", UntagParams, "name", N_("remove a tag"), title=N_("Untag")),
                do_untag,
            ),
            ActionDef(
                ActionSpec(
                    "set",
                    SetParams,
                    description=N_("set custom member attributes"),
                    title=N_("Set"),
                ),
                do_set,
            ),
        ]

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {UNTAG: expire_tag}
