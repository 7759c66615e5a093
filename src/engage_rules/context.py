"""What expressions and templates see while one rule is evaluated (DESIGN.md §5.2).

An :class:`EvalContext` is built once per (event, member) and shared by every rule that
event reaches.  Compiled conditions receive it as their only argument and read the
fields directly (``c.event``, ``c.m``, ``c.now``...), so no dictionaries are built on the
hot path.  Templates get read-only *views* of the same data (:meth:`EvalContext.template_vars`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .events import Event
from .state import MemberState

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

#: Names an expression may use at the top level.
ROOT_NAMES = ("event", "member", "community", "vars", "now", "match")

#: Attributes of ``event``.
EVENT_FIELDS = ("id", "type", "at", "data", "member", "channel", "platform", "community")
#: Attributes of ``event.member``.
EVENT_MEMBER_FIELDS = ("id", "name", "roles", "created_at")
#: Attributes of ``member`` (the member the rule acts for).
MEMBER_FIELDS = (
    "id",
    "name",
    "roles",
    "points",
    "balances",
    "level",
    "level_name",
    "badges",
    "titles",
    "tags",
    "strikes",
    "status",
    "opted_out",
    "joined_at",
    "last_active_at",
    "account_age",
    "silent_for",
    "typical_gap",
    "attrs",
)
#: Attributes of ``community``.
COMMUNITY_FIELDS = ("id", "name", "timezone")


class EvalContext:
    """The evaluation scope of one event for one member."""

    __slots__ = (
        "community",
        "d",
        "default_currency",
        "engine",
        "event",
        "m",
        "match",
        "now",
        "now_ts",
        "queue",
        "rule",
        "tz",
        "vars",
    )

    def __init__(
        self,
        event: Event,
        member: MemberState | None,
        now: datetime,
        now_ts: float,
        community: dict[str, Any],
        vars: dict[str, Any],
        default_currency: str,
        tz: ZoneInfo,
        engine: Any = None,
        d: Any = None,
        queue: Any = None,
        rule: str = "",
    ) -> None:
        self.event = event
        self.m = member
        self.now = now
        self.now_ts = now_ts
        self.community = community
        self.vars = vars
        self.default_currency = default_currency
        self.tz = tz
        #: What the last detector function that found something matched (for `{{ match }}`).
        self.match: Any = ""
        # While actions run (engine_actions.Run): the engine, the decision being built,
        # the queue of internal events and the rule whose actions these are.
        self.engine = engine
        self.d = d
        self.queue = queue
        self.rule = rule

    # -- member attribute accessors (used by compiled code and by MemberView) -------------
    def member_attr(self, name: str) -> Any:
        m = self.m
        if m is None:
            return None
        if name == "points":
            return m.balances.get(self.default_currency, 0)
        if name == "balances":
            return dict(m.balances)
        if name == "badges":
            return sorted(m.badges)
        if name == "titles":
            return list(m.titles)
        if name == "tags":
            return m.tag_names(self.now)
        if name == "strikes":
            return m.active_strikes(self.now)
        if name == "status":
            return m.status_at(self.now)
        if name == "roles":
            return list(m.roles)
        if name == "account_age":
            return self.now - m.created_at if m.created_at is not None else None
        if name == "silent_for":
            last = m.last_active_at or m.joined_at
            return self.now - last if last is not None else timedelta(0)
        if name == "typical_gap":
            from .silence import typical_gap

            return typical_gap(m)
        if name == "name":
            return m.name or m.id
        if name in ("level", "level_name") and m.level is None:
            # Not placed on the ladder yet (that happens once its first event is
            # decided): the rules of that event see the lowest step.
            ladder = getattr(getattr(self.engine, "playbook", None), "levels", None)
            if ladder is not None:
                first = ladder.steps[0]
                return first.level if name == "level" else first.name
            return None
        if name in ("id", "level", "level_name", "opted_out", "joined_at",
                    "last_active_at", "attrs"):
            return getattr(m, name)
        raise AttributeError(name)

    def template_vars(self) -> dict[str, Any]:
        """The names a message template renders with."""
        return {
            "event": EventView(self.event),
            "member": MemberView(self),
            "community": self.community,
            "vars": self.vars,
            "now": self.now,
            "match": self.match,
        }


class MemberView:
    """Read-only attribute view of the member for templates (only MEMBER_FIELDS)."""

    __slots__ = ("_c",)

    def __init__(self, c: EvalContext) -> None:
        self._c = c

    def __getattr__(self, name: str) -> Any:
        if name in MEMBER_FIELDS:
            return self._c.member_attr(name)
        raise AttributeError(name)

    def __str__(self) -> str:
        m = self._c.m
        return (m.name or m.id) if m is not None else ""


class EventView:
    """Read-only attribute view of the event for templates (only EVENT_FIELDS)."""

    __slots__ = ("_e",)

    def __init__(self, e: Event) -> None:
        self._e = e

    def __getattr__(self, name: str) -> Any:
        if name == "member":
            mem = self._e.member
            if mem is None:
                return None
            return {"id": mem.id, "name": mem.name, "roles": list(mem.roles),
                    "created_at": mem.created_at}
        if name in EVENT_FIELDS:
            return getattr(self._e, name)
        raise AttributeError(name)
