"""Parameters of every action (docs/reference.md §5.3), as pydantic models.

An action is written as a one-key mapping, ``{award: {points: 5, reason: ...}}``, or, for
actions with a natural single argument, in short form: ``{tag: newcomer}``.  String
parameters marked *templated* may contain Jinja2 (``"{{ event.data.referrer }}"``); they
are compiled once at load time.

These models are the language; what each action does lives with the feature that owns
it (:mod:`engage_rules.features`), which registers it — model, executor and load-time
checks together — through the ``register_features`` hook, as a plugin registers its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FieldSerializationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from .._util.durations import Duration, WrittenDurations
from ..i18n import _
from .names import check_name

Templated = str
Number = int | float | str  # a number, or a template that renders to one


class Params(BaseModel):
    """Parameters of an action."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DurationParams(Params, WrittenDurations):
    """Parameters with durations, dumped as the operator wrote them (a shadow action
    shows ``for: 7d``, as the mute it stands for does; docs/reference.md §6.2)."""

    @field_serializer("for_", "expires", check_fields=False)
    def _as_written(self, value: timedelta | None, info: FieldSerializationInfo) -> str | None:
        return self.written(info.field_name)


class Targeted(Params):
    """Parameters of an action on a member (the event's, or the one `to` names)."""

    to: Templated | None = Field(
        default=None, description="Another member to act on (default: the event's member)"
    )


class CapSpec(Params):
    """At most `max` of the currency per member per calendar `per` from this rule."""

    per: Literal["day", "week", "month"]
    max: int = Field(ge=1)


def _literal_amount(key: str, value: Number | None) -> None:
    """An amount written as is (not a template) must be a number of 0 or more: what a
    template renders is checked when the action runs."""
    if isinstance(value, str):
        text = value.strip()
        if "{{" in text or "{%" in text:
            return
        try:
            number = float(text)
        except ValueError:
            raise ValueError(
                f"`{key}: {value}` is not a number; write a number (5) or a template "
                '("{{ vars.price }}")'
            ) from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        return
    if number != number or number < 0 or number in (float("inf"), float("-inf")):
        raise ValueError(
            f"`{key}: {value}` must be a number of 0 or more (an award takes nothing away: "
            "use `spend`, or `revoke` an award)"
        )


class SpendParams(Targeted):
    """Parameters of `spend`: an amount of a currency."""

    points: Number | None = None
    currency: str | None = None
    amount: Number | None = None
    reason: Templated | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> SpendParams:
        if (self.points is None) == (self.amount is None):
            raise ValueError("give either `points: N` or `currency: NAME, amount: N`")
        if self.points is not None and self.currency is not None:
            raise ValueError("`points:` uses the default currency; use `amount:` with `currency:`")
        key = "points" if self.points is not None else "amount"
        _literal_amount(key, self.points if self.points is not None else self.amount)
        return self


class AwardParams(SpendParams):
    """Parameters of `award`: an amount of a currency, optionally capped."""

    cap: CapSpec | None = None


class RevokeParams(Targeted):
    """Parameters of `revoke`: reverse what an event earned."""

    rule: str | None = Field(default=None, description="Only entries written by this rule")
    event: Templated = Field(description="The cause event id or message id to reverse")
    reason: Templated | None = None


class BadgeParams(Targeted):
    """Parameters of `grant_badge` and `revoke_badge`."""

    badge: str


def _literal_tag_name(value: str) -> str:
    """A tag name written as is (not a template) follows the naming rule (names.py)."""
    if "{{" not in value and "{%" not in value:
        check_name("tag name", value)
    return value


class TagParams(Targeted, DurationParams):
    """Parameters of `tag`: a tag name, optionally expiring."""

    name: Templated
    expires: Duration | None = None

    _name = field_validator("name")(_literal_tag_name)


class UntagParams(Targeted):
    """Parameters of `untag`."""

    name: Templated

    _name = field_validator("name")(_literal_tag_name)


class PostTagParams(Params):
    """Parameters of `tag_post`: a tag for the post the event concerns."""

    name: Templated


class MessageParams(Targeted):
    """Parameters of a message: a template or a text."""

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


class RoutedMessageParams(MessageParams):
    """Parameters of `send` and `broadcast`: a message, and where it goes."""

    community: Templated | None = Field(
        default=None,
        description="The group (community) to send to (templated): for `send`, the "
        "member's account there, an account of the same person (docs/reference.md §4.3)",
    )
    platform: Templated | None = Field(
        default=None,
        description="The platform (adapter) to deliver through (templated; default: the "
        "event's, else the group's)",
    )


class EmitParams(Params):
    """Parameters of `emit`: an event type and its data."""

    type: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
    data: dict[str, Any] = Field(default_factory=dict)


class ReasonParams(Targeted):
    """Parameters of an action with an optional reason."""

    reason: Templated | None = None


class MuteParams(ReasonParams, DurationParams):
    """Parameters of `mute`: for how long."""

    for_: Duration = Field(alias="for")


class BanParams(ReasonParams, DurationParams):
    """Parameters of `ban`: for how long (for good when omitted)."""

    for_: Duration | None = Field(default=None, alias="for")


class SetLevelParams(Targeted):
    """Parameters of `set_level`."""

    level: int | Templated = Field(description="A level of the `levels:` ladder")


class LockLevelParams(Targeted):
    """Parameters of `lock_level`."""

    locked: bool = Field(
        default=True, description="true: freeze the member's level; false: unfreeze it"
    )


class DeleteParams(Params):
    """Parameters of `delete_message`."""

    reason: Templated | None = None


class FlagParams(Params):
    """Parameters of `flag_for_review`."""

    reason: Templated | None = None
    on_approve: list[Any] | None = Field(
        default=None,
        description="Actions run for the member when a moderator approves the flag "
        "(`engage-rules review approve`); without it approving only closes it",
    )


class EmptyTargeted(Targeted):
    """Parameters of an action that takes only `to`."""

    pass


class PrizeSpec(Params):
    """A prize of a lottery."""

    name: str | None = Field(default=None, description="What the prize is called")
    weight: int | float = Field(gt=0, description="Relative chance of drawing it")
    stock: int | None = Field(
        default=None,
        ge=0,
        description="How many exist, community-wide (no limit when omitted)",
    )
    do: list[Any] = Field(default_factory=list, description="Actions for the winner")


class LotteryParams(Targeted):
    """Parameters of `lottery`: the prizes to draw from."""

    prizes: list[PrizeSpec] = Field(min_length=1, max_length=100)
    reason: Templated | None = None


class RedeemParams(Targeted):
    """Parameters of `redeem`: buy an item of the shop, all or nothing."""

    item: Templated = Field(description="An item of `shop.items` (templated)")
    reason: Templated | None = None


class BindCodeParams(Targeted):
    """Parameters of `bind_code`: issue a one-time code that links another account."""

    expires: Duration = Field(
        default=timedelta(minutes=10), description="How long the code is valid (default 10m)"
    )
    length: int = Field(default=6, ge=4, le=16, description="Characters of the code (4-16)")
    secret: Templated | None = Field(
        default=None,
        description="Mixed into the code (a `vars` entry kept out of the playbook's "
        "repository), so nobody can work a code out from the events",
    )

    @field_validator("expires")
    @classmethod
    def _expires(cls, v: timedelta) -> timedelta:
        if not timedelta(seconds=10) <= v <= timedelta(days=30):
            raise ValueError(_("`expires` must be between 10s and 30d"))
        return v


class BindParams(Targeted):
    """Parameters of `bind`: redeem a bind code."""

    code: Templated = Field(description="The code (templated: `{{ event.data.code }}`)")


class EnterDrawParams(Targeted):
    """Parameters of `enter_draw`: enter the member in a draw's current pool."""

    draw: str = Field(description="A draw of `draws:`")
    weight: int | Templated | None = Field(
        default=None,
        description="Add this many chances (default: one entry per member, however often)",
    )


class RunDrawParams(Params):
    """Parameters of `run_draw`: draw a draw's open pool now."""

    draw: str = Field(description="A draw of `draws:`")


class StartFlowParams(Targeted):
    """Parameters of `start_flow`."""

    flow: str = Field(description="The flow to start (a name under `flows:`)")
    restart: bool = Field(
        default=False, description="End a run in progress and start again (default: keep it)"
    )


class ExitFlowParams(Targeted):
    """Parameters of `exit_flow`."""

    flow: str = Field(description="The flow to end (a name under `flows:`)")


class RoleParams(Targeted):
    """Parameters of `grant_role` and `remove_role`: a role name (mapped to the
    platform's role by the adapter's settings)."""

    role: Templated = Field(min_length=1, max_length=100, description="The role's name")
    reason: Templated | None = None


class PinParams(Params):
    """Parameters of `pin` and `unpin`: a message (default: the event's)."""

    message: Templated | None = Field(
        default=None, description="The message id (default: the event's data.message_id)"
    )
    channel: Templated | None = Field(
        default=None, description="Where the message is (default: the event's channel)"
    )
    reason: Templated | None = None


#: How many answers a poll may offer (what every shipped platform accepts).
MAX_POLL_OPTIONS = 10


class PollParams(Params):
    """Parameters of `poll`: a question and its answers."""

    question: Templated = Field(min_length=1, max_length=300)
    options: list[Templated] = Field(
        min_length=2,
        max_length=MAX_POLL_OPTIONS,
        description="The answers, 2 to 10, each 1 to 55 characters",
    )
    channel: Templated | None = Field(
        default=None, description="Where to post it (default: the event's channel)"
    )
    anonymous: bool | None = Field(
        default=None,
        description="Hide who voted (default: the platform's own; Discord polls never hide it)",
    )
    multiple: bool = Field(default=False, description="Allow several answers per member")

    @model_validator(mode="after")
    def _distinct_options(self) -> PollParams:
        for text in self.options:
            if not text.strip() or len(text) > 55:
                raise ValueError(f"each option needs 1 to 55 characters; got {text!r}")
        if len(set(self.options)) != len(self.options):
            raise ValueError("the poll's options must differ from each other")
        return self


class SetParams(BaseModel):
    """``set: {attr: value, ...}``: any attribute names; values may be templates."""

    model_config = ConfigDict(extra="allow")


#: Which actions are moderation actions (docs/reference.md §5.9: exemptions apply to
#: their rules).
MODERATION_ACTIONS = frozenset(
    {"delete_message", "warn", "mute", "kick", "ban", "strike", "flag_for_review"}
)
#: Actions that deliver a message.
MESSAGE_ACTIONS = frozenset({"send", "reply", "broadcast", "warn"})


@dataclass(frozen=True)
class ActionSpec:
    """An action of the language: its name, parameter model, short form and description."""

    name: str
    params: type[BaseModel]
    shorthand: str | None = None  # the field a scalar short form fills in
    description: str = ""
