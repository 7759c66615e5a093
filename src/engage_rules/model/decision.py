"""What the engine decided for one event or timer: the unit a store commits atomically."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import orjson

from .events import Event
from .state import LedgerEntry, Timer


def action_key(playbook: str, rule: str, cause: str, path: str) -> str:
    """The deterministic key of an action (docs/reference.md §5.3): playbook name, rule, cause
    (event or timer id) and the action's position — never the playbook's file path."""
    raw = f"{playbook}\x1f{rule}\x1f{cause}\x1f{path}".encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


class _ActionFields(msgspec.Struct, gc=False, eq=False):
    """The fields of :class:`ActionRecord` (``key`` is read through its property)."""

    key: str | None
    type: str
    member: str | None
    rule: str
    cause: str
    at: datetime
    params: dict[str, Any]
    community: str = "default"
    #: ``(playbook, path)``: what the key is computed from when it was not given.
    key_source: tuple[str, str] | None = None
    #: Decided by a rule in shadow mode: recorded and reported, never delivered.
    shadow: bool = False


#: The stored key (None until computed), under :attr:`ActionRecord.key`'s property.
_stored_key = _ActionFields.__dict__["key"]
#: Its reader, looked up once: a store reads the key of every action it writes.
_read_key = _stored_key.__get__


class ActionRecord(_ActionFields, gc=False, eq=False):
    """One emitted action, in the docs/reference.md §6.1 output shape.

    ``ActionRecord(key, type, member, rule, cause, at, params, community="default",
    key_source=None, shadow=False)``.  The key is computed on first use from
    ``(playbook, path)`` (``key_source``) when not given, so the hash is only paid for
    actions that are stored or printed.

    One is made per emitted action and the memory store keeps them (its outbox), so it
    is a struct built in C and not tracked by the cyclic garbage collector: nothing it
    holds (strings, a time, the parameters' JSON data) refers back to it.
    """

    # The field ``key`` (None until computed) is read through this property: the type
    # checker sees a field overridden by a read-only property, which is the intent.
    @property  # type: ignore[misc]
    def key(self) -> str:  # type: ignore[override]
        key: str | None = _read_key(self)
        if key is None:
            assert self.key_source is not None
            playbook, path = self.key_source
            key = action_key(playbook, self.rule, self.cause, path)
            _stored_key.__set__(self, key)
        return key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActionRecord):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ActionRecord(type={self.type!r}, member={self.member!r}, rule={self.rule!r}, "
            f"cause={self.cause!r}, params={self.params!r})"
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "type": self.type,
            "member": self.member,
            "rule": self.rule,
            "cause": self.cause,
            "at": self.at.isoformat(),
            "params": self.params,
            "community": self.community,
        }
        if self.shadow:
            out["shadow"] = True
        return out

    def to_json_bytes(self) -> bytes:
        """``to_json()`` encoded as JSON, without building the intermediate strings
        (orjson writes the aware datetime in the same ISO 8601 form as ``isoformat``)."""
        try:
            return self._dumps()
        except TypeError:  # e.g. an integer beyond 64 bits in params: slower, exact
            return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()

    def _dumps(self) -> bytes:
        if self.shadow:
            return orjson.dumps(self.to_json())
        return orjson.dumps(
            {
                "key": self.key,
                "type": self.type,
                "member": self.member,
                "rule": self.rule,
                "cause": self.cause,
                "at": self.at,
                "params": self.params,
                "community": self.community,
            }
        )

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
            shadow=bool(d.get("shadow", False)),
        )


@dataclass(slots=True)
class RuleFailure:
    """A rule that failed for one event: a record, stored with the decision (the stream
    goes on), not an exception (those are in :mod:`engage_rules.errors`)."""

    rule: str
    cause: str
    message: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "cause": self.cause,
            "message": self.message,
            "at": self.at.isoformat(),
        }


#: The old name of :class:`RuleFailure`, kept so that code written against it (store
#: ``rule_errors()`` callers, reports) goes on working.
RuleError = RuleFailure


class Decision(msgspec.Struct, gc=False, eq=False):
    """Everything one event (or fired timer) changed.

    The engine mutates :class:`~engage_rules.model.state.State` in place while deciding and
    lists here what it touched, so a store can persist exactly that, atomically:
    the members in ``touched`` (their current state), the new ledger entries, the
    actions (the outbox), timers added and fired, and the cause id as processed.

    ``Decision(cause, at, event=None, is_timer=False)``.  One is made per event, so it is
    a struct built in C, and not tracked by the cyclic garbage collector (nothing it
    holds refers back to it); decisions compare by identity.
    """

    #: The event id or timer id; the idempotency key.
    cause: str
    #: The instant the decision was taken (the engine clock).
    at: datetime
    event: Event | None = None
    is_timer: bool = False
    actions: list[ActionRecord] = msgspec.field(default_factory=list)
    ledger: list[tuple[str, str, LedgerEntry]] = msgspec.field(default_factory=list)
    touched: set[tuple[str, str]] = msgspec.field(default_factory=set)  # (community, member)
    # Rarely used parts start as the shared empty tuple (nothing allocated per event);
    # the add_* methods give the decision its own list or set on first write.
    communities: set[str] | tuple[()] = ()  # community-level data changed
    timers_added: list[Timer] | tuple[()] = ()
    timers_fired: list[str] | tuple[()] = ()
    errors: list[RuleFailure] | tuple[()] = ()
    audit: list[dict[str, Any]] | tuple[()] = ()  # moderation audit log
    review: list[dict[str, Any]] | tuple[()] = ()  # flag_for_review items
    #: What each rule made of each event decided (an engine with tracing on; see
    #: tracing.py): JSON-ready records the store keeps for `explain`.
    traces: list[dict[str, Any]] | tuple[()] = ()
    #: The actions of the decision that name the platform they go through (a `send` or
    #: `broadcast` with `platform:`, docs/reference.md §4.3), for the store's outbox.
    routed: list[ActionRecord] | tuple[()] = ()
    #: Report data only, never state or actions (features/segment_snapshot.py, the daily
    #: segment snapshot): day totals ``(community, local day, type, n)`` the store adds to its
    #: ``activity_totals``, and member marks ``(community, member, mark, local day)`` it
    #: keeps the first day of in ``member_marks`` (store/records.py).
    report_totals: list[tuple[str, str, str, int]] | tuple[()] = ()
    report_marks: list[tuple[str, str, str, str]] | tuple[()] = ()

    def add_error(self, error: RuleFailure) -> None:
        errors = self.errors
        if not isinstance(errors, list):
            errors = self.errors = []
        errors.append(error)

    def add_audit(self, entry: dict[str, Any]) -> None:
        audit = self.audit
        if not isinstance(audit, list):
            audit = self.audit = []
        audit.append(entry)

    def add_review(self, item: dict[str, Any]) -> None:
        review = self.review
        if not isinstance(review, list):
            review = self.review = []
        review.append(item)

    def add_trace(self, trace: dict[str, Any]) -> None:
        traces = self.traces
        if not isinstance(traces, list):
            traces = self.traces = []
        traces.append(trace)

    def add_timer(self, timer: Timer) -> None:
        added = self.timers_added
        if not isinstance(added, list):
            added = self.timers_added = []
        added.append(timer)

    def add_fired(self, timer_id: str) -> None:
        fired = self.timers_fired
        if not isinstance(fired, list):
            fired = self.timers_fired = []
        fired.append(timer_id)

    def touch_community(self, name: str) -> None:
        communities = self.communities
        if not isinstance(communities, set):
            communities = self.communities = set()
        communities.add(name)

    def __repr__(self) -> str:
        return (
            f"Decision(cause={self.cause!r}, actions={len(self.actions)}, "
            f"ledger={len(self.ledger)}, errors={len(self.errors)})"
        )
