"""The ``pins:`` playbook section: a feature of the plugin's own (docs/plugins.md).

::

    pins:
      max_per_day: 3          # pins per member per local day (default: no limit)
      unpin_after: 7d         # each pin is undone after this (default: never)
      on_limit:               # what happens instead of a pin over the limit
        - reply: "今天的置顶次数用完了 / no pins left today"

The section brings the ``example_chat.pin`` action its limits, a timer kind
(``example_chat.unpin``) that undoes a pin when it is due, and an observer of
``chat.pinned`` (a moderator pinned by hand) that sets the same timer.  It shows each
part of the Feature protocol: a section model, load-time checks, actions compiled from
the section (``ctx.raw_actions``), compiled data read back at run time
(``playbook.data(PINS)``), a timer kind and an observer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engage_rules.plugin_api import (
    ActionDef,
    ActionError,
    ActionScope,
    ActionSpec,
    BaseFeature,
    CompileContext,
    CompiledAction,
    Decision,
    Duration,
    Effects,
    Event,
    FeatureKey,
    FeaturePlan,
    MemberState,
    Timer,
    timer_action,
)

#: The timer kind that undoes a pin.
UNPIN = "example_chat.unpin"
#: Where a member's pins of the day are counted (``[local day ordinal, count]``):
#: plugins keep member state in ``member.attrs`` under a key of their own.
COUNT_KEY = "example_chat.pins_today"


class PinsSection(BaseModel):
    """The ``pins:`` section."""

    model_config = ConfigDict(extra="forbid")
    max_per_day: int | None = Field(
        default=None, ge=1, le=1000, description="pins per member per local day"
    )
    unpin_after: Duration | None = Field(default=None, description="undo each pin after this")
    on_limit: list[Any] = Field(
        default_factory=list, description="actions instead of a pin over the limit"
    )


class PinParams(BaseModel):
    """``example_chat.pin: {message_id: "{{ event.data.message_id }}", channel: ...}``"""

    model_config = ConfigDict(extra="forbid")
    message_id: str = Field(description="the message to pin (may be a template)")
    channel: str | None = Field(default=None, description="default: the event's channel")


@dataclass(frozen=True)
class CompiledPins:
    max_per_day: int | None
    unpin_after: timedelta | None
    on_limit: tuple[CompiledAction, ...]


#: The key of the compiled section (the feature's name).
PINS: FeatureKey[CompiledPins] = FeatureKey("example_chat_pins")


def _over_limit(run: ActionScope, plan: CompiledPins) -> bool:
    """Count this pin against the member's day; True if it is one too many."""
    member = run.member
    if plan.max_per_day is None or member is None:
        return False
    today = run.at.astimezone(run.tz).date().toordinal()
    day, count = member.attrs.get(COUNT_KEY) or (today, 0)
    if day != today:
        count = 0
    if count >= plan.max_per_day:
        return True
    member.attrs[COUNT_KEY] = [today, count + 1]
    run.d.touched.add((member.community, member.id))
    return False


def do_pin(run: ActionScope, action: CompiledAction) -> None:
    """Emit the pin (the engine decides, the adapter delivers), within the limits."""
    plan = run.playbook.data(PINS)
    if plan is not None and _over_limit(run, plan):
        for then in plan.on_limit:
            then.execute(run, then)
        return
    message_id = run.text(action, "message_id")
    if not message_id:
        raise ActionError("example_chat.pin: the message id is empty")
    channel = run.text(action, "channel") or run.event.channel
    run.emit(action, run.event.member_id, {"message_id": message_id, "channel": channel})
    if plan is not None and plan.unpin_after is not None:
        _set_unpin(run, plan.unpin_after, message_id, channel)


def _set_unpin(run: ActionScope, after: timedelta, message_id: str, channel: str | None) -> None:
    run.add_timer(
        UNPIN,
        run.at + after,
        run.event.member_id,
        {"name": message_id, "message_id": message_id, "channel": channel},
    )


def unpin(
    effects: Effects, d: Decision, timer: Timer, member: MemberState | None, at: datetime
) -> None:
    """A pin is due to be undone: emit ``example_chat.unpin`` for the adapter."""
    timer_action(
        effects,
        d,
        timer,
        UNPIN,
        at,
        {"message_id": timer.payload.get("message_id"), "channel": timer.payload.get("channel")},
    )


def _pinned_by_hand(
    effects: Effects, event: Event, member: MemberState | None, d: Decision, queue: deque[Event]
) -> None:
    """A moderator pinned a message: undo it after ``unpin_after`` too."""
    plan = effects.playbook.data(PINS)
    message_id = event.data.get("message_id")
    if (
        plan is None
        or plan.unpin_after is None
        or not isinstance(message_id, str)
        or not message_id
    ):
        return
    scope: ActionScope = effects.scope(d, event, member, "pins", queue)
    _set_unpin(scope, plan.unpin_after, message_id, event.channel)


class PinsFeature(BaseFeature):
    """The ``pins:`` section and the ``example_chat.pin`` action."""

    name = "example_chat_pins"
    section = "pins"
    section_model = PinsSection

    def actions(self) -> list[ActionDef]:
        return [
            ActionDef(
                ActionSpec("example_chat.pin", PinParams, "message_id", "pin a message"), do_pin
            )
        ]

    def timer_kinds(self) -> Mapping[str, Any]:
        return {UNPIN: unpin}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        spec = ctx.section(self.section)
        if not isinstance(spec, PinsSection):
            return None
        path = (self.section,)
        if spec.on_limit and spec.max_per_day is None:
            ctx.problem((*path, "on_limit"), "`on_limit` needs `max_per_day`")
        on_limit = ctx.raw_actions(spec.on_limit, (*path, "on_limit"), "pins.on_limit")
        plan = CompiledPins(spec.max_per_day, spec.unpin_after, tuple(on_limit))
        observers = {"chat.pinned": [_pinned_by_hand]} if plan.unpin_after else {}
        return FeaturePlan(data=plan, observers=observers)
