"""The playbook language as data (docs/language.md): pydantic models, one per construct.

These models are the single source of truth for what a playbook may contain: the loader
validates against them (unknown keys are errors), and ``engage-rules schema`` prints the
JSON Schema derived from them.  Actions are validated separately, per action name, by
:mod:`engage_rules.lang.action_params`, so that plugins can add actions.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from .._util.cron import check_cron
from .._util.durations import Duration as Duration
from .._util.durations import WrittenDurations
from .._util.zones import zone, zone_problem
from ..i18n import N_, _
from .names import EVENT_TYPE as _EVENT_TYPE
from .names import MAX_NAME, NAME, check_name, event_type_problem


class Strict(BaseModel):
    """A section of the playbook; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CommunitySpec(Strict):
    """The community: its display name and time zone."""

    name: str = Field(
        default="community",
        title=N_("Name"),
        description=N_("Display name, available as community.name"),
    )
    timezone: str = Field(
        default="UTC",
        title=N_("Time zone"),
        description=N_("IANA time zone for calendar periods, like Asia/Shanghai"),
    )
    language: Literal["en", "zh-CN"] = Field(
        default="en",
        title=N_("Language"),
        description=N_(
            "The language of the texts the engine writes into actions itself, such "
            "as the default reason of an expiry: en or zh-CN"
        ),
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        problem = zone_problem(v)
        if problem is not None or zone(v) is None:
            raise ValueError(problem or _("time zone {name!r} cannot be loaded").format(name=v))
        return v


class ExemptSpec(Strict):
    """Who is exempt: members with these roles, these members, these channels."""

    roles: list[str] = Field(
        default_factory=list,
        title=N_("Roles"),
        description=N_("Members with these roles are exempt"),
    )
    members: list[str] = Field(
        default_factory=list,
        title=N_("Members"),
        description=N_("Member ids the rules do not apply to"),
    )
    channels: list[str] = Field(
        default_factory=list,
        title=N_("Channels"),
        description=N_("Channels where the rules do not apply"),
    )


class ThresholdSpec(Strict):
    """Fire when the member's matching events within the window reach `count`."""

    count: int = Field(ge=1, le=10_000, title=N_("Count"), description=N_("How many times"))
    within: Duration = Field(title=N_("Within"), description=N_("The time window, like 10m"))


Condition = str | list[Any] | dict[str, Any]

EVENT_TYPE = _EVENT_TYPE


# -- trigger maps (docs/reference.md §5.6): `on:` as a mapping ------------------------------------
class SilenceFactorSpec(Strict):
    """A per-member silence threshold: ``factor`` times the member's typical gap,
    clamped to [min, max] (max also applies while the typical gap is unknown)."""

    factor: float = Field(
        gt=0,
        le=1000,
        title=N_("Factor"),
        description=N_("How many of the member's typical gaps count as silence"),
    )
    min: Duration = Field(
        title=N_("Shortest"), description=N_("Never call silence sooner than this")
    )
    max: Duration = Field(title=N_("Longest"), description=N_("Never wait longer than this"))

    @model_validator(mode="after")
    def _order(self) -> SilenceFactorSpec:
        if self.min > self.max:
            raise ValueError(_("`min` is longer than `max`"))
        return self


class SilentForTrigger(Strict):
    """``{silent_for: 14d}``: once when the member has had no activity for that long."""

    silent_for: Annotated[
        Annotated[Duration, Tag("duration")] | Annotated[SilenceFactorSpec, Tag("factor")],
        Discriminator(
            lambda v: "factor" if isinstance(v, dict | SilenceFactorSpec) else "duration"
        ),
    ] = Field(
        title=N_("Silent for"),
        description=N_("A duration (14d), or {factor, min, max} of the member's typical gap"),
    )


class AfterTrigger(Strict):
    """``{after: member.joined, delay: 3d}``: the given time after each such event."""

    after: str = Field(
        pattern=EVENT_TYPE,
        title=N_("After"),
        description=N_("The event type whose arrival starts the delay"),
    )
    delay: Duration = Field(
        title=N_("Delay"), description=N_("How long after that event the rule runs, like 1h or 3d")
    )


class CronTrigger(Strict):
    """``{cron: "0 20 * * FRI"}``: a schedule in the community time zone (schedules.py)."""

    cron: str = Field(
        title=N_("Cron"),
        description=N_(
            "Five cron fields (minute hour day month weekday) or a macro "
            "such as @daily, in the community time zone"
        ),
    )
    catch_up: Literal["one", "all", "skip"] = Field(
        default="one",
        title=N_("Catch up"),
        description=N_(
            "When the service starts again after it was down: run the latest "
            "missed time once (one), every missed time (all) or none (skip)"
        ),
    )
    audience: str | None = Field(
        default=None,
        title=N_("Audience"),
        description=N_(
            "A segment: run the rule once per member of it (default: once for the community)"
        ),
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        check_cron(v)
        return v


class PostReachedSpec(Strict):
    """What a post must reach (all of the given counts) for ``on: {post_reached: ...}``."""

    reactions: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        title=N_("Reactions"),
        description=N_("Reactions the post must reach"),
    )
    replies: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        title=N_("Replies"),
        description=N_("Replies the post must reach"),
    )
    shares: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        title=N_("Shares"),
        description=N_("Shares the post must reach"),
    )

    @model_validator(mode="after")
    def _some(self) -> PostReachedSpec:
        if self.reactions is None and self.replies is None and self.shares is None:
            raise ValueError(_("`post_reached` needs at least one of reactions, replies, shares"))
        return self


class PostReachedTrigger(Strict):
    """``{post_reached: {reactions: 10}}``: once per post, when the post first reaches
    the counts (features/posts.py); the rule's member is the post's author."""

    post_reached: PostReachedSpec = Field(
        title=N_("Post reached"), description=N_("Runs when a post reaches these counts")
    )


#: Trigger maps by their distinguishing key.  Rule `on:` mappings are validated against
#: the model named by their key (engage_rules.lang.loader); features add their triggers here.
TRIGGER_MODELS: dict[str, type[Strict]] = {
    "silent_for": SilentForTrigger,
    "after": AfterTrigger,
    "cron": CronTrigger,
    "post_reached": PostReachedTrigger,
}
Trigger = SilentForTrigger | AfterTrigger | CronTrigger | PostReachedTrigger


class RuleSpec(Strict):
    """A rule: when it runs (`on`, `if`) and what it does (`do`, `else`)."""

    id: str = Field(
        min_length=1,
        max_length=MAX_NAME,
        pattern=NAME,
        title=N_("Id"),
        description=N_("The rule's unique name, kept in the ledger and the audit log"),
    )
    description: str | None = Field(
        default=None, title=N_("Description"), description=N_("What the rule is for, for the team")
    )
    on: str | list[str] | Trigger = Field(
        title=N_("On"),
        description=N_(
            "An event type, a list of them, or a trigger map (silent_for, "
            "after, cron, post_reached)"
        ),
    )
    if_: Condition | None = Field(
        default=None,
        alias="if",
        title=N_("If"),
        description=N_("A condition, like member.points >= 100; the rule runs only when it holds"),
    )
    priority: int = Field(
        default=0,
        title=N_("Priority"),
        description=N_("Rules with higher priority run first (default 0)"),
    )
    cooldown: Duration | None = Field(
        default=None,
        title=N_("Cooldown"),
        description=N_(
            "After the rule runs, it waits this long before it runs again "
            "(per member unless `cooldown_per` says otherwise)"
        ),
    )
    cooldown_per: Literal["member", "channel", "community"] = Field(
        default="member",
        title=N_("Cooldown per"),
        description=N_(
            "Whose cooldown `cooldown` is: the member's (default), the "
            "event's channel's or the whole community's"
        ),
    )
    once: bool = Field(
        default=False,
        title=N_("Once"),
        description=N_("true: the rule runs at most once for each member, ever"),
    )
    threshold: ThresholdSpec | None = Field(
        default=None,
        title=N_("Threshold"),
        description=N_("Run only when the event happened this many times within a time window"),
    )
    stop: bool = Field(
        default=False,
        title=N_("Stop"),
        description=N_("true: after this rule runs, later rules do not see the event"),
    )
    exempt: ExemptSpec | None = Field(
        default=None,
        title=N_("Exempt"),
        description=N_("Who this rule does not apply to: roles, members, channels"),
    )
    do: list[Any] = Field(
        default_factory=list,
        title=N_("Do"),
        description=N_("The actions to run when the rule applies"),
    )
    else_: list[Any] | None = Field(
        default=None,
        alias="else",
        title=N_("Else"),
        description=N_("The actions to run when the condition `if:` does not hold"),
    )
    refused: list[Any] | None = Field(
        default=None,
        title=N_("Refused"),
        description=N_(
            "Actions run instead of `else:` when an action of `do:` is "
            "refused (a short `spend`, an item out of stock); "
            "`refusal.reason` says why"
        ),
    )
    shadow: bool = Field(
        default=False,
        title=N_("Shadow"),
        description=N_(
            "Trial mode: evaluate the rule and record what its actions would "
            "do (shadow actions), but carry none out and deliver nothing"
        ),
    )
    edits: bool | None = Field(
        default=None,
        title=N_("Edits"),
        description=N_(
            "Whether a rule on message.posted also sees message.edited (an "
            "edited message); default: yes for rules taking moderation "
            "actions, no for others"
        ),
    )

    @field_validator("on")
    @classmethod
    def _on(cls, v: Any) -> Any:
        if isinstance(v, Strict):
            return v
        types = [v] if isinstance(v, str) else v
        if not types:
            raise ValueError(_("`on` needs at least one event type"))
        for t in types:
            problem = event_type_problem(t)
            if problem is not None:
                raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _has_actions(self) -> RuleSpec:
        if not self.do and not self.else_:
            raise ValueError(_("rule {id!r} has no actions (`do:`)").format(id=self.id))
        return self

    @model_validator(mode="after")
    def _cooldown_per(self) -> RuleSpec:
        if self.cooldown_per != "member" and self.cooldown is None:
            raise ValueError(_("rule {id!r}: `cooldown_per` needs a `cooldown`").format(id=self.id))
        return self


class LadderStep(Strict):
    """A step of the strike ladder: the actions run at `at` active strikes."""

    at: int = Field(
        ge=1,
        title=N_("At strikes"),
        description=N_("The number of active strikes at which this step runs"),
    )
    do: list[Any] = Field(
        title=N_("Actions"), description=N_("The actions of this step, like a mute or a ban")
    )


class StrikesSpec(Strict):
    """Strikes: when they expire, and the ladder of what each count does."""

    expire_after: Duration | None = Field(
        default=None,
        title=N_("Expire after"),
        description=N_("A strike stops counting this long after it was given"),
    )
    ladder: list[LadderStep] = Field(
        default_factory=list,
        title=N_("Ladder"),
        description=N_("What happens at each number of active strikes"),
    )


class ModeratorsSpec(Strict):
    """Who may send `moderation.strike` and `moderation.strike_reset` events."""

    roles: list[str] = Field(
        default_factory=list,
        title=N_("Roles"),
        description=N_("Members with these roles are moderators"),
    )
    members: list[str] = Field(
        default_factory=list, title=N_("Members"), description=N_("Member ids of moderators")
    )


#: Roles exempt from moderation when a playbook does not set `moderation.exempt`.
DEFAULT_MODERATOR_ROLES = ("admin", "moderator")
#: Events a moderator sends to act on a member (handled when the playbook has
#: `moderation:`): data.member is the member, data.reason the reason.
MODERATOR_EVENTS = frozenset({"moderation.strike", "moderation.strike_reset"})


class ModerationSpec(Strict):
    """The moderation section: exemptions, moderators and strikes."""

    exempt: ExemptSpec | None = Field(
        default=None,
        title=N_("Exempt"),
        description=N_(
            "Members never subject to rules with moderation actions, and "
            "never given strikes (default: roles admin and moderator; `{}` "
            "for nobody)"
        ),
    )
    moderators: ModeratorsSpec | None = Field(
        default=None,
        title=N_("Moderators"),
        description=N_(
            "Who may strike members and reset strikes with moderation.strike "
            "and moderation.strike_reset events (default: the roles and "
            "members of `exempt`)"
        ),
    )
    strikes: StrikesSpec | None = Field(
        default=None,
        title=N_("Strikes"),
        description=N_("Strikes: how long they count and what happens at each count"),
    )


def _ids(kind: str, v: dict[str, Any]) -> dict[str, Any]:
    """Badge and leaderboard ids: names like rule ids (lang/names.py); ``kind`` is marked
    with ``N_`` (``badge id``)."""
    for name in v:
        check_name(kind, name)
    return v


class BadgeTier(Strict):
    """A tier of a tiered badge."""

    at: int | float = Field(
        title=N_("At"), description=N_("The measure at which this tier is reached")
    )
    name: str = Field(
        min_length=1, title=N_("Name"), description=N_("The tier's display name, like Gold")
    )


class BadgeSpec(Strict):
    """A badge: granted by rules or by a measure, optionally in tiers."""

    name: str = Field(min_length=1, title=N_("Name"), description=N_("Display name"))
    description: str | None = Field(
        default=None,
        title=N_("Description"),
        description=N_("What the badge is for, shown to members"),
    )
    title: bool = Field(
        default=False,
        title=N_("Honour title"),
        description=N_("Also an honour title (member.titles)"),
    )
    revoke_after: Duration | None = Field(
        default=None,
        title=N_("Revoke after"),
        description=N_("Revoked this long after its latest grant (re-earned titles)"),
    )
    tiers: list[BadgeTier] | None = Field(
        default=None,
        title=N_("Tiers"),
        description=N_("Tiers granted and upgraded automatically as `counts` grows"),
    )
    counts: str | None = Field(
        default=None, title=N_("Counts"), description=N_("The expression tiers measure")
    )
    scope: Literal["group", "person"] = Field(
        default="group",
        title=N_("Scope"),
        description=N_(
            "`group`: each account holds it in its group; `person`: held by the member's "
            "person, shown in every group of the person (docs/reference.md §4.3)"
        ),
    )

    @model_validator(mode="after")
    def _tiered(self) -> BadgeSpec:
        if self.scope == "person" and (self.tiers is not None or self.revoke_after is not None):
            raise ValueError(
                _(
                    "a badge with `scope: person` cannot have `tiers` or `revoke_after` "
                    "(it is granted and revoked by actions)"
                )
            )
        if self.tiers is not None:
            if not self.tiers:
                raise ValueError(_("`tiers` needs at least one tier"))
            if self.counts is None:
                raise ValueError(
                    _(
                        "a tiered badge needs `counts:`, the expression its tiers measure, "
                        "e.g. \"count('reaction.added')\""
                    )
                )
            for lower, higher in zip(self.tiers, self.tiers[1:], strict=False):
                if higher.at <= lower.at:
                    raise ValueError(
                        _(
                            "tier {higher!r} (at {higher_at}) must be above tier "
                            "{lower!r} (at {lower_at}): tiers' `at` must increase"
                        ).format(
                            higher=higher.name,
                            higher_at=higher.at,
                            lower=lower.name,
                            lower_at=lower.at,
                        )
                    )
            if self.revoke_after is not None:
                raise ValueError(
                    _("a tiered badge follows its measure and cannot have `revoke_after`")
                )
        elif self.counts is not None:
            raise ValueError(_("`counts:` measures a tiered badge: add `tiers:`"))
        return self


class OnCloseStep(Strict):
    """The actions run, when a period closes, for the members at a rank or range of ranks."""

    rank: int | list[int] = Field(
        title=N_("Rank"), description=N_("A rank, or [first, last] for a range of ranks")
    )
    do: list[Any] = Field(
        title=N_("Actions"), description=N_("The actions for the members at these ranks")
    )

    @field_validator("rank")
    @classmethod
    def _rank(cls, v: int | list[int]) -> int | list[int]:
        ranks = [v] if isinstance(v, int) else v
        if isinstance(v, list) and len(v) != 2:
            raise ValueError(_("`rank` is a rank such as 1, or a range such as [2, 10]"))
        if any(r < 1 for r in ranks):
            raise ValueError(_("ranks start at 1"))
        if ranks[-1] < ranks[0]:
            raise ValueError(
                _("the range [{low}, {high}] is empty: write [low, high]").format(
                    low=ranks[0], high=ranks[-1]
                )
            )
        return v

    @property
    def first(self) -> int:
        return self.rank if isinstance(self.rank, int) else self.rank[0]

    @property
    def last(self) -> int:
        return self.rank if isinstance(self.rank, int) else self.rank[1]


class LeaderboardSpec(Strict):
    """A leaderboard: a measure ranked per calendar period, with prizes."""

    measure: str = Field(
        title=N_("Measure"),
        description=N_("A currency (its amount earned in the period) or an expression"),
    )
    period: Literal["day", "week", "month"] = Field(
        title=N_("Period"),
        description=N_("Calendar periods in the community time zone (weeks start on Monday)"),
    )
    size: int = Field(
        default=10, ge=1, le=1000, title=N_("Size"), description=N_("How many members are ranked")
    )
    tie_break: Literal["earliest"] = Field(
        default="earliest",
        title=N_("Tie break"),
        description=N_("Who reached the score first ranks higher"),
    )
    on_close: list[OnCloseStep] = Field(
        default_factory=list,
        title=N_("On close"),
        description=N_("What happens when a period ends: actions for ranks"),
    )

    @model_validator(mode="after")
    def _ranks(self) -> LeaderboardSpec:
        taken: dict[int, int] = {}
        for step in self.on_close:
            if step.last > self.size:
                raise ValueError(
                    _("rank {rank} is beyond the leaderboard's size ({size})").format(
                        rank=step.last, size=self.size
                    )
                )
            for r in range(step.first, step.last + 1):
                if r in taken:
                    raise ValueError(_("rank {rank} is in two `on_close` steps").format(rank=r))
                taken[r] = step.first
        return self


class CurrencySpec(Strict):
    """A currency, whose credits may expire."""

    name: str = Field(
        min_length=1,
        max_length=MAX_NAME,
        pattern=NAME,
        title=N_("Name"),
        description=N_("The currency's name, used in `award` and `spend`"),
    )
    expires_after: Duration | None = Field(
        default=None,
        title=N_("Expires after"),
        description=N_("Credits expire this long after they are earned (365d)"),
    )
    decimals: int = Field(
        default=0,
        ge=0,
        le=6,
        title=N_("Decimals"),
        description=N_(
            "Decimal places of its amounts (2: 199.90); kept exactly, as whole minor units"
        ),
    )
    scope: Literal["group", "person"] = Field(
        default="group",
        title=N_("Scope"),
        description=N_(
            "`group`: each group (community) keeps its own balance; `person`: one balance "
            "shared by every linked account of a person, across groups and platforms"
        ),
    )

    @model_validator(mode="after")
    def _person_scope(self) -> CurrencySpec:
        if self.scope == "person" and self.expires_after is not None:
            raise ValueError(
                _(
                    "a currency with `scope: person` cannot have `expires_after` "
                    "(person-wide credits do not expire)"
                )
            )
        return self


class ShopCodesSpec(Strict):
    """The coupon codes an item hands out, one per redemption: generated from the
    playbook (deterministic) or read from a `vars` entry (a list, or `{file: codes.txt}`)."""

    generate: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        title=N_("Generate"),
        description=N_("How many codes to generate"),
    )
    prefix: str = Field(
        default="",
        max_length=32,
        title=N_("Prefix"),
        description=N_("What generated codes start with (MUG-)"),
    )
    var: str | None = Field(
        default=None,
        title=N_("Variable"),
        description=N_("A `vars` entry holding the codes (a list, or {file: codes.txt})"),
    )

    @model_validator(mode="after")
    def _one_source(self) -> ShopCodesSpec:
        if (self.generate is None) == (self.var is None):
            raise ValueError(_("give either `generate: N` or `var: NAME` (a list of codes)"))
        return self


class ShopItemSpec(Strict):
    """An item of the shop: what it costs, how many there are, how many one member may
    have, and the codes it hands out."""

    name: str | None = Field(
        default=None, title=N_("Name"), description=N_("What the item is called")
    )
    price: int | float = Field(
        ge=0,
        le=10**12,
        title=N_("Price"),
        description=N_("Its price, in `currency` (decimals if it has them)"),
    )
    currency: str | None = Field(
        default=None,
        title=N_("Currency"),
        description=N_("The currency it is paid in (default: the first)"),
    )
    stock: int | None = Field(
        default=None,
        ge=0,
        title=N_("Stock"),
        description=N_(
            "How many exist, community-wide (default: unlimited, or as many as it has codes)"
        ),
    )
    per_member: int | None = Field(
        default=None,
        ge=1,
        title=N_("Per member"),
        description=N_("How many one member may redeem in all"),
    )
    codes: ShopCodesSpec | None = Field(
        default=None,
        title=N_("Codes"),
        description=N_("Codes handed out one per purchase: generated, or from a `vars` entry"),
    )


class ShopSpec(Strict):
    """The points shop: items members redeem with the `redeem` action."""

    items: dict[str, ShopItemSpec] = Field(
        min_length=1, title=N_("Items"), description=N_("The items, by name")
    )

    @field_validator("items")
    @classmethod
    def _item_ids(cls, v: dict[str, ShopItemSpec]) -> dict[str, ShopItemSpec]:
        return _ids(N_("shop item id"), v)


class DrawSpec(Strict):
    """A draw: `enter_draw` collects entrants, and the draw picks winners uniformly (or
    by their weights) at the end of each period, or when a `run_draw` action runs."""

    winners: int = Field(
        ge=1, le=1000, title=N_("Winners"), description=N_("How many winners each draw picks")
    )
    period: Literal["day", "week", "month"] | None = Field(
        default=None,
        title=N_("Period"),
        description=N_(
            "Entrants per calendar period, drawn when it ends (community "
            "time zone); without it, one pool drawn by `run_draw`"
        ),
    )
    seed: str | None = Field(
        default=None,
        max_length=200,
        title=N_("Seed"),
        description=N_(
            "Published seed: the same seed and entrants draw the same "
            "winners (default: the playbook name)"
        ),
    )
    do: list[Any] = Field(
        default_factory=list, title=N_("Actions"), description=N_("Actions for each winner")
    )


class LevelStepSpec(Strict):
    """A level of the ladder."""

    level: int = Field(ge=0, title=N_("Level"), description=N_("The level number (member.level)"))
    name: str = Field(
        min_length=1, title=N_("Name"), description=N_("The level name (member.level_name)")
    )
    at: int | float = Field(
        ge=0, title=N_("At"), description=N_("The measure at which the level is reached")
    )


class DemotionSpec(Strict):
    """When a member goes down a level."""

    below: float = Field(
        default=1.0,
        gt=0,
        le=1,
        title=N_("Below"),
        description=N_("Demote when the measure falls under this share of the level's `at`"),
    )
    grace: Duration | None = Field(
        default=None,
        title=N_("Grace"),
        description=N_("No demotion within this long of a promotion"),
    )


class LevelsSpec(Strict):
    """The level ladder and what it measures."""

    by: str = Field(
        min_length=1,
        title=N_("By"),
        description=N_("A currency (lifetime earned) or an expression over the member's counts"),
    )
    ladder: list[LevelStepSpec] = Field(
        min_length=1, title=N_("Ladder"), description=N_("The levels, from the lowest up")
    )
    demotion: DemotionSpec | None = Field(
        default=None,
        title=N_("Demotion"),
        description=N_("When members move down a level (default: never)"),
    )
    scope: Literal["group", "person"] = Field(
        default="group",
        title=N_("Scope"),
        description=N_(
            "`group`: each account has its level in its group; `person`: one level per "
            "person, measured by a person-wide currency (docs/reference.md §4.3)"
        ),
    )

    @model_validator(mode="after")
    def _person_scope(self) -> LevelsSpec:
        if self.scope == "person" and self.demotion is not None:
            raise ValueError(
                _("levels with `scope: person` cannot have `demotion` (they only go up)")
            )
        return self


def _default_currencies() -> list[str | CurrencySpec]:
    return ["points"]


# -- flows (docs/reference.md §5.7) -------------------------------------------------------------
class GoalSpec(Strict):
    """What completes a flow: an event, optionally with a condition."""

    event: str = Field(
        pattern=EVENT_TYPE,
        title=N_("Event type"),
        description=N_("Reaching this event completes the flow"),
    )
    if_: Condition | None = Field(
        default=None,
        alias="if",
        title=N_("If"),
        description=N_("Only when this condition holds for the event"),
    )


class FlowSpec(Strict):
    """A multi-step journey for one member.  ``steps`` are actions and the step forms
    ``wait``, ``wait_for`` (+ ``on_timeout``), ``if``/``then``/``else`` and ``exit``;
    the loader checks them (engage_rules.flow_loader)."""

    description: str | None = Field(
        default=None, title=N_("Description"), description=N_("What the flow is for, for the team")
    )
    exit_on: list[str] = Field(
        default_factory=list, title=N_("Exit on"), description=N_("Event types that end the flow")
    )
    goal: GoalSpec | None = Field(
        default=None, title=N_("Goal"), description=N_("The event that completes the flow")
    )
    steps: list[Any] = Field(
        min_length=1,
        title=N_("Steps"),
        description=N_("What the flow does, in order: actions, waits and conditions"),
    )

    @field_validator("exit_on")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        for t in v:
            if not re.match(EVENT_TYPE, t):
                raise ValueError(
                    _("{type!r} is not an event type (a dotted lower-case name)").format(type=t)
                )
        return v


# -- messaging policy (docs/reference.md §5.8) and segments (§5.10) ------------------------------
_CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class QuietHoursSpec(Strict, WrittenDurations):
    """Hours when direct messages wait (`defer`) or are dropped, in the member's time zone
    (``member.attrs.timezone``) when it is a valid IANA name, else the community's."""

    from_: str = Field(
        alias="from", pattern=_CLOCK_TIME, title=N_("From"), description=N_("Start, HH:MM")
    )
    to: str = Field(
        pattern=_CLOCK_TIME, title=N_("To"), description=N_("End, HH:MM (may be past midnight)")
    )
    mode: Literal["defer", "drop"] = Field(
        default="defer",
        title=N_("Mode"),
        description=N_("defer: send when quiet hours end; drop: do not send"),
    )
    spread: Duration = Field(
        default="1h",
        validate_default=True,
        title=N_("Spread"),
        description=N_("Deferred sends are released over at most this long after `to`"),
    )

    @field_validator("spread")
    @classmethod
    def _spread(cls, v: timedelta) -> timedelta:
        if v.total_seconds() < 1:
            raise ValueError(_("`spread` must be at least 1s"))
        return v

    @model_validator(mode="after")
    def _window(self) -> QuietHoursSpec:
        if self.from_ == self.to:
            raise ValueError(_("quiet hours need `from` and `to` to differ"))
        start, end = (int(t[:2]) * 60 + int(t[3:]) for t in (self.from_, self.to))
        open_minutes = (start - end) % 1440  # minutes outside quiet hours
        if self.spread.total_seconds() > open_minutes * 60:
            raise ValueError(
                _(
                    "`spread` ({spread}) is longer than the hours outside quiet hours "
                    "({start}–{end}); deferred sends would fall back into quiet hours"
                ).format(spread=self.written("spread"), start=self.to, end=self.from_)
            )
        return self


class MessageCapSpec(Strict):
    """At most `count` direct messages per member per calendar `per`."""

    count: int = Field(ge=1, le=10_000, title=N_("Messages"), description=N_("How many messages"))
    per: Literal["day", "week", "month"] = Field(
        title=N_("Per"), description=N_("The calendar period: day, week or month")
    )


class MessagingSpec(Strict):
    """The messaging policy: quiet hours and a cap on direct messages."""

    quiet_hours: QuietHoursSpec | None = Field(
        default=None,
        title=N_("Quiet hours"),
        description=N_(
            "Hours when no direct messages are sent (in the member's time zone when "
            "known, else the community's)"
        ),
    )
    max_per_member: MessageCapSpec | None = Field(
        default=None,
        title=N_("Direct message cap"),
        description=N_(
            "Direct messages per member per calendar period (community time "
            "zone); `transactional: true` bypasses it"
        ),
    )
    when_capped: Literal["drop", "defer"] = Field(
        default="drop",
        title=N_("When capped"),
        description=N_("drop, or defer to the start of the next period"),
    )
    max_broadcasts: MessageCapSpec | None = Field(
        default=None,
        title=N_("Broadcast cap"),
        description=N_(
            "`broadcast` actions per community per calendar period; beyond "
            "it a broadcast is refused (the rule's `else:` runs)"
        ),
    )
    max_per_channel: MessageCapSpec | None = Field(
        default=None,
        title=N_("Channel cap"),
        description=N_(
            "Channel messages (`reply`, and `broadcast` to a channel) per "
            "channel per calendar period; beyond it the message is refused"
        ),
    )


class PostsSpec(Strict):
    """How long and how many posts the engine follows (features/posts.py)."""

    keep: Duration = Field(
        default="7d",
        validate_default=True,
        title=N_("Keep"),
        description=N_("Forget a post this long after it was first seen (default 7d)"),
    )
    max: int = Field(
        default=2_000,
        ge=1,
        le=100_000,
        title=N_("Maximum"),
        description=N_("At most this many posts per community; the oldest are forgotten"),
    )

    @field_validator("keep")
    @classmethod
    def _keep(cls, v: timedelta) -> timedelta:
        if not 60 <= v.total_seconds() <= 366 * 86400:
            raise ValueError(_("`keep` must be between 1m and 366d"))
        return v


class ExperimentSpec(Strict):
    """An experiment: variants with weights; a member's variant is a deterministic hash
    of (experiment, member) (features/experiments.py)."""

    description: str | None = Field(
        default=None,
        title=N_("Description"),
        description=N_("What the experiment tests, for the team"),
    )
    variants: dict[str, float] = Field(
        title=N_("Variants"),
        description=N_("Variant name -> weight (a share of members, relative to the others)"),
    )

    @field_validator("variants")
    @classmethod
    def _variants(cls, v: dict[str, float]) -> dict[str, float]:
        if len(v) < 2:
            raise ValueError(_("an experiment needs at least two variants"))
        for name, weight in v.items():
            check_name(N_("variant name"), name)
            if isinstance(weight, bool) or not weight > 0 or weight != weight:
                raise ValueError(
                    _("variant {name!r}: the weight must be a number above 0").format(name=name)
                )
            if weight > 1_000_000:
                raise ValueError(
                    _("variant {name!r}: the weight must be at most 1000000").format(name=name)
                )
        return v


class PlaybookSpec(Strict):
    """A community engagement and moderation playbook."""

    engage_rules: Literal[1] = Field(
        title=N_("Language version"), description=N_("The version of the playbook language: 1")
    )
    name: str | None = Field(
        default=None,
        title=N_("Playbook name"),
        description=N_("Stable playbook name used in action keys (defaults to the file name)"),
    )
    community: CommunitySpec = Field(
        default_factory=CommunitySpec,
        title=N_("Community"),
        description=N_("The community: its name, time zone and language"),
    )
    vars: dict[str, Any] = Field(
        default_factory=dict,
        title=N_("Variables"),
        description=N_("Values the rules read as vars.NAME (numbers, texts, lists, {file: ...})"),
    )
    templates: dict[str, str] = Field(
        default_factory=dict,
        title=N_("Templates"),
        description=N_("Named message texts, for `template:` of message actions"),
    )
    currencies: list[str | CurrencySpec] = Field(
        default_factory=_default_currencies,
        title=N_("Currencies"),
        description=N_(
            "The currencies members earn and spend; the first is the one `points:` means"
        ),
    )
    levels: LevelsSpec | None = Field(
        default=None,
        title=N_("Levels"),
        description=N_("Member levels reached by points or activity"),
    )
    moderation: ModerationSpec | None = Field(
        default=None,
        title=N_("Moderation"),
        description=N_("Strikes, who is exempt and who moderates"),
    )
    badges: dict[str, BadgeSpec] = Field(
        default_factory=dict, title=N_("Badges"), description=N_("Badges members earn, by name")
    )
    leaderboards: dict[str, LeaderboardSpec] = Field(
        default_factory=dict,
        title=N_("Leaderboards"),
        description=N_("Rankings per calendar period, by name"),
    )
    shop: ShopSpec | None = Field(
        default=None, title=N_("Shop"), description=N_("Items members buy with a currency")
    )
    draws: dict[str, DrawSpec] = Field(
        default_factory=dict,
        title=N_("Draws"),
        description=N_("Fair prize draws members enter, by name"),
    )
    rules: list[RuleSpec] = Field(
        default_factory=list,
        title=N_("Rules"),
        description=N_("The rules: on an event, if a condition holds, do actions"),
    )
    flows: dict[str, FlowSpec] = Field(
        default_factory=dict,
        title=N_("Flows"),
        description=N_("Multi-step journeys for members (onboarding...), by name"),
    )
    messaging: MessagingSpec | None = Field(
        default=None,
        title=N_("Messaging"),
        description=N_("Limits on messages: caps per member, per channel, quiet hours"),
    )
    posts: PostsSpec | None = Field(
        default=None,
        title=N_("Posts"),
        description=N_(
            "Posts as objects: how long and how many to keep (followed when "
            "the playbook reads `post` or has a post_reached trigger)"
        ),
    )
    segments: dict[str, Condition] = Field(
        default_factory=dict,
        title=N_("Segments"),
        description=N_("Named member conditions, for segment('name') and schedule audiences"),
    )
    experiments: dict[str, ExperimentSpec] = Field(
        default_factory=dict,
        title=N_("Experiments"),
        description=N_("A/B experiments: variants with weights, read with variant('name')"),
    )
    shadow: bool = Field(
        default=False,
        title=N_("Shadow mode"),
        description=N_(
            "Trial mode for the whole playbook: it runs in full against its "
            "own state, and every action it emits is recorded as a shadow "
            "action, never delivered"
        ),
    )
    activity_events: list[str] | None = Field(
        default=None,
        title=N_("Activity events"),
        description=N_(
            "Event types that count as activity for silence tracking "
            "(default: message.posted, reaction.added, content.shared, "
            "checkin)"
        ),
    )
    revoke_within: Duration = Field(
        default="90d",
        validate_default=True,
        title=N_("Revoke within"),
        description=N_(
            "How long after an award a `revoke` can still reverse it; older "
            "awards are final (default 90d)"
        ),
    )

    #: Sections of plugin features (``name -> validated model``), set by the loader.
    _sections: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def sections(self) -> dict[str, Any]:
        """The validated sections plugin features own (see docs/plugins.md)."""
        return self._sections

    @field_validator("segments")
    @classmethod
    def _segment_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            check_name(N_("segment name"), name)
        return v

    @field_validator("experiments")
    @classmethod
    def _experiment_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            check_name(N_("experiment name"), name)
        return v

    @field_validator("activity_events")
    @classmethod
    def _activity(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError(_("`activity_events` needs at least one event type"))
            for t in v:
                if not re.match(EVENT_TYPE, t):
                    raise ValueError(
                        _("{type!r} is not an event type (a dotted lower-case name)").format(type=t)
                    )
        return v

    @field_validator("revoke_within")
    @classmethod
    def _revoke_within(cls, v: timedelta) -> timedelta:
        if v.total_seconds() < 1:
            raise ValueError(_("`revoke_within` must be at least 1s"))
        return v

    @field_validator("badges")
    @classmethod
    def _badge_ids(cls, v: dict[str, BadgeSpec]) -> dict[str, BadgeSpec]:
        return _ids(N_("badge id"), v)

    @field_validator("leaderboards")
    @classmethod
    def _board_ids(cls, v: dict[str, LeaderboardSpec]) -> dict[str, LeaderboardSpec]:
        return _ids(N_("leaderboard id"), v)

    @field_validator("draws")
    @classmethod
    def _draw_ids(cls, v: dict[str, DrawSpec]) -> dict[str, DrawSpec]:
        return _ids(N_("draw id"), v)

    @field_validator("currencies")
    @classmethod
    def _currencies(cls, v: list[str | CurrencySpec]) -> list[str | CurrencySpec]:
        if not v:
            raise ValueError(_("`currencies` needs at least one currency"))
        names = [c if isinstance(c, str) else c.name for c in v]
        for name in names:
            check_name(N_("currency name"), name)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(
                _("`currencies` lists {names} twice").format(names=", ".join(map(repr, twice)))
            )
        return v

    @property
    def currency_names(self) -> list[str]:
        """The currencies' names, the default (first) one first."""
        return [c if isinstance(c, str) else c.name for c in self.currencies]

    def currency_scales(self) -> dict[str, int]:
        """``10 ** decimals`` of each currency with decimals: its minor units per unit."""
        return {
            c.name: 10**c.decimals
            for c in self.currencies
            if isinstance(c, CurrencySpec) and c.decimals
        }

    def person_badges(self) -> frozenset[str]:
        """The badges declared ``scope: person`` (docs/reference.md §4.3)."""
        return frozenset(b for b, spec in self.badges.items() if spec.scope == "person")

    def person_currencies(self) -> frozenset[str]:
        """The currencies declared ``scope: person`` (docs/reference.md §4.3)."""
        return frozenset(
            c.name for c in self.currencies if isinstance(c, CurrencySpec) and c.scope == "person"
        )

    def currency_expiry(self) -> dict[str, float]:
        """Seconds after which credits of each expiring currency expire."""
        return {
            c.name: c.expires_after.total_seconds()
            for c in self.currencies
            if isinstance(c, CurrencySpec) and c.expires_after is not None
        }
