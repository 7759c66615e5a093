"""The store contract (docs/reference.md §2, §10): what every state backend provides.

The engine is pure: it mutates an in-memory :class:`~engage_rules.model.state.State` and returns
one :class:`~engage_rules.model.decision.Decision` per event or fired timer.  A :class:`Store`
persists batches of decisions atomically and rebuilds the state when it is opened again.

:func:`collect` reduces a batch of decisions to its net effect once, so that every backend
applies the same contract; :func:`open_store` turns a ``--store`` URL into a store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import orjson

from ..errors import StoreError
from ..i18n import _
from ..model.decision import ActionRecord, Decision, RuleFailure
from ..model.state import LedgerEntry, MemberState, State, Timer
from .records import ReportContext

#: The statuses of an outbox item.  ``pending`` items are waiting for (another) delivery
#: attempt; ``sending`` items were handed to an adapter and not yet confirmed (after a
#: crash, each may or may not have reached the platform: the runtime's send window);
#: ``delivered`` and ``failed`` (permanently) are final.
OUTBOX_STATUSES = ("pending", "sending", "delivered", "failed", "shadow")


@dataclass(slots=True)
class OutboxItem:
    """One action waiting for, or done with, delivery by the dispatcher."""

    seq: int  # commit order, strictly increasing
    action: ActionRecord
    status: str = "pending"  # pending | sending | delivered | failed
    attempts: int = 0
    last_error: str | None = None
    #: The platform of the event that caused the action (``Event.platform``), if it had
    #: one: the runtime delivers the action through that platform's adapter.
    platform: str | None = None


class Outbox(Protocol):
    """What the dispatcher (runtime/dispatcher.py) reads and writes: the outbox part of
    a :class:`Store` (or of several dispatchers' claims: postgres_claims.py)."""

    def outbox(
        self, *, status: str | None = None, limit: int | None = None, after: int = 0
    ) -> list[OutboxItem]: ...
    def mark_sending(self, keys: Sequence[str]) -> None: ...
    def mark_delivered(self, keys: Sequence[str]) -> None: ...
    def mark_failed(self, key: str, error: str, permanent: bool) -> None: ...


@runtime_checkable
class Store(Protocol):
    """A durable home for engine state, the ledger, the outbox and timers.

    Semantics every backend must honour (the contract suite checks them):

    - :meth:`open` returns the state as of the last commit: every community with its
      data and members, the clock, and the timer heap with ``timer_ids`` and
      ``timer_seq``.  A store may give the members on demand instead (the state's
      ``source``, model/state.py ``MemberSource``: SQLite does): then the state loads a
      member when it is first needed, which it can do while the store is open.  Members
      do not hold their ledger: :meth:`ledger` reads it.  Likewise a store may give
      the timers on demand (the state's ``timer_source``, model/state.py
      ``TimerSource``: SQLite does): the state then holds the earliest pending timers
      and loads the next ones when its clock reaches them.
    - :meth:`commit` applies a batch of decisions as ONE transaction: after a crash either
      the whole batch is visible or none of it; when it returns the batch is durable.
    - :meth:`commit` saves the state *as of the commit* of every member a decision
      touched (or that got ledger entries), and of every community whose data a decision
      changed; a touched member or community no longer in ``state`` is deleted.  Timers
      are added and removed in decision order (a timer may be added and fired in one
      batch).
    - :meth:`is_processed` is true for every cause (event or timer id) of a committed
      decision (and of a batch accepted by :meth:`commit_async`) for as long as the
      store remembers it: within the dedup window (:meth:`keep_processed`).  It does not
      know about decisions not handed to the store yet: the caller dedupes its own
      batch.  Ids are forgotten oldest first, by the store's clock when they were
      committed; :meth:`dedup_horizon` is the newest time forgotten up to, so an event
      dated at or after it that was processed is still known — and one dated before it
      cannot be checked (the runner quarantines it, never processing it twice).
    - Every external event of a committed decision that names a member counts once in
      :meth:`activity`; traces are kept as :meth:`keep_traces` says.
    - The outbox keeps actions in commit order; an action whose key is already in the
      outbox is ignored.  A shadow action (``ActionRecord.shadow``) enters it with
      status ``shadow``, which the dispatcher never delivers.  Each item remembers the
      ``platform`` of the event whose decision emitted it (None for timers and events
      without one).
    """

    def open(self) -> State:
        """Load and return the persisted state (members possibly on demand)."""
        ...

    def is_processed(self, cause_id: str) -> bool:
        """True if a decision for this event or timer id has been committed."""
        ...

    def processed_among(self, ids: Sequence[str]) -> set[str]:
        """The ids among ``ids`` that :meth:`is_processed` is true for (one query for
        many: the runner checks events a chunk at a time)."""
        ...

    def keep_processed(self, seconds: float | None) -> None:
        """Remember processed ids for ``seconds`` of the store's clock after their commit
        (None: forever); older ones are forgotten as newer batches are committed."""
        ...

    def dedup_horizon(self) -> float | None:
        """The time (epoch seconds) up to which processed ids were forgotten, or None if
        none ever were.  An event dated before it cannot be checked for duplicates."""
        ...

    def commit(self, decisions: Sequence[Decision], state: State) -> None:
        """Persist ``decisions`` (in order) and the current state of what they touched."""
        ...

    def commit_async(self, decisions: Sequence[Decision], state: State) -> Future[None]:
        """Like :meth:`commit`, returning once ``state`` has been read.

        The future completes when the batch is durable.  Batches become durable in call
        order, other calls wait for a batch in flight, and :meth:`is_processed` is true
        for the batch's causes as soon as this returns.  A store without a pipeline
        commits synchronously and returns a completed future (:func:`completed`).
        """
        ...

    def outbox(
        self, *, status: str | None = None, limit: int | None = None, after: int = 0
    ) -> list[OutboxItem]:
        """Outbox items in commit order, optionally only those with ``status`` and only
        those whose ``seq`` is greater than ``after``."""
        ...

    def mark_sending(self, keys: Sequence[str]) -> None:
        """Record, durably, that these ``pending`` actions are being handed to an
        adapter.  Other statuses and unknown keys are left alone."""
        ...

    def mark_delivered(self, keys: Sequence[str]) -> None:
        """Mark these actions delivered (one more attempt each).  Unknown keys are ignored."""
        ...

    def mark_failed(self, key: str, error: str, permanent: bool) -> None:
        """Record a failed delivery attempt.

        The item becomes (or stays) ``pending``, to be retried, unless ``permanent``,
        which makes it ``failed``.  Delivered items and unknown keys are left alone.
        """
        ...

    def begin_replay(self, key: str) -> list[tuple[int, int]]:
        """Start a run of the replay named ``key`` (a playbook and its input) and return
        the outbox ranges ``(first seq, last seq)``, in order, that earlier runs of it
        committed: a replay that resumes after an interruption prints those again, so
        its output equals an uninterrupted run's (replay_output.py).  A run that never
        reached :meth:`end_replay` (its process died) ends where its commits ended."""
        ...

    def end_replay(self, key: str) -> None:
        """The run of ``key`` that :meth:`begin_replay` started is complete."""
        ...

    def rule_errors(self) -> list[RuleFailure]:
        """Every recorded rule error, in commit order."""
        ...

    def audit_log(self) -> list[dict[str, Any]]:
        """The moderation audit log, in commit order."""
        ...

    def review_queue(self) -> list[dict[str, Any]]:
        """Items flagged for human review, in commit order."""
        ...

    def ledger(self, community: str, member: str) -> list[LedgerEntry]:
        """The persisted ledger of one member, by ``seq``, each reversed entry with
        ``reversed_by`` set (:func:`link_reversals`)."""
        ...

    def ledgers(self, community: str | None = None) -> Iterator[tuple[str, str, LedgerEntry]]:
        """Every persisted ledger entry as ``(community, member, entry)`` (only those of
        ``community`` when given), member by member, each member's by ``seq`` as
        :meth:`ledger` gives them: for reports and tools, in one pass."""
        ...

    def set_report_context(self, context: ReportContext) -> None:
        """Remember, durably, the playbook's name, time zone and activity event types:
        activity is counted per local day of that time zone from then on."""
        ...

    def report_context(self) -> ReportContext:
        """What :meth:`set_report_context` last stored (UTC and no types if never)."""
        ...

    def activity(self) -> list[tuple[str, str, str, str, int]]:
        """Committed external events counted per (community, member, local day
        ``YYYY-MM-DD``, event type), as ``(community, member, day, type, events)``."""
        ...

    def keep_traces(self, seconds: float | None) -> None:
        """Keep rule traces for ``seconds`` of event time behind the newest one
        (None: forever).  Older traces are deleted as newer ones are committed."""
        ...

    def traces(
        self,
        *,
        event: str | None = None,
        cause: str | None = None,
        member: str | None = None,
        community: str | None = None,
    ) -> list[dict[str, Any]]:
        """Kept rule traces (tracing.py), in commit order, optionally only those of one
        event id, of one cause (an event with the internal events it raised, or a
        timer), or of one member (and community)."""
        ...

    def close(self) -> None:
        """Release the backend's resources.  Committed data stays."""
        ...


def evict_committed(store: object, state: State, batch: Sequence[Decision]) -> int:
    """After ``batch`` was handed to ``store`` (committed, or accepted by
    :meth:`Store.commit_async`), drop members from memory if there are more than the
    store's ``member_cache``: down to three quarters of it, oldest loaded first, keeping
    the members the batch touched.  A store without ``member_cache`` (memory) keeps all.
    Returns how many members were dropped.

    With timers on demand (``state.timer_source``), the timers due later than the ones
    the state must hold are let go too (:meth:`State.let_go_of_timers`), but for those
    ``batch`` added: a store accepts a batch once every earlier one is durable (SQLite
    holds one batch in flight), so only this batch's may not be stored yet."""
    if state.timer_source is not None and state.timers_until != math.inf:
        added = {t.id for d in batch if d.timers_added for t in d.timers_added}
        state.let_go_of_timers(added)
    capacity = getattr(store, "member_cache", None)
    if capacity is None or state.source is None:
        return 0
    if state.members_in_memory() <= capacity:
        return 0
    keep: set[tuple[str, str]] = set()
    for d in batch:
        keep |= d.touched
    return state.evict(capacity * 3 // 4, keep)


#: The one future :func:`completed` returns: a finished future never changes (a callback
#: added to it runs at once), so every synchronous commit can share it.
_COMPLETED: Future[None] = Future()
_COMPLETED.set_result(None)


def completed() -> Future[None]:
    """A future that has already succeeded (for stores that commit synchronously: the
    memory store returns it for every batch, so it is made once, not per batch)."""
    return _COMPLETED


@dataclass(slots=True)
class Batch:
    """The net effect of a batch of decisions, in the order a store must apply it."""

    causes: list[str] = field(default_factory=list)
    #: The new ledger entries, as (community, member, entry), in order.
    ledger: list[tuple[str, str, LedgerEntry]] = field(default_factory=list)
    actions: list[ActionRecord] = field(default_factory=list)
    #: action key -> the platform of the event that caused it (only when it had one).
    platforms: dict[str, str] = field(default_factory=dict)
    #: timer id -> the timer to keep, or None to delete it (the last operation wins).
    timers: dict[str, Timer | None] = field(default_factory=dict)
    errors: list[RuleFailure] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)
    members: set[tuple[str, str]] = field(default_factory=set)
    communities: set[str] = field(default_factory=set)


def find_member(state: State, community: str, member: str) -> MemberState | None:
    """A member's state in ``state``, or None when the member is unknown."""
    c = state.communities.get(community)
    return c.members.get(member) if c is not None else None


def link_reversals(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """``entries`` (one member's ledger, by ``seq``) with ``reversed_by`` set on each
    entry a ``revoke`` reversed: the link is stored once, on the reversal
    (``reverses``), and derived here when the ledger is read."""
    reversals = {e.reverses: e.seq for e in entries if e.kind == "revoke" and e.reverses}
    if reversals:
        for e in entries:
            by = reversals.get(e.seq)
            if by is not None:
                e.reversed_by = by
    return entries


def ledgers_from_rows(
    rows: Iterable[tuple[str, str, str]],
    settle: Callable[[list[LedgerEntry]], list[LedgerEntry]] = link_reversals,
) -> Iterator[tuple[str, str, LedgerEntry]]:
    """``Store.ledgers`` from ledger rows ``(community, member, JSON)`` ordered by member
    and commit: each member's entries decoded, then ``settle``d (reversals linked)."""
    key: tuple[str, str] | None = None
    entries: list[LedgerEntry] = []
    for c, m, js in rows:
        if (c, m) != key:
            if key is not None:
                yield from ((*key, e) for e in settle(entries))
            key, entries = (c, m), []
        entries.append(LedgerEntry.from_json(orjson.loads(js)))
    if key is not None:
        yield from ((*key, e) for e in settle(entries))


def log_entries(texts: Iterable[str]) -> list[dict[str, Any]]:
    """The entries of a stored log (rule errors, audit, review) from their JSON texts;
    ValueError if one is not a JSON object."""
    out = [orjson.loads(js) for js in texts]
    if not all(isinstance(entry, dict) for entry in out):
        raise ValueError("a row is not a JSON object")
    return out


def collect(decisions: Sequence[Decision], state: State) -> Batch:
    """Reduce ``decisions`` to what a store writes.

    Ledger entries are only ever appended: a reversal names its original (``reverses``)
    and :meth:`Store.ledger` derives the original's ``reversed_by`` from it.
    """
    b = Batch(causes=[d.cause for d in decisions])
    ledger = b.ledger
    timers = b.timers
    members = b.members
    for d in decisions:
        if d.ledger:
            ledger.extend(d.ledger)
            for community, member, _entry in d.ledger:
                members.add((community, member))
        if d.actions:
            b.actions.extend(d.actions)
            event = d.event
            if d.routed or (event is not None and event.platform is not None):
                _collect_platforms(d, b.platforms)
        if d.timers_added:
            for t in d.timers_added:
                timers[t.id] = t
        if d.timers_fired:
            for tid in d.timers_fired:
                timers[tid] = None
        if d.errors:
            b.errors.extend(d.errors)
        if d.audit:
            b.audit.extend(d.audit)
        if d.review:
            b.review.extend(d.review)
        if d.touched:
            members |= d.touched
        if d.communities:
            b.communities |= d.communities
    return b


def _collect_platforms(d: Decision, platforms: dict[str, str]) -> None:
    """Note the platform of each action of ``d``: the one it names (``Decision.routed``),
    else that of the event that caused it (the first one noted wins)."""
    for a in d.routed:
        platforms.setdefault(a.key, a.params["platform"])
    event = d.event
    if event is not None and event.platform is not None:
        platform = event.platform
        for a in d.actions:
            platforms.setdefault(a.key, platform)


def rule_error_from_json(d: dict[str, Any]) -> RuleFailure:
    """A rule failure from its stored JSON."""
    return RuleFailure(d["rule"], d["cause"], d["message"], datetime.fromisoformat(d["at"]))


def check_outbox_query(status: str | None, limit: int | None, after: int = 0) -> None:
    """Check the arguments of ``Store.outbox``; ValueError when wrong."""
    if status is not None and status not in OUTBOX_STATUSES:
        raise ValueError(
            f"unknown outbox status {status!r}; expected one of {', '.join(OUTBOX_STATUSES)}"
        )
    if limit is not None and limit < 0:
        raise ValueError(f"outbox limit must be >= 0, not {limit}")
    if after < 0:
        raise ValueError(f"outbox `after` must be >= 0, not {after}")


# -- URLs -------------------------------------------------------------------------------

StoreFactory = Callable[[str], Store]


class StoreRegistry(Protocol):
    """What opening a store needs of the plugin registry: the store schemes, each with
    its factory (``engage_rules.plugins.Registry`` provides it)."""

    @property
    def stores(self) -> Mapping[str, StoreFactory]: ...


_SUPPORTED = (
    "memory:, sqlite:///relative/path.db, sqlite:////absolute/path.db, "
    "postgresql://USER@HOST/DATABASE[?schema=NAME]"
)


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///...`` URL (SQLAlchemy style), or ``:memory:``."""
    rest = url[len("sqlite:") :]
    if not rest.startswith("//"):
        raise StoreError(
            _(
                "invalid store URL {url!r}: write sqlite:///relative/path.db "
                "or sqlite:////absolute/path.db"
            ).format(url=url)
        )
    rest = rest[2:]
    if not rest.startswith("/"):
        raise StoreError(
            _(
                "invalid store URL {url!r}: a SQLite URL has no host; write "
                "sqlite:///relative/path.db or sqlite:////absolute/path.db"
            ).format(url=url)
        )
    path = rest[1:]
    if not path:
        raise StoreError(
            _("invalid store URL {url!r}: the database path is missing").format(url=url)
        )
    return path


#: The schemes the core provides (their factories: :data:`.schemes.BUILTIN_STORE_SCHEMES`).
BUILTIN_SCHEMES = frozenset({"memory", "sqlite", "postgresql", "postgres"})


def open_store(url: str, *, registry: StoreRegistry) -> Store:
    """Open the store a URL names, with the store schemes ``registry`` knows.

    ``memory:`` is an in-process store (nothing survives the process);
    ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` name a SQLite
    database file, created with its parent directories when missing;
    ``postgresql://USER@HOST/DATABASE?schema=NAME`` (any libpq URL, also ``postgres://``)
    a schema of a PostgreSQL database (the ``postgresql`` extra).  Plugins add
    schemes through the ``register_stores`` hook.  Anything else raises
    :class:`~engage_rules.errors.StoreError` naming the supported schemes.
    """
    schemes = registry.stores
    if not isinstance(url, str) or not url.strip():
        raise StoreError(
            _("missing store URL; supported: {supported}").format(supported=_supported(schemes))
        )
    url = url.strip()
    scheme, sep, _rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or not scheme:
        hint = ""
        if sep == "" and url.endswith((".db", ".sqlite", ".sqlite3")):
            hint = _(" (did you mean sqlite:///{path}?)").format(path=url)
        raise StoreError(
            _("invalid store URL {url!r}{hint}; supported: {supported}").format(
                url=url, hint=hint, supported=_supported(schemes)
            )
        )
    factory = schemes.get(scheme)
    if factory is not None:
        return factory(url)
    base = scheme.split("+", 1)[0]
    if base != scheme and base in schemes:
        raise StoreError(
            _("store URL {url!r}: write {fixed} (no driver name); supported: {supported}").format(
                url=url, fixed=f"{base}:{url.partition(':')[2]}", supported=_supported(schemes)
            )
        )
    raise StoreError(
        _("unsupported store URL scheme {scheme!r} in {url!r}; supported: {supported}").format(
            scheme=scheme, url=url, supported=_supported(schemes)
        )
    )


def _supported(schemes: Mapping[str, StoreFactory]) -> str:
    extra = sorted(s for s in schemes if s not in BUILTIN_SCHEMES)
    return ", ".join([_SUPPORTED, *(f"{s}:..." for s in extra)])
