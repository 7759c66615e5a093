"""What expressions and templates see while one rule is evaluated (docs/reference.md §5.2).

An :class:`EvalContext` is built once per (event, member) and shared by every rule that
event reaches.  Compiled conditions receive it as their only argument and read the
fields directly (``c.event``, ``c.m``, ``c.now``...), so no dictionaries are built on the
hot path.  Templates get read-only *views* of the same data (:meth:`EvalContext.template_vars`).
It holds data only: the playbook's expression environment (``env``) and nothing of the
engine; actions run in :class:`engage_rules.engine.scope.ActionScope`, which adds what
they need.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..model.events import Event
from ..model.persons import holder
from ..model.state import MemberState, State
from .env import ExprEnv
from .member_fields import ACCESSORS, MEMBER_FIELD_NAMES
from .posts import post_view

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

#: Names an expression may use at the top level.
ROOT_NAMES = ("event", "member", "community", "vars", "now", "match", "post", "refusal")

#: Attributes of ``event``.
EVENT_FIELDS = ("id", "type", "at", "data", "member", "channel", "platform", "community")
#: Attributes of ``event.member``.
EVENT_MEMBER_FIELDS = ("id", "name", "roles", "created_at")
#: Attributes of ``member`` (the member the rule acts for): see member_fields.py.
MEMBER_FIELDS = MEMBER_FIELD_NAMES
#: Attributes of ``community``.
COMMUNITY_FIELDS = ("id", "name", "timezone")


class EvalContext:
    """The evaluation scope of one event for one member."""

    __slots__ = (
        "community",
        "default_currency",
        "env",
        "event",
        "m",
        "match",
        "now",
        "now_ts",
        "persons",
        "refusal",
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
        env: ExprEnv,
    ) -> None:
        self.event = event
        self.m = member
        self.now = now
        self.now_ts = now_ts
        self.community = community
        self.vars = vars
        self.default_currency = default_currency
        self.tz = tz
        #: The playbook's expression environment (functions, classifiers, segments).
        self.env = env
        #: What the last detector function that found something matched (for `{{ match }}`).
        self.match: Any = ""
        #: Why an action of the rule was refused, in its ``refused:`` branch (a mapping:
        #: reason, message, action and the refusing action's details), else None.
        self.refusal: Any = None
        #: The state persons are found in (docs/reference.md §4.3), when the context
        #: belongs to an engine; None: person-wide currencies read the member's own.
        self.persons: State | None = None

    def wallet(self, m: MemberState, currency: str) -> MemberState:
        """Who holds ``m``'s balance of ``currency``: its person for a person-wide
        currency (when ``m`` is linked), else ``m``."""
        state = self.persons
        if state is None or m.person is None or currency not in self.env.person_currencies:
            return m
        return holder(state, m)

    def level_holder(self, m: MemberState) -> MemberState:
        """Who holds ``m``'s level: its person (when ``m`` is linked and the ladder is
        person-wide), else ``m``."""
        state = self.persons
        if state is None or m.person is None or not self.env.person_levels:
            return m
        return holder(state, m)

    def badge_holder(self, m: MemberState) -> MemberState:
        """Who holds ``m``'s person-wide badges: its person (when ``m`` is linked and the
        playbook has such badges), else ``m``."""
        state = self.persons
        if state is None or m.person is None or not self.env.person_badges:
            return m
        return holder(state, m)

    def member_attr(self, name: str) -> Any:
        """``member.<name>`` (see member_fields.py); None when there is no member."""
        m = self.m
        if m is None:
            return None
        accessor = ACCESSORS.get(name)
        if accessor is None:
            raise AttributeError(name)
        return accessor(self, m, self.now, self.default_currency)

    def template_vars(self) -> dict[str, Any]:
        """The names a message template renders with."""
        return {
            "event": EventView(self.event),
            "member": MemberView(self),
            "community": self.community,
            "vars": self.vars,
            "now": self.now,
            "match": self.match,
            "post": post_view(self),
            "refusal": self.refusal,
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
            return {
                "id": mem.id,
                "name": mem.name,
                "roles": list(mem.roles),
                "created_at": mem.created_at,
            }
        if name in EVENT_FIELDS:
            return getattr(self._e, name)
        raise AttributeError(name)
