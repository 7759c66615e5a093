"""Parameters of every action (DESIGN.md §5.3), as pydantic models.

An action is written as a one-key mapping, ``{award: {points: 5, reason: ...}}``, or, for
actions with a natural single argument, in short form: ``{tag: newcomer}``.  String
parameters marked *templated* may contain Jinja2 (``"{{ event.data.referrer }}"``); they
are compiled once at load time.

:data:`BUILTIN_ACTION_SPECS` are the core's actions; the built-in plugin
(:mod:`engage_rules.builtin_plugin`) registers them through the ``register_actions`` hook,
like a plugin registers its own, and the plugin manager fills :data:`ACTION_SPECS`, the
table the loader, compiler and schema look actions up in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .durations import parse_duration

Templated = str
Number = int | float | str  # a number, or a template that renders to one


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Targeted(Params):
    to: Templated | None = Field(
        default=None, description="Another member to act on (default: the event's member)"
    )


class CapSpec(Params):
    per: Literal["day", "week", "month"]
    max: int = Field(ge=1)


class SpendParams(Targeted):
    points: Number | None = None
    currency: str | None = None
    amount: Number | None = None
    reason: Templated | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> SpendParams:
        if (self.points is None) == (self.amount is None):
            raise ValueError("give either `points: N` or `currency: NAME, amount: N`")
        if self.points is not None and self.currency is not None:
            raise ValueError(
                "`points:` uses the default currency; use `amount:` with `currency:`"
            )
        return self


class AwardParams(SpendParams):
    cap: CapSpec | None = None


class RevokeParams(Targeted):
    rule: str | None = Field(default=None, description="Only entries written by this rule")
    event: Templated = Field(description="The cause event id or message id to reverse")
    reason: Templated | None = None


class BadgeParams(Targeted):
    badge: str


class TagParams(Targeted):
    name: Templated
    expires: str | None = None

    @field_validator("expires")
    @classmethod
    def _exp(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v


class UntagParams(Targeted):
    name: Templated


class MessageParams(Targeted):
    template: str | None = None
    text: Templated | None = None
    channel: Templated | None = None
    transactional: bool = False
    reason: Templated | None = None

    @model_validator(mode="after")
    def _one_body(self) -> MessageParams:
        if (self.template is None) == (self.text is None):
            raise ValueError("give either `template: NAME` or `text: ...`")
        return self


class EmitParams(Params):
    type: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
    data: dict[str, Any] = Field(default_factory=dict)


class ReasonParams(Targeted):
    reason: Templated | None = None


class MuteParams(ReasonParams):
    for_: str = Field(alias="for")

    @field_validator("for_")
    @classmethod
    def _for(cls, v: str) -> str:
        parse_duration(v)
        return v


class BanParams(ReasonParams):
    for_: str | None = Field(default=None, alias="for")

    @field_validator("for_")
    @classmethod
    def _for(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v


class SetLevelParams(Targeted):
    level: int | Templated = Field(description="A level of the `levels:` ladder")


class LockLevelParams(Targeted):
    locked: bool = Field(
        default=True, description="true: freeze the member's level; false: unfreeze it"
    )


class DeleteParams(Params):
    reason: Templated | None = None


class FlagParams(Params):
    reason: Templated | None = None
    on_approve: list[Any] | None = Field(
        default=None,
        description="Actions run for the member when a moderator approves the flag "
                    "(`engage-rules review approve`); without it approving only closes it",
    )


class EmptyTargeted(Targeted):
    pass


class PrizeSpec(Params):
    name: str | None = Field(default=None, description="What the prize is called")
    weight: int | float = Field(gt=0, description="Relative chance of drawing it")
    stock: int | None = Field(
        default=None, ge=0,
        description="How many exist, community-wide (no limit when omitted)",
    )
    do: list[Any] = Field(default_factory=list, description="Actions for the winner")


class LotteryParams(Targeted):
    prizes: list[PrizeSpec] = Field(min_length=1, max_length=100)
    reason: Templated | None = None
class StartFlowParams(Targeted):
    flow: str = Field(description="The flow to start (a name under `flows:`)")
    restart: bool = Field(
        default=False, description="End a run in progress and start again (default: keep it)"
    )


class ExitFlowParams(Targeted):
    flow: str = Field(description="The flow to end (a name under `flows:`)")


class SetParams(BaseModel):
    """``set: {attr: value, ...}``: any attribute names; values may be templates."""

    model_config = ConfigDict(extra="allow")


#: Which actions are moderation actions (DESIGN.md §5.9: exemptions apply to their rules).
MODERATION_ACTIONS = frozenset(
    {"delete_message", "warn", "mute", "kick", "ban", "strike", "flag_for_review"}
)
#: Actions that deliver a message.
MESSAGE_ACTIONS = frozenset({"send", "reply", "broadcast", "warn"})


@dataclass(frozen=True)
class ActionSpec:
    name: str
    params: type[BaseModel]
    shorthand: str | None = None  # the field a scalar short form fills in
    description: str = ""


#: Every registered action, by name: filled by the plugin manager through the
#: ``register_actions`` hook (:func:`engage_rules.plugins.registry`).
ACTION_SPECS: dict[str, ActionSpec] = {}


def register_action_spec(spec: ActionSpec) -> None:
    if spec.name in ACTION_SPECS and ACTION_SPECS[spec.name] is not spec:
        raise ValueError(f"action {spec.name!r} is registered twice")
    ACTION_SPECS[spec.name] = spec


#: The core's actions (registered by :mod:`engage_rules.builtin_plugin`).
BUILTIN_ACTION_SPECS: tuple[ActionSpec, ...] = (
    ActionSpec("award", AwardParams, description="credit a currency"),
    ActionSpec("spend", SpendParams, description="debit a currency; never below zero"),
    ActionSpec("revoke", RevokeParams, description="reverse earlier ledger entries"),
    ActionSpec("grant_badge", BadgeParams, "badge", "grant a badge"),
    ActionSpec("revoke_badge", BadgeParams, "badge", "revoke a badge"),
    ActionSpec("tag", TagParams, "name", "add a tag, optionally expiring"),
    ActionSpec("untag", UntagParams, "name", "remove a tag"),
    ActionSpec("set", SetParams, description="set custom member attributes"),
    ActionSpec("send", MessageParams, description="direct message to the member"),
    ActionSpec("reply", MessageParams, description="reply in the event's channel"),
    ActionSpec("broadcast", MessageParams, description="community message"),
    ActionSpec("warn", MessageParams, description="warning to the member, recorded"),
    ActionSpec("emit", EmitParams, description="raise an internal event"),
    ActionSpec("delete_message", DeleteParams, description="remove the event's message"),
    ActionSpec("mute", MuteParams, description="mute, with automatic expiry"),
    ActionSpec("unmute", ReasonParams, description="lift a mute"),
    ActionSpec("kick", ReasonParams, description="remove the member"),
    ActionSpec("ban", BanParams, description="ban, optionally for a time"),
    ActionSpec("unban", ReasonParams, description="lift a ban"),
    ActionSpec("strike", ReasonParams, description="add a strike and apply the ladder"),
    ActionSpec("reset_strikes", ReasonParams,
               description="clear the member's active strikes (the ladder starts again)"),
    ActionSpec("flag_for_review", FlagParams, description="queue the event for human review"),
    ActionSpec("lottery", LotteryParams,
               description="a seeded, reproducible weighted draw; stock is never oversold"),
    ActionSpec("opt_out", EmptyTargeted, description="stop direct messages to the member"),
    ActionSpec("opt_in", EmptyTargeted, description="allow direct messages again"),
    ActionSpec("set_level", SetLevelParams, "level", "set the member's level by hand"),
    ActionSpec("lock_level", LockLevelParams, "locked",
               "freeze (or unfreeze) the member's level against automatic changes"),
    ActionSpec("start_flow", StartFlowParams, "flow", "start a flow for the member"),
    ActionSpec("exit_flow", ExitFlowParams, "flow", "end the member's run of a flow"),
)
