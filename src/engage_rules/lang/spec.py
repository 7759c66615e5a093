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
from ..i18n import _
from .names import EVENT_TYPE as _EVENT_TYPE
from .names import MAX_NAME, NAME, check_name, event_type_problem


class Strict(BaseModel):
    """A section of the playbook; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CommunitySpec(Strict):
    """The community: its display name and time zone."""

    name: str = Field(default="community", description="Display name, available as community.name")
    timezone: str = Field(default="UTC", description="IANA time zone for calendar periods")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        problem = zone_problem(v)
        if problem is not None or zone(v) is None:
            raise ValueError(problem or f"time zone {v!r} cannot be loaded")
        return v


class ExemptSpec(Strict):
    """Who is exempt: members with these roles, these members, these channels."""

    roles: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)


class ThresholdSpec(Strict):
    """Fire when the member's matching events within the window reach `count`."""

    count: int = Field(ge=1, le=10_000)
    within: Duration


Condition = str | list[Any] | dict[str, Any]

EVENT_TYPE = _EVENT_TYPE


# -- trigger maps (docs/reference.md §5.6): `on:` as a mapping ------------------------------------
class SilenceFactorSpec(Strict):
    """A per-member silence threshold: ``factor`` times the member's typical gap,
    clamped to [min, max] (max also applies while the typical gap is unknown)."""

    factor: float = Field(gt=0, le=1000)
    min: Duration
    max: Duration

    @model_validator(mode="after")
    def _order(self) -> SilenceFactorSpec:
        if self.min > self.max:
            raise ValueError("`min` is longer than `max`")
        return self


class SilentForTrigger(Strict):
    """``{silent_for: 14d}``: once when the member has had no activity for that long."""

    silent_for: Annotated[
        Annotated[Duration, Tag("duration")] | Annotated[SilenceFactorSpec, Tag("factor")],
        Discriminator(
            lambda v: "factor" if isinstance(v, dict | SilenceFactorSpec) else "duration"
        ),
    ] = Field(description="A duration (14d), or {factor, min, max} of the member's typical gap")


class AfterTrigger(Strict):
    """``{after: member.joined, delay: 3d}``: the given time after each such event."""

    after: str = Field(pattern=EVENT_TYPE)
    delay: Duration


class CronTrigger(Strict):
    """``{cron: "0 20 * * FRI"}``: a schedule in the community time zone (schedules.py)."""

    cron: str = Field(
        description="Five cron fields (minute hour day month weekday) or a "
        "macro such as @daily, in the community time zone"
    )
    catch_up: Literal["one", "all", "skip"] = Field(
        default="one",
        description="After real downtime (Engine.resume): fire the latest missed slot "
        "once (one), every missed slot (all) or none (skip)",
    )
    audience: str | None = Field(
        default=None,
        description="A segment: run the rule once per member of it (default: once for "
        "the community)",
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        check_cron(v)
        return v


class PostReachedSpec(Strict):
    """What a post must reach (all of the given counts) for ``on: {post_reached: ...}``."""

    reactions: int | None = Field(default=None, ge=1, le=1_000_000)
    replies: int | None = Field(default=None, ge=1, le=1_000_000)
    shares: int | None = Field(default=None, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _some(self) -> PostReachedSpec:
        if self.reactions is None and self.replies is None and self.shares is None:
            raise ValueError("`post_reached` needs at least one of reactions, replies, shares")
        return self


class PostReachedTrigger(Strict):
    """``{post_reached: {reactions: 10}}``: once per post, when the post first reaches
    the counts (features/posts.py); the rule's member is the post's author."""

    post_reached: PostReachedSpec


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

    id: str = Field(min_length=1, max_length=MAX_NAME, pattern=NAME)
    description: str | None = None
    on: str | list[str] | Trigger = Field(
        description="An event type, a list of them, or a trigger map (silent_for, after, "
        "cron, post_reached)"
    )
    if_: Condition | None = Field(default=None, alias="if")
    priority: int = 0
    cooldown: Duration | None = None
    cooldown_per: Literal["member", "channel", "community"] = Field(
        default="member",
        description="Whose cooldown `cooldown` is: the member's (default), the event's "
        "channel's or the whole community's",
    )
    once: bool = False
    threshold: ThresholdSpec | None = None
    stop: bool = False
    exempt: ExemptSpec | None = None
    do: list[Any] = Field(default_factory=list)
    else_: list[Any] | None = Field(default=None, alias="else")
    refused: list[Any] | None = Field(
        default=None,
        description="Actions run instead of `else:` when an action of `do:` is refused "
        "(a short `spend`, an item out of stock); `refusal.reason` says why",
    )
    shadow: bool = Field(
        default=False,
        description="Trial mode: evaluate the rule and record what its actions would do "
        "(shadow actions), but carry none out and deliver nothing",
    )
    edits: bool | None = Field(
        default=None,
        description="Whether a rule on message.posted also sees message.edited (an edited "
        "message); default: yes for rules taking moderation actions, no for others",
    )

    @field_validator("on")
    @classmethod
    def _on(cls, v: Any) -> Any:
        if isinstance(v, Strict):
            return v
        types = [v] if isinstance(v, str) else v
        if not types:
            raise ValueError("`on` needs at least one event type")
        for t in types:
            problem = event_type_problem(t)
            if problem is not None:
                raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _has_actions(self) -> RuleSpec:
        if not self.do and not self.else_:
            raise ValueError(f"rule {self.id!r} has no actions (`do:`)")
        return self

    @model_validator(mode="after")
    def _cooldown_per(self) -> RuleSpec:
        if self.cooldown_per != "member" and self.cooldown is None:
            raise ValueError(f"rule {self.id!r}: `cooldown_per` needs a `cooldown`")
        return self


class LadderStep(Strict):
    """A step of the strike ladder: the actions run at `at` active strikes."""

    at: int = Field(ge=1)
    do: list[Any]


class StrikesSpec(Strict):
    """Strikes: when they expire, and the ladder of what each count does."""

    expire_after: Duration | None = None
    ladder: list[LadderStep] = Field(default_factory=list)


class ModeratorsSpec(Strict):
    """Who may send `moderation.strike` and `moderation.strike_reset` events."""

    roles: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)


#: Roles exempt from moderation when a playbook does not set `moderation.exempt`.
DEFAULT_MODERATOR_ROLES = ("admin", "moderator")
#: Events a moderator sends to act on a member (handled when the playbook has
#: `moderation:`): data.member is the member, data.reason the reason.
MODERATOR_EVENTS = frozenset({"moderation.strike", "moderation.strike_reset"})


class ModerationSpec(Strict):
    """The moderation section: exemptions, moderators and strikes."""

    exempt: ExemptSpec | None = Field(
        default=None,
        description="Members never subject to rules with moderation actions, and never "
        "given strikes (default: roles admin and moderator; `{}` for nobody)",
    )
    moderators: ModeratorsSpec | None = Field(
        default=None,
        description="Who may strike members and reset strikes with moderation.strike and "
        "moderation.strike_reset events (default: the roles and members of "
        "`exempt`)",
    )
    strikes: StrikesSpec | None = None


def _ids(kind: str, v: dict[str, Any]) -> dict[str, Any]:
    """Badge and leaderboard ids: names like rule ids (lang/names.py)."""
    for name in v:
        check_name(f"{kind} id", name)
    return v


class BadgeTier(Strict):
    """A tier of a tiered badge."""

    at: int | float = Field(description="The measure at which this tier is reached")
    name: str = Field(min_length=1)


class BadgeSpec(Strict):
    """A badge: granted by rules or by a measure, optionally in tiers."""

    name: str = Field(min_length=1, description="Display name")
    description: str | None = None
    title: bool = Field(default=False, description="Also an honour title (member.titles)")
    revoke_after: Duration | None = Field(
        default=None, description="Revoked this long after its latest grant (re-earned titles)"
    )
    tiers: list[BadgeTier] | None = Field(
        default=None, description="Tiers granted and upgraded automatically as `counts` grows"
    )
    counts: str | None = Field(default=None, description="The expression tiers measure")
    scope: Literal["group", "person"] = Field(
        default="group",
        description="`group`: each account holds it in its group; `person`: held by the "
        "member's person, shown in every group of the person (docs/reference.md §4.3)",
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
                raise ValueError("`tiers` needs at least one tier")
            if self.counts is None:
                raise ValueError(
                    "a tiered badge needs `counts:`, the expression its tiers measure, "
                    "e.g. \"count('reaction.added')\""
                )
            for lower, higher in zip(self.tiers, self.tiers[1:], strict=False):
                if higher.at <= lower.at:
                    raise ValueError(
                        f"tier {higher.name!r} (at {higher.at}) must be above tier "
                        f"{lower.name!r} (at {lower.at}): tiers' `at` must increase"
                    )
            if self.revoke_after is not None:
                raise ValueError(
                    "a tiered badge follows its measure and cannot have `revoke_after`"
                )
        elif self.counts is not None:
            raise ValueError("`counts:` measures a tiered badge: add `tiers:`")
        return self


class OnCloseStep(Strict):
    """The actions run, when a period closes, for the members at a rank or range of ranks."""

    rank: int | list[int] = Field(description="A rank, or [first, last] for a range of ranks")
    do: list[Any]

    @field_validator("rank")
    @classmethod
    def _rank(cls, v: int | list[int]) -> int | list[int]:
        ranks = [v] if isinstance(v, int) else v
        if isinstance(v, list) and len(v) != 2:
            raise ValueError("`rank` is a rank such as 1, or a range such as [2, 10]")
        if any(r < 1 for r in ranks):
            raise ValueError("ranks start at 1")
        if ranks[-1] < ranks[0]:
            raise ValueError(f"the range [{ranks[0]}, {ranks[-1]}] is empty: write [low, high]")
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
        description="A currency (its amount earned in the period) or an expression"
    )
    period: Literal["day", "week", "month"] = Field(
        description="Calendar periods in the community time zone (weeks start on Monday)"
    )
    size: int = Field(default=10, ge=1, le=1000, description="How many members are ranked")
    tie_break: Literal["earliest"] = Field(
        default="earliest", description="Who reached the score first ranks higher"
    )
    on_close: list[OnCloseStep] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ranks(self) -> LeaderboardSpec:
        taken: dict[int, int] = {}
        for step in self.on_close:
            if step.last > self.size:
                raise ValueError(f"rank {step.last} is beyond the leaderboard's size ({self.size})")
            for r in range(step.first, step.last + 1):
                if r in taken:
                    raise ValueError(f"rank {r} is in two `on_close` steps")
                taken[r] = step.first
        return self


class CurrencySpec(Strict):
    """A currency, whose credits may expire."""

    name: str = Field(min_length=1, max_length=MAX_NAME, pattern=NAME)
    expires_after: Duration | None = Field(
        default=None, description="Credits expire this long after they are earned (365d)"
    )
    decimals: int = Field(
        default=0,
        ge=0,
        le=6,
        description="Decimal places of its amounts (2: 199.90); kept exactly, as whole minor units",
    )
    scope: Literal["group", "person"] = Field(
        default="group",
        description="`group`: each group (community) keeps its own balance; `person`: one "
        "balance shared by every linked account of a person, across groups and platforms",
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
        default=None, ge=1, le=100_000, description="How many codes to generate"
    )
    prefix: str = Field(
        default="", max_length=32, description="What generated codes start with (MUG-)"
    )
    var: str | None = Field(
        default=None,
        description="A `vars` entry holding the codes (a list, or {file: codes.txt})",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ShopCodesSpec:
        if (self.generate is None) == (self.var is None):
            raise ValueError("give either `generate: N` or `var: NAME` (a list of codes)")
        return self


class ShopItemSpec(Strict):
    """An item of the shop: what it costs, how many there are, how many one member may
    have, and the codes it hands out."""

    name: str | None = Field(default=None, description="What the item is called")
    price: int | float = Field(
        ge=0, le=10**12, description="Its price, in `currency` (decimals if it has them)"
    )
    currency: str | None = Field(
        default=None, description="The currency it is paid in (default: the first)"
    )
    stock: int | None = Field(
        default=None,
        ge=0,
        description="How many exist, community-wide (default: unlimited, or as many as "
        "it has codes)",
    )
    per_member: int | None = Field(
        default=None, ge=1, description="How many one member may redeem in all"
    )
    codes: ShopCodesSpec | None = None


class ShopSpec(Strict):
    """The points shop: items members redeem with the `redeem` action."""

    items: dict[str, ShopItemSpec] = Field(min_length=1)

    @field_validator("items")
    @classmethod
    def _item_ids(cls, v: dict[str, ShopItemSpec]) -> dict[str, ShopItemSpec]:
        return _ids("shop item", v)


class DrawSpec(Strict):
    """A draw: `enter_draw` collects entrants, and the draw picks winners uniformly (or
    by their weights) at the end of each period, or when a `run_draw` action runs."""

    winners: int = Field(ge=1, le=1000, description="How many winners each draw picks")
    period: Literal["day", "week", "month"] | None = Field(
        default=None,
        description="Entrants per calendar period, drawn when it ends (community time "
        "zone); without it, one pool drawn by `run_draw`",
    )
    seed: str | None = Field(
        default=None,
        max_length=200,
        description="Published seed: the same seed and entrants draw the same winners "
        "(default: the playbook name)",
    )
    do: list[Any] = Field(default_factory=list, description="Actions for each winner")


class LevelStepSpec(Strict):
    """A level of the ladder."""

    level: int = Field(ge=0, description="The level number (member.level)")
    name: str = Field(min_length=1, description="The level name (member.level_name)")
    at: int | float = Field(ge=0, description="The measure at which the level is reached")


class DemotionSpec(Strict):
    """When a member goes down a level."""

    below: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Demote when the measure falls under this share of the level's `at`",
    )
    grace: Duration | None = Field(
        default=None, description="No demotion within this long of a promotion"
    )


class LevelsSpec(Strict):
    """The level ladder and what it measures."""

    by: str = Field(
        min_length=1,
        description="A currency (lifetime earned) or an expression over the member's counts",
    )
    ladder: list[LevelStepSpec] = Field(min_length=1)
    demotion: DemotionSpec | None = None
    scope: Literal["group", "person"] = Field(
        default="group",
        description="`group`: each account has its level in its group; `person`: one level "
        "per person, measured by a person-wide currency (docs/reference.md §4.3)",
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

    event: str = Field(pattern=EVENT_TYPE, description="Reaching this event completes the flow")
    if_: Condition | None = Field(
        default=None, alias="if", description="Only when this condition holds for the event"
    )


class FlowSpec(Strict):
    """A multi-step journey for one member.  ``steps`` are actions and the step forms
    ``wait``, ``wait_for`` (+ ``on_timeout``), ``if``/``then``/``else`` and ``exit``;
    the loader checks them (engage_rules.flow_loader)."""

    description: str | None = None
    exit_on: list[str] = Field(default_factory=list, description="Event types that end the flow")
    goal: GoalSpec | None = None
    steps: list[Any] = Field(min_length=1)

    @field_validator("exit_on")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        for t in v:
            if not re.match(EVENT_TYPE, t):
                raise ValueError(f"{t!r} is not an event type (a dotted lower-case name)")
        return v


# -- messaging policy (docs/reference.md §5.8) and segments (§5.10) ------------------------------
_CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class QuietHoursSpec(Strict, WrittenDurations):
    """Hours when direct messages wait (`defer`) or are dropped, in the member's time zone
    (``member.attrs.timezone``) when it is a valid IANA name, else the community's."""

    from_: str = Field(alias="from", pattern=_CLOCK_TIME, description="Start, HH:MM")
    to: str = Field(pattern=_CLOCK_TIME, description="End, HH:MM (may be past midnight)")
    mode: Literal["defer", "drop"] = "defer"
    spread: Duration = Field(
        default="1h",
        validate_default=True,
        description="Deferred sends are released over at most this long after `to`",
    )

    @field_validator("spread")
    @classmethod
    def _spread(cls, v: timedelta) -> timedelta:
        if v.total_seconds() < 1:
            raise ValueError("`spread` must be at least 1s")
        return v

    @model_validator(mode="after")
    def _window(self) -> QuietHoursSpec:
        if self.from_ == self.to:
            raise ValueError("quiet hours need `from` and `to` to differ")
        start, end = (int(t[:2]) * 60 + int(t[3:]) for t in (self.from_, self.to))
        open_minutes = (start - end) % 1440  # minutes outside quiet hours
        if self.spread.total_seconds() > open_minutes * 60:
            raise ValueError(
                f"`spread` ({self.written('spread')}) is longer than the hours outside quiet hours "
                f"({self.to}–{self.from_}); deferred sends would fall back into quiet hours"
            )
        return self


class MessageCapSpec(Strict):
    """At most `count` direct messages per member per calendar `per`."""

    count: int = Field(ge=1, le=10_000)
    per: Literal["day", "week", "month"]


class MessagingSpec(Strict):
    """The messaging policy: quiet hours and a cap on direct messages."""

    quiet_hours: QuietHoursSpec | None = None
    max_per_member: MessageCapSpec | None = Field(
        default=None,
        description="Direct messages per member per calendar period "
        "(community time zone); `transactional: true` bypasses it",
    )
    when_capped: Literal["drop", "defer"] = Field(
        default="drop", description="drop, or defer to the start of the next period"
    )
    max_broadcasts: MessageCapSpec | None = Field(
        default=None,
        description="`broadcast` actions per community per calendar period; beyond it "
        "a broadcast is refused (the rule's `else:` runs)",
    )
    max_per_channel: MessageCapSpec | None = Field(
        default=None,
        description="Channel messages (`reply`, and `broadcast` to a channel) per "
        "channel per calendar period; beyond it the message is refused",
    )


class PostsSpec(Strict):
    """How long and how many posts the engine follows (features/posts.py)."""

    keep: Duration = Field(
        default="7d",
        validate_default=True,
        description="Forget a post this long after it was first seen (default 7d)",
    )
    max: int = Field(
        default=2_000,
        ge=1,
        le=100_000,
        description="At most this many posts per community; the oldest are forgotten",
    )

    @field_validator("keep")
    @classmethod
    def _keep(cls, v: timedelta) -> timedelta:
        if not 60 <= v.total_seconds() <= 366 * 86400:
            raise ValueError("`keep` must be between 1m and 366d")
        return v


class ExperimentSpec(Strict):
    """An experiment: variants with weights; a member's variant is a deterministic hash
    of (experiment, member) (features/experiments.py)."""

    description: str | None = None
    variants: dict[str, float] = Field(
        description="Variant name -> weight (a share of members, relative to the others)"
    )

    @field_validator("variants")
    @classmethod
    def _variants(cls, v: dict[str, float]) -> dict[str, float]:
        if len(v) < 2:
            raise ValueError("an experiment needs at least two variants")
        for name, weight in v.items():
            check_name("variant name", name)
            if isinstance(weight, bool) or not weight > 0 or weight != weight:
                raise ValueError(f"variant {name!r}: the weight must be a number above 0")
            if weight > 1_000_000:
                raise ValueError(f"variant {name!r}: the weight must be at most 1000000")
        return v


class PlaybookSpec(Strict):
    """A community engagement and moderation playbook."""

    engage_rules: Literal[1] = Field(description="Language version")
    name: str | None = Field(
        default=None,
        description="Stable playbook name used in action keys (defaults to the file name)",
    )
    community: CommunitySpec = Field(default_factory=CommunitySpec)
    vars: dict[str, Any] = Field(default_factory=dict)
    templates: dict[str, str] = Field(default_factory=dict)
    currencies: list[str | CurrencySpec] = Field(default_factory=_default_currencies)
    levels: LevelsSpec | None = None
    moderation: ModerationSpec | None = None
    badges: dict[str, BadgeSpec] = Field(default_factory=dict)
    leaderboards: dict[str, LeaderboardSpec] = Field(default_factory=dict)
    shop: ShopSpec | None = None
    draws: dict[str, DrawSpec] = Field(default_factory=dict)
    rules: list[RuleSpec] = Field(default_factory=list)
    flows: dict[str, FlowSpec] = Field(default_factory=dict)
    messaging: MessagingSpec | None = None
    posts: PostsSpec | None = Field(
        default=None,
        description="Posts as objects: how long and how many to keep (followed when the "
        "playbook reads `post` or has a post_reached trigger)",
    )
    segments: dict[str, Condition] = Field(
        default_factory=dict,
        description="Named member conditions, for segment('name') and schedule audiences",
    )
    experiments: dict[str, ExperimentSpec] = Field(
        default_factory=dict,
        description="A/B experiments: variants with weights, read with variant('name')",
    )
    shadow: bool = Field(
        default=False,
        description="Trial mode for the whole playbook: it runs in full against its own "
        "state, and every action it emits is recorded as a shadow action, "
        "never delivered",
    )
    activity_events: list[str] | None = Field(
        default=None,
        description="Event types that count as activity for silence tracking (default: "
        "message.posted, reaction.added, content.shared, checkin)",
    )
    revoke_within: Duration = Field(
        default="90d",
        validate_default=True,
        description="How long after an award a `revoke` can still reverse it; older "
        "awards are final (default 90d)",
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
            check_name("segment name", name)
        return v

    @field_validator("experiments")
    @classmethod
    def _experiment_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            check_name("experiment name", name)
        return v

    @field_validator("activity_events")
    @classmethod
    def _activity(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("`activity_events` needs at least one event type")
            for t in v:
                if not re.match(EVENT_TYPE, t):
                    raise ValueError(f"{t!r} is not an event type (a dotted lower-case name)")
        return v

    @field_validator("revoke_within")
    @classmethod
    def _revoke_within(cls, v: timedelta) -> timedelta:
        if v.total_seconds() < 1:
            raise ValueError("`revoke_within` must be at least 1s")
        return v

    @field_validator("badges")
    @classmethod
    def _badge_ids(cls, v: dict[str, BadgeSpec]) -> dict[str, BadgeSpec]:
        return _ids("badge", v)

    @field_validator("leaderboards")
    @classmethod
    def _board_ids(cls, v: dict[str, LeaderboardSpec]) -> dict[str, LeaderboardSpec]:
        return _ids("leaderboard", v)

    @field_validator("draws")
    @classmethod
    def _draw_ids(cls, v: dict[str, DrawSpec]) -> dict[str, DrawSpec]:
        return _ids("draw", v)

    @field_validator("currencies")
    @classmethod
    def _currencies(cls, v: list[str | CurrencySpec]) -> list[str | CurrencySpec]:
        if not v:
            raise ValueError("`currencies` needs at least one currency")
        names = [c if isinstance(c, str) else c.name for c in v]
        for name in names:
            check_name("currency name", name)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"`currencies` lists {', '.join(map(repr, twice))} twice")
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
