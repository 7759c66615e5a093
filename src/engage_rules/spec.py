"""The playbook language as data (DESIGN.md §5): pydantic models, one per construct.

These models are the single source of truth for what a playbook may contain: the loader
validates against them (unknown keys are errors), and ``engage-rules schema`` prints the
JSON Schema derived from them.  Actions are validated separately, per action name, by
:mod:`engage_rules.action_specs`, so that plugins can add actions.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .durations import parse_duration

#: Sections of DESIGN.md that this version does not run yet.  A playbook using one fails
#: to load with a clear message rather than being silently ignored.
NOT_YET_SUPPORTED: dict[str, str] = {
    "levels": "level ladders",
    "badges": "badge definitions",
    "leaderboards": "leaderboards",
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


class ModeratorsSpec(Strict):
    roles: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)


#: Roles exempt from moderation when a playbook does not set `moderation.exempt`.
DEFAULT_MODERATOR_ROLES = ("admin", "moderator")


class ModerationSpec(Strict):
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


class PlaybookSpec(Strict):
    engage_rules: Literal[1] = Field(description="Language version")
    name: str | None = Field(
        default=None,
        description="Stable playbook name used in action keys (defaults to the file name)",
    )
    community: CommunitySpec = Field(default_factory=CommunitySpec)
    vars: dict[str, Any] = Field(default_factory=dict)
    templates: dict[str, str] = Field(default_factory=dict)
    currencies: list[str] = Field(default_factory=lambda: ["points"])
    moderation: ModerationSpec | None = None
    rules: list[RuleSpec] = Field(default_factory=list)

    @field_validator("currencies")
    @classmethod
    def _currencies(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("`currencies` needs at least one currency")
        if len(set(v)) != len(v):
            raise ValueError("`currencies` lists a currency twice")
        return v
