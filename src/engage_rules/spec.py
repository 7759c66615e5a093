"""The playbook language as data (DESIGN.md §5): pydantic models, one per construct.

These models are the single source of truth for what a playbook may contain: the loader
validates against them (unknown keys are errors), and ``engage-rules schema`` prints the
JSON Schema derived from them.  Actions are validated separately, per action name, by
:mod:`engage_rules.action_specs`, so that plugins can add actions.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .durations import parse_duration

#: Sections of DESIGN.md that this version does not run yet.  A playbook using one fails
#: to load with a clear message rather than being silently ignored.
NOT_YET_SUPPORTED: dict[str, str] = {
    "flows": "flows",
    "messaging": "the messaging policy",
    "segments": "segments",
    "activity_events": "silence tracking",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _duration(v: Any) -> str:
    parse_duration(v)
    return str(v)


Duration = str  # validated by the validators below; written like 30s, 10m, 2h, 14d, 2w


class CommunitySpec(Strict):
    name: str = Field(default="community", description="Display name, available as community.name")
    timezone: str = Field(default="UTC", description="IANA time zone for calendar periods")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r} (use an IANA name such as Asia/Shanghai)"
            ) from None
        return v


class ExemptSpec(Strict):
    roles: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)


class ThresholdSpec(Strict):
    count: int = Field(ge=1, le=10_000)
    within: Duration

    _v = field_validator("within")(_duration)


Condition = str | list[Any] | dict[str, Any]


class RuleSpec(Strict):
    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    description: str | None = None
    on: str | list[str] = Field(description="An event type or a list of them")
    if_: Condition | None = Field(default=None, alias="if")
    priority: int = 0
    cooldown: Duration | None = None
    once: bool = False
    threshold: ThresholdSpec | None = None
    stop: bool = False
    exempt: ExemptSpec | None = None
    do: list[Any] = Field(default_factory=list)
    else_: list[Any] | None = Field(default=None, alias="else")

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, v: str | None) -> str | None:
        return None if v is None else _duration(v)

    @field_validator("on")
    @classmethod
    def _on(cls, v: str | list[str]) -> str | list[str]:
        types = [v] if isinstance(v, str) else v
        if not types:
            raise ValueError("`on` needs at least one event type")
        return v

    @model_validator(mode="after")
    def _has_actions(self) -> RuleSpec:
        if not self.do and not self.else_:
            raise ValueError(f"rule {self.id!r} has no actions (`do:`)")
        return self


class LadderStep(Strict):
    at: int = Field(ge=1)
    do: list[Any]


class StrikesSpec(Strict):
    expire_after: Duration | None = None
    ladder: list[LadderStep] = Field(default_factory=list)

    @field_validator("expire_after")
    @classmethod
    def _exp(cls, v: str | None) -> str | None:
        return None if v is None else _duration(v)


class ModerationSpec(Strict):
    exempt: ExemptSpec | None = None
    strikes: StrikesSpec | None = None


#: Badge and leaderboard ids: like rule ids (they appear in action rules, `badges.<id>`).
SECTION_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


def _ids(kind: str, v: dict[str, Any]) -> dict[str, Any]:
    for name in v:
        if not re.match(SECTION_ID, name) or len(name) > 128:
            raise ValueError(
                f"{kind} id {name!r} must start with a letter or digit and use only "
                "letters, digits, `_`, `.`, `:` and `-`"
            )
    return v


class BadgeTier(Strict):
    at: int | float = Field(description="The measure at which this tier is reached")
    name: str = Field(min_length=1)


class BadgeSpec(Strict):
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

    @field_validator("revoke_after")
    @classmethod
    def _revoke_after(cls, v: str | None) -> str | None:
        return None if v is None else _duration(v)

    @model_validator(mode="after")
    def _tiered(self) -> BadgeSpec:
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
                raise ValueError(
                    f"rank {step.last} is beyond the leaderboard's size ({self.size})"
                )
            for r in range(step.first, step.last + 1):
                if r in taken:
                    raise ValueError(f"rank {r} is in two `on_close` steps")
                taken[r] = step.first
        return self


class CurrencySpec(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    expires_after: Duration | None = Field(
        default=None, description="Credits expire this long after they are earned (365d)"
    )

    @field_validator("expires_after")
    @classmethod
    def _exp(cls, v: str | None) -> str | None:
        return None if v is None else _duration(v)


class LevelStepSpec(Strict):
    level: int = Field(ge=0, description="The level number (member.level)")
    name: str = Field(min_length=1, description="The level name (member.level_name)")
    at: int | float = Field(ge=0, description="The measure at which the level is reached")


class DemotionSpec(Strict):
    below: float = Field(
        default=1.0, gt=0, le=1,
        description="Demote when the measure falls under this share of the level's `at`",
    )
    grace: Duration | None = Field(
        default=None, description="No demotion within this long of a promotion"
    )

    @field_validator("grace")
    @classmethod
    def _grace(cls, v: str | None) -> str | None:
        return None if v is None else _duration(v)


class LevelsSpec(Strict):
    by: str = Field(
        min_length=1,
        description="A currency (lifetime earned) or an expression over the member's counts",
    )
    ladder: list[LevelStepSpec] = Field(min_length=1)
    demotion: DemotionSpec | None = None


def _default_currencies() -> list[str | CurrencySpec]:
    return ["points"]


class PlaybookSpec(Strict):
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
    rules: list[RuleSpec] = Field(default_factory=list)

    @field_validator("badges")
    @classmethod
    def _badge_ids(cls, v: dict[str, BadgeSpec]) -> dict[str, BadgeSpec]:
        return _ids("badge", v)

    @field_validator("leaderboards")
    @classmethod
    def _board_ids(cls, v: dict[str, LeaderboardSpec]) -> dict[str, LeaderboardSpec]:
        return _ids("leaderboard", v)

    @field_validator("currencies")
    @classmethod
    def _currencies(cls, v: list[str | CurrencySpec]) -> list[str | CurrencySpec]:
        if not v:
            raise ValueError("`currencies` needs at least one currency")
        names = [c if isinstance(c, str) else c.name for c in v]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"`currencies` lists {', '.join(map(repr, twice))} twice")
        return v

    @property
    def currency_names(self) -> list[str]:
        """The currencies' names, the default (first) one first."""
        return [c if isinstance(c, str) else c.name for c in self.currencies]

    def currency_expiry(self) -> dict[str, float]:
        """Seconds after which credits of each expiring currency expire."""
        return {
            c.name: parse_duration(c.expires_after).total_seconds()
            for c in self.currencies
            if isinstance(c, CurrencySpec) and c.expires_after
        }
