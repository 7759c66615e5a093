"""What the engine decided for one event or timer: the unit a store commits atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .events import Event
from .state import LedgerEntry, Timer


@dataclass(slots=True)
class ActionRecord:
    """One emitted action, in the DESIGN.md §6 output shape."""

    key: str
    type: str
    member: str | None
    rule: str
    cause: str
    at: datetime
    params: dict[str, Any]
    community: str = "default"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "type": self.type,
            "member": self.member,
            "rule": self.rule,
            "cause": self.cause,
            "at": self.at.isoformat(),
            "params": self.params,
            "community": self.community,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ActionRecord:
        return cls(
            key=d["key"],
            type=d["type"],
            member=d["member"],
            rule=d["rule"],
            cause=d["cause"],
            at=datetime.fromisoformat(d["at"]),
            params=d["params"],
            community=d.get("community", "default"),
        )


@dataclass(slots=True)
class RuleError:
    """A rule that failed for one event (the stream goes on)."""

    rule: str
    cause: str
    message: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "cause": self.cause, "message": self.message,
                "at": self.at.isoformat()}


@dataclass(slots=True)
class Decision:
    """Everything one event (or fired timer) changed.

    The engine mutates :class:`~engage_rules.state.State` in place while deciding and
    lists here what it touched, so a store can persist exactly that, atomically:
    the members in ``touched`` (their current state), the new ledger entries, the
    actions (the outbox), timers added and fired, and the cause id as processed.
    """

    cause: str  # the event id or timer id; the idempotency key
    at: datetime  # the instant the decision was taken (the engine clock)
    event: Event | None = None
    is_timer: bool = False
    actions: list[ActionRecord] = field(default_factory=list)
    ledger: list[tuple[str, str, LedgerEntry]] = field(default_factory=list)
    touched: set[tuple[str, str]] = field(default_factory=set)  # (community, member)
    communities: set[str] = field(default_factory=set)  # community-level data changed
    timers_added: list[Timer] = field(default_factory=list)
    timers_fired: list[str] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)  # moderation audit log
    review: list[dict[str, Any]] = field(default_factory=list)  # flag_for_review items
