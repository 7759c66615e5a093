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
from ..i18n import N_, _
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
        default=None,
        title=N_("Member"),
        description=N_("Another member to act on (default: the event's member)"),
    )


class CapSpec(Params):
    """At most `max` of the currency per member per calendar `per` from this rule."""

    per: Literal["day", "week", "month"] = Field(
        title=N_("Per"), description=N_("The calendar period: day, week or month")
    )
    max: int = Field(
        ge=1, title=N_("Maximum"), description=N_("The most a member gets in one period")
    )


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
                _(
                    "`{key}: {value}` is not a number; write a number (5) or a template "
                    '("{{{{ vars.price }}}}")'
                ).format(key=key, value=value)
            ) from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        return
    if number != number or number < 0 or number in (float("inf"), float("-inf")):
        raise ValueError(
            _(
                "`{key}: {value}` must be a number of 0 or more (an award takes nothing away: "
                "use `spend`, or `revoke` an award)"
            ).format(key=key, value=value)
        )


class SpendParams(Targeted):
    """Parameters of `spend`: an amount of a currency."""

    points: Number | None = Field(
        default=None,
        title=N_("Points"),
        description=N_(
            "How much of the first currency (a number, or a template); or "
            "write `currency` and `amount`"
        ),
    )
    currency: str | None = Field(
        default=None,
        title=N_("Currency"),
        description=N_("A currency of `currencies:`, with `amount`"),
    )
    amount: Number | None = Field(
        default=None,
        title=N_("Amount"),
        description=N_("How much of `currency` (a number, or a template)"),
    )
    reason: Templated | None = Field(
        default=None,
        title=N_("Reason"),
        description=N_("Why, as written in the ledger (default: the rule's id)"),
    )

    @model_validator(mode="after")
    def _one_amount(self) -> SpendParams:
        if (self.points is None) == (self.amount is None):
            raise ValueError(_("give either `points: N` or `currency: NAME, amount: N`"))
        if self.points is not None and self.currency is not None:
            raise ValueError(
                _("`points:` uses the default currency; use `amount:` with `currency:`")
            )
        key = "points" if self.points is not None else "amount"
        _literal_amount(key, self.points if self.points is not None else self.amount)
        return self


class AwardParams(SpendParams):
    """Parameters of `award`: an amount of a currency, optionally capped."""

    cap: CapSpec | None = Field(
        default=None,
        title=N_("Cap"),
        description=N_(
            "At most this much per member per calendar day, week or month from this rule"
        ),
    )


class RevokeParams(Targeted):
    """Parameters of `revoke`: reverse what an event earned."""

    rule: str | None = Field(
        default=None, title=N_("Rule"), description=N_("Only entries written by this rule")
    )
    event: Templated = Field(
        title=N_("Event"), description=N_("The cause event id or message id to reverse")
    )
    reason: Templated | None = Field(
        default=None,
        title=N_("Reason"),
        description=N_('Why, as written in the ledger (default: "revoked: " and the event)'),
    )


class BadgeParams(Targeted):
    """Parameters of `grant_badge` and `revoke_badge`."""

    badge: str = Field(title=N_("Badge"), description=N_("A badge of `badges:`"))


def _literal_tag_name(value: str) -> str:
    """A tag name written as is (not a template) follows the naming rule (names.py)."""
    if "{{" not in value and "{%" not in value:
        check_name(N_("tag name"), value)
    return value


class TagParams(Targeted, DurationParams):
    """Parameters of `tag`: a tag name, optionally expiring."""

    name: Templated = Field(title=N_("Tag"), description=N_("The tag to give the member"))
    expires: Duration | None = Field(
        default=None,
        title=N_("Expires after"),
        description=N_("Remove the tag this long after it is given, like 7d (default: never)"),
    )

    _name = field_validator("name")(_literal_tag_name)


class UntagParams(Targeted):
    """Parameters of `untag`."""

    name: Templated = Field(title=N_("Tag"), description=N_("The tag to take away"))

    _name = field_validator("name")(_literal_tag_name)


class PostTagParams(Params):
    """Parameters of `tag_post`: a tag for the post the event concerns."""

    name: Templated = Field(title=N_("Tag"), description=N_("The tag to put on the post"))


class MessageParams(Targeted):
    """Parameters of a message: a template or a text."""

    template: str | None = Field(
        default=None,
        title=N_("Template"),
        description=N_("A template of `templates:` to send (instead of `text`)"),
    )
    text: Templated | None = Field(
        default=None,
        title=N_("Text"),
        description=N_("The message itself (may use a template: {{ member.name }})"),
    )
    channel: Templated | None = Field(
        default=None,
        title=N_("Channel"),
        description=N_(
            "Where to post it (default: the event's channel, or the community's for `broadcast`)"
        ),
    )
    transactional: bool = Field(
        default=False,
        title=N_("Transactional"),
        description=N_(
            "A message the member asked for (a receipt, a code): not limited "
            "by `messaging:` caps and quiet hours"
        ),
    )
    reason: Templated | None = Field(
        default=None,
        title=N_("Reason"),
        description=N_(
            "Why: recorded in the audit log and passed to the platform (may use a template)"
        ),
    )

    @model_validator(mode="after")
    def _one_body(self) -> MessageParams:
        if (self.template is None) == (self.text is None):
            raise ValueError(_("give either `template: NAME` or `text: ...`"))
        return self


class RoutedMessageParams(MessageParams):
    """Parameters of `send` and `broadcast`: a message, and where it goes."""

    community: Templated | None = Field(
        default=None,
        title=N_("Community"),
        description=N_(
            "The group (community) to send to (templated): for `send`, the member's account "
            "there, an account of the same person (docs/reference.md §4.3)"
        ),
    )
    platform: Templated | None = Field(
        default=None,
        title=N_("Platform"),
        description=N_(
            "The platform (adapter) to deliver through (templated; default: the event's, "
            "else the group's)"
        ),
    )


class EmitParams(Params):
    """Parameters of `emit`: an event type and its data."""

    type: str = Field(
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$",
        title=N_("Event type"),
        description=N_("The type of the event to raise, like custom.welcomed"),
    )
    data: dict[str, Any] = Field(
        default_factory=dict,
        title=N_("Data"),
        description=N_("What the new event carries, as `event.data` of the rules it reaches"),
    )


class ReasonParams(Targeted):
    """Parameters of an action with an optional reason."""

    reason: Templated | None = Field(
        default=None,
        title=N_("Reason"),
        description=N_(
            "Why: recorded in the audit log and passed to the platform (may use a template)"
        ),
    )


class MuteParams(ReasonParams, DurationParams):
    """Parameters of `mute`: for how long."""

    for_: Duration = Field(
        alias="for",
        title=N_("For how long"),
        description=N_("How long the mute lasts, like 10m or 1h; it is lifted automatically"),
    )


class BanParams(ReasonParams, DurationParams):
    """Parameters of `ban`: for how long (for good when omitted)."""

    for_: Duration | None = Field(
        default=None,
        alias="for",
        title=N_("For how long"),
        description=N_("How long the ban lasts, like 7d (default: for good)"),
    )


class SetLevelParams(Targeted):
    """Parameters of `set_level`."""

    level: int | Templated = Field(
        title=N_("Level"), description=N_("A level of the `levels:` ladder")
    )


class LockLevelParams(Targeted):
    """Parameters of `lock_level`."""

    locked: bool = Field(
        default=True,
        title=N_("Locked"),
        description=N_("true: freeze the member's level; false: unfreeze it"),
    )


class DeleteParams(Params):
    """Parameters of `delete_message`."""

    reason: Templated | None = Field(
        default=None,
        title=N_("Reason"),
        description=N_(
            "Why: recorded in the audit log and passed to the platform (may use a template)"
        ),
    )


class FlagParams(Params):
    """Parameters of `flag_for_review`."""

    reason: Templated | None = Field(
        default=None,
        title=N_("Reason"),
        description=N_(
            "Why: recorded in the audit log and passed to the platform (may use a template)"
        ),
    )
    on_approve: list[Any] | None = Field(
        default=None,
        title=N_("On approve"),
        description=N_(
            "Actions run for the member when a moderator approves the flag "
            "(`engage-rules review approve`); without it approving only "
            "closes it"
        ),
    )


class EmptyTargeted(Targeted):
    """Parameters of an action that takes only `to`."""

    pass


class PrizeSpec(Params):
    """A prize of a lottery."""

    name: str | None = Field(
        default=None, title=N_("Name"), description=N_("What the prize is called")
    )
    weight: int | float = Field(
        gt=0, title=N_("Weight"), description=N_("Relative chance of drawing it")
    )
    stock: int | None = Field(
        default=None,
        ge=0,
        title=N_("Stock"),
        description=N_("How many exist, community-wide (no limit when omitted)"),
    )
    do: list[Any] = Field(
        default_factory=list, title=N_("Actions"), description=N_("Actions for the winner")
    )


class LotteryParams(Targeted):
    """Parameters of `lottery`: the prizes to draw from."""

    prizes: list[PrizeSpec] = Field(
        min_length=1,
        max_length=100,
        title=N_("Prizes"),
        description=N_("The prizes to draw from, each with a weight and optionally a stock"),
    )
    reason: Templated | None = Field(
        default=None,
        title=N_("Reason"),
        description=N_(
            "Why: recorded in the audit log and passed to the platform (may use a template)"
        ),
    )


class RedeemParams(Targeted):
    """Parameters of `redeem`: buy an item of the shop, all or nothing."""

    item: Templated = Field(title=N_("Item"), description=N_("An item of `shop.items` (templated)"))
    reason: Templated | None = Field(
        default=None,
        title=N_("Reason"),
        description=N_('Why, as written in the ledger (default: "shop: " and the item\'s name)'),
    )


class BindCodeParams(Targeted):
    """Parameters of `bind_code`: issue a one-time code that links another account."""

    expires: Duration = Field(
        default=timedelta(minutes=10),
        title=N_("Expires"),
        description=N_("How long the code is valid (default 10m, 10s to 30d)"),
    )
    length: int = Field(
        default=6, ge=4, le=16, title=N_("Length"), description=N_("Characters of the code (4-16)")
    )
    secret: Templated | None = Field(
        default=None,
        title=N_("Secret"),
        description=N_(
            "Mixed into the code (a `vars` entry kept out of the playbook's repository), so "
            "nobody can work a code out from the events"
        ),
    )

    @field_validator("expires")
    @classmethod
    def _expires(cls, v: timedelta) -> timedelta:
        if not timedelta(seconds=10) <= v <= timedelta(days=30):
            raise ValueError(_("`expires` must be between 10s and 30d"))
        return v


class BindParams(Targeted):
    """Parameters of `bind`: redeem a bind code."""

    code: Templated = Field(
        title=N_("Code"), description=N_("The code (templated: `{{ event.data.code }}`)")
    )


class EnterDrawParams(Targeted):
    """Parameters of `enter_draw`: enter the member in a draw's current pool."""

    draw: str = Field(title=N_("Draw"), description=N_("A draw of `draws:`"))
    weight: int | Templated | None = Field(
        default=None,
        title=N_("Weight"),
        description=N_("Add this many chances (default: one entry per member, however often)"),
    )


class RunDrawParams(Params):
    """Parameters of `run_draw`: draw a draw's open pool now."""

    draw: str = Field(title=N_("Draw"), description=N_("A draw of `draws:`"))


class StartFlowParams(Targeted):
    """Parameters of `start_flow`."""

    flow: str = Field(title=N_("Flow"), description=N_("The flow to start (a name under `flows:`)"))
    restart: bool = Field(
        default=False,
        title=N_("Restart"),
        description=N_("End a run in progress and start again (default: keep it)"),
    )


class ExitFlowParams(Targeted):
    """Parameters of `exit_flow`."""

    flow: str = Field(title=N_("Flow"), description=N_("The flow to end (a name under `flows:`)"))


class RoleParams(Targeted):
    """Parameters of `grant_role` and `remove_role`: a role name (mapped to the
    platform's role by the adapter's settings)."""

    role: Templated = Field(
        min_length=1, max_length=100, title=N_("Role"), description=N_("The role's name")
    )
    reason: Templated | None = Field(
        default=None,
        title=N_("Reason"),
        description=N_(
            "Why: recorded in the audit log and passed to the platform (may use a template)"
        ),
    )


class PinParams(Params):
    """Parameters of `pin` and `unpin`: a message (default: the event's)."""

    message: Templated | None = Field(
        default=None,
        title=N_("Message"),
        description=N_("The message id (default: the event's data.message_id)"),
    )
    channel: Templated | None = Field(
        default=None,
        title=N_("Channel"),
        description=N_("Where the message is (default: the event's channel)"),
    )
    reason: Templated | None = Field(
        default=None,
        title=N_("Reason"),
        description=N_(
            "Why: recorded in the audit log and passed to the platform (may use a template)"
        ),
    )


#: How many answers a poll may offer (what every shipped platform accepts).
MAX_POLL_OPTIONS = 10


class PollParams(Params):
    """Parameters of `poll`: a question and its answers."""

    question: Templated = Field(
        min_length=1,
        max_length=300,
        title=N_("Question"),
        description=N_("The question asked (may use a template)"),
    )
    options: list[Templated] = Field(
        min_length=2,
        max_length=MAX_POLL_OPTIONS,
        title=N_("Options"),
        description=N_("The answers, 2 to 10, each 1 to 55 characters"),
    )
    channel: Templated | None = Field(
        default=None,
        title=N_("Channel"),
        description=N_("Where to post it (default: the event's channel)"),
    )
    anonymous: bool | None = Field(
        default=None,
        title=N_("Anonymous"),
        description=N_("Hide who voted (default: the platform's own; Discord polls never hide it)"),
    )
    multiple: bool = Field(
        default=False,
        title=N_("Multiple answers"),
        description=N_("Allow several answers per member"),
    )

    @model_validator(mode="after")
    def _distinct_options(self) -> PollParams:
        for text in self.options:
            if not text.strip() or len(text) > 55:
                raise ValueError(
                    _("each option needs 1 to 55 characters; got {text!r}").format(text=text)
                )
        if len(set(self.options)) != len(self.options):
            raise ValueError(_("the poll's options must differ from each other"))
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
    """An action of the language: its name, parameter model, short form, description and
    title.  The description and the title are English, marked with ``N_()`` for the
    translation catalog (``engage-rules schema`` shows them in the operator's language)."""

    name: str
    params: type[BaseModel]
    shorthand: str | None = None  # the field a scalar short form fills in
    description: str = ""
    title: str = ""  # a short name for editors (default: the action's name)
