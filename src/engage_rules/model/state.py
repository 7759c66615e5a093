"""Member and community state (docs/reference.md §4), and its JSON form.

State is plain mutable data.  The engine mutates it while deciding one event and reports
what it touched in the :class:`~engage_rules.model.decision.Decision`; stores persist exactly
that.  Every field round-trips through :meth:`MemberState.to_json` /
:meth:`MemberState.from_json`, which stores use, so a restarted engine continues with
identical state.

Members are loaded on demand: a :class:`CommunityState`'s ``members`` holds the members
in use, and a :class:`MemberSource` (the store) gives any other one when it is first
needed (:meth:`CommunityState.member`, :meth:`CommunityState.find`).  The runner evicts
members once their state is committed, so memory holds the hot members, not everyone.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any, Protocol

import msgspec

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How many distinct days per event type ``streak()`` remembers: the longest streak
#: it can report.
STREAK_DAYS = 1000
#: A revocable credit in ``MemberState.revocable``: ``[seq, at (epoch s), currency,
#: amount, rule, cause, ref]`` — the award's ledger ``seq``, time, currency, what of it a
#: revoke can still take back (the credit less what of it expired), the rule that wrote
#: it, its cause event id and its ``ref`` (the cause's ``data.message_id``, or None).
C_SEQ, C_AT, C_CURRENCY, C_AMOUNT, C_RULE, C_CAUSE, C_REF = range(7)
#: The most revocable credits kept per member: beyond, the oldest become final.
REVOCABLE_MAX = 10_000
#: How many recent gaps ``typical_gap`` looks at, the shortest gap that counts (shorter
#: ones are the same visit), and how many gaps are needed before it is known.
GAPS_KEPT = 15
MIN_GAP = 3600.0
MIN_GAPS = 3


def ts(value: datetime) -> float:
    """Seconds since the epoch for an aware datetime (fast, exact for our purposes)."""
    return (value - EPOCH).total_seconds()


def from_ts(value: float) -> datetime:
    """The UTC date-time of an epoch timestamp in seconds."""
    return EPOCH + timedelta(seconds=value)


def _credit_seq(credit: list[Any]) -> int:
    return int(credit[C_SEQ])


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class LedgerEntry(msgspec.Struct, gc=False, eq=False):
    """One change of one currency balance.  The ledger is append-only.

    The engine does not keep entries: they flow out in ``Decision.ledger`` and the store
    writes them; ``Store.ledger(community, member)`` reads them back (with
    ``reversed_by`` filled in from the reversals).

    One is made per award, so it is a struct built in C, and not tracked by the cyclic
    garbage collector (what it holds refers back to nothing that holds it).  Entries
    compare by their fields, without ``action`` and ``original``.
    """

    seq: int  # 1-based, per member
    currency: str
    amount: int  # positive for credits, negative for debits
    kind: str  # award | spend | revoke | expire | adjust
    reason: str
    rule: str
    cause: str  # the event or timer id that caused it
    key: str  # the deterministic key of the action that wrote it
    at: datetime
    ref: str | None = None  # the cause event's data.message_id, for `revoke: {event: ...}`
    reverses: int | None = None  # for a reversal: the seq of the entry it reverses
    reversed_by: int | None = None  # on reading: the seq of the revoke reversing it
    #: The action that wrote the entry, while it is in memory: its key (a hash) is only
    #: computed when the entry is stored (``key`` is "" until then).
    action: Any = None
    #: For a revoke, while it is in memory: the revocable credit it reversed (a
    #: ``MemberState.revocable`` item), for leaderboards.  Never stored.
    original: Any = None
    #: For an entry of a person-wide currency (docs/reference.md §4.3): the account
    #: where it happened, ``(community, member)`` — the person's ledger is kept under
    #: the person, each entry recording its group.  None for a group currency's entry.
    origin: tuple[str, str] | None = None

    def _fields(self) -> tuple[Any, ...]:
        """What entries compare by (not ``action`` and ``original``)."""
        return (
            self.seq,
            self.currency,
            self.amount,
            self.kind,
            self.reason,
            self.rule,
            self.cause,
            self.key,
            self.at,
            self.ref,
            self.reverses,
            self.reversed_by,
            self.origin,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LedgerEntry):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = zip(_LEDGER_FIELDS, self._fields(), strict=True)
        return f"LedgerEntry({', '.join(f'{n}={v!r}' for n, v in shown)})"

    def action_key(self) -> str:
        """The key of the action that wrote this entry."""
        if not self.key and self.action is not None:
            self.key = self.action.key
        return self.key

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seq": self.seq,
            "currency": self.currency,
            "amount": self.amount,
            "kind": self.kind,
            "reason": self.reason,
            "rule": self.rule,
            "cause": self.cause,
            "key": self.action_key(),
            "at": self.at.isoformat(),
        }
        if self.ref is not None:
            out["ref"] = self.ref
        if self.reverses is not None:
            out["reverses"] = self.reverses
        if self.reversed_by is not None:
            out["reversed_by"] = self.reversed_by
        if self.origin is not None:
            out["community"], out["member"] = self.origin
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LedgerEntry:
        return cls(
            seq=d["seq"],
            currency=d["currency"],
            amount=d["amount"],
            kind=d["kind"],
            reason=d["reason"],
            rule=d["rule"],
            cause=d["cause"],
            key=d["key"],
            at=datetime.fromisoformat(d["at"]),
            ref=d.get("ref"),
            reverses=d.get("reverses"),
            reversed_by=d.get("reversed_by"),
            origin=(d["community"], d["member"]) if "community" in d else None,
        )


#: The fields :class:`LedgerEntry` compares by and shows, in order.
_LEDGER_FIELDS = (*LedgerEntry.__struct_fields__[:12], "origin")


@dataclass(slots=True)
class Strike:
    """A strike against a member."""

    at: datetime
    reason: str
    rule: str
    expires: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "reason": self.reason,
            "rule": self.rule,
            "expires": _iso(self.expires),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Strike:
        return cls(datetime.fromisoformat(d["at"]), d["reason"], d["rule"], _dt(d.get("expires")))


@dataclass(slots=True)
class MemberState:
    """Everything the engine knows about one member of one community."""

    id: str
    community: str
    name: str | None = None
    roles: tuple[str, ...] = ()
    created_at: datetime | None = None  # the platform account's creation time
    balances: dict[str, int] = field(default_factory=dict)
    earned: dict[str, int] = field(default_factory=dict)  # lifetime credits per currency
    #: The ``seq`` of the member's latest ledger entry (the ledger itself is in the store).
    ledger_seq: int = 0
    #: The credits a `revoke` may still reverse, by ``seq`` (see C_SEQ...): only awards of
    #: rules a revoke of the playbook may target, made within its `revoke_within`.
    revocable: list[list[Any]] = field(default_factory=list)
    level: int | None = None
    level_name: str | None = None
    level_locked: bool = False
    #: When the member last went up a level (demotion `grace` counts from it).
    promoted_at: datetime | None = None
    #: The due time (epoch s) of the member's pending level-check timer, if any.
    level_due: float | None = None
    #: Credits of expiring currencies not yet expired, per currency, in expiry order:
    #: ``[left, expires (epoch s), seq of the crediting entry, counted]`` where ``left``
    #: is what spending has not used yet and ``counted`` what still counts towards
    #: `levels: {by: currency}` (the credit less what was revoked).
    lots: dict[str, list[list[Any]]] = field(default_factory=dict)
    #: Credits taken back per currency (revoked, or expired), for level measures.
    forfeited: dict[str, int] = field(default_factory=dict)
    badges: dict[str, dict[str, Any]] = field(default_factory=dict)
    titles: list[str] = field(default_factory=list)
    tags: dict[str, datetime | None] = field(default_factory=dict)  # name -> expiry
    strikes: list[Strike] = field(default_factory=list)
    status: str = "active"  # active | muted | banned | left
    muted_until: datetime | None = None
    banned_until: datetime | None = None
    opted_out: bool = False
    joined_at: datetime | None = None
    last_active_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)  # lifetime events per type
    history: dict[str, list[float]] = field(default_factory=dict)  # sorted timestamps per type
    texts: list[tuple[float, str]] = field(default_factory=list)  # (time, text fingerprint)
    #: Per event type counted by ``streak()``: the distinct local calendar days (date
    #: ordinals, ascending) with at least one such event, the most recent STREAK_DAYS.
    streak_days: dict[str, list[int]] = field(default_factory=dict)
    cooldowns: dict[str, float] = field(default_factory=dict)  # rule -> last fire time
    spent: set[str] = field(default_factory=set)  # `once` rules that have fired
    windows: dict[str, list[float]] = field(default_factory=dict)  # threshold windows per rule
    #: cap key -> [period, amount, period, amount...], the latest periods first
    caps: dict[str, list[Any]] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    flows: dict[str, Any] = field(default_factory=dict)  # flow name -> position (flows.py)
    #: Recent gaps (seconds) between activities, for ``member.typical_gap``.
    gaps: list[float] = field(default_factory=list)
    #: Silence deadlines by rule id: the pending one (epoch s), or minus the one that
    #: fired last, until the next activity (silence.py).
    silence: dict[str, float] = field(default_factory=dict)
    #: The member's variant of each experiment it was exposed to (``variant()``; fixed
    #: at the first exposure).
    variants: dict[str, str] = field(default_factory=dict)
    #: What the member bought (``purchase`` events): ``{"count": N, "last": epoch s,
    #: "totals": {currency: exact decimal text}}`` (member.total_spent, RFM segments).
    spending: dict[str, Any] = field(default_factory=dict)
    #: For an account: the person it is linked to (docs/reference.md §4.3), or None (an
    #: unlinked member is its own person).  For a person (a member of the community
    #: ``model.persons.PERSONS``): the person it was merged into, or None.
    person: str | None = None
    #: For a person: its accounts, ``[community, member]`` pairs in the order linked.
    accounts: list[list[str]] = field(default_factory=list)

    # -- purchases ----------------------------------------------------------------------
    def record_purchase(self, amount: Decimal | None, currency: str, at: float) -> None:
        """Count a purchase made at epoch ``at``; add ``amount`` (exact) to the total of
        ``currency`` when it is known."""
        s = self.spending
        s["count"] = int(s.get("count", 0)) + 1
        last = s.get("last")
        if last is None or at > last:
            s["last"] = at
        if amount is not None:
            totals = s.setdefault("totals", {})
            totals[currency] = str(Decimal(totals.get(currency, "0")) + amount)

    def total_spent(self) -> int | float:
        """The sum of the member's purchase amounts over every currency, summed exactly
        (decimal) and given as a number expressions use: an int when whole, else the
        float nearest the exact sum (299.8 for 199.9 + 99.9, never 299.79999...)."""
        totals = self.spending.get("totals") or {}
        total = sum((Decimal(v) for v in totals.values()), Decimal(0))
        return int(total) if total == total.to_integral_value() else float(total)

    def last_purchase_at(self) -> datetime | None:
        """When the member last bought something (UTC), or None."""
        last = self.spending.get("last")
        return from_ts(last) if last is not None else None

    # -- revocable credits ------------------------------------------------------------
    def keep_credit(self, entry: LedgerEntry, at: float, horizon: float) -> None:
        """Index the award ``entry`` (made at epoch ``at``) as revocable, forgetting the
        credits made before ``horizon`` (they are final) and the oldest beyond
        REVOCABLE_MAX."""
        credits = self.revocable
        credits.append(
            [entry.seq, at, entry.currency, entry.amount, entry.rule, entry.cause, entry.ref]
        )
        if credits[0][C_AT] < horizon:
            n = 0
            while n < len(credits) and credits[n][C_AT] < horizon:
                n += 1
            del credits[:n]
        if len(credits) > REVOCABLE_MAX:
            del credits[: len(credits) - REVOCABLE_MAX]

    def credit(self, seq: int) -> list[Any] | None:
        """The revocable credit of ledger entry ``seq``, if it is indexed."""
        credits = self.revocable
        i = bisect.bisect_left(credits, seq, key=_credit_seq)
        return credits[i] if i < len(credits) and credits[i][C_SEQ] == seq else None

    def credit_expired(self, seq: int, amount: int) -> None:
        """``amount`` of credit ``seq`` expired: a revoke can no longer take it back."""
        credit = self.credit(seq)
        if credit is not None:
            credit[C_AMOUNT] -= amount
            if credit[C_AMOUNT] <= 0:
                self.revocable.remove(credit)

    def forget_credits(self, horizon: float, rules: frozenset[str] | None) -> None:
        """Forget the credits made before ``horizon`` and, unless ``rules`` is None, those
        of rules not in ``rules`` (a playbook whose revokes target fewer rules)."""
        credits = self.revocable
        if credits:
            self.revocable = [
                c for c in credits if c[C_AT] >= horizon and (rules is None or c[C_RULE] in rules)
            ]

    # -- derived views used by expressions -------------------------------------------
    def balance(self, currency: str) -> int:
        return self.balances.get(currency, 0)

    def active_strikes(self, now: datetime) -> int:
        return sum(1 for s in self.strikes if s.expires is None or s.expires > now)

    def has_tag(self, name: object, now: datetime) -> bool:
        if not isinstance(name, str) or name not in self.tags:
            return False
        expires = self.tags[name]
        return expires is None or expires > now

    def tag_names(self, now: datetime) -> list[str]:
        tags = self.tags
        if not tags:
            return []
        return [t for t, exp in tags.items() if exp is None or exp > now]

    def status_at(self, now: datetime) -> str:
        if self.status == "muted" and self.muted_until is not None and self.muted_until <= now:
            return "active"
        if self.status == "banned" and self.banned_until is not None and self.banned_until <= now:
            return "active"
        return self.status

    def record(self, type_: str, at: float, window: float | None) -> None:
        """Count an event of ``type_`` at time ``at``; keep timestamps for ``window`` s."""
        self.counts[type_] = self.counts.get(type_, 0) + 1
        if window is not None:
            self.remember(type_, at, window)

    def remember(self, type_: str, at: float, window: float) -> None:
        """Keep the time of an event of ``type_`` for windowed counts up to ``window`` s."""
        hist = self.history.get(type_)
        if hist is None:
            hist = self.history[type_] = []
        if not hist or hist[-1] <= at:
            hist.append(at)
        else:
            bisect.insort(hist, at)
        # Forget what no window can see any more (amortised: trim in chunks).
        horizon = hist[-1] - window
        if hist[0] < horizon and len(hist) > 64:
            del hist[: bisect.bisect_left(hist, horizon)]

    def note_day(self, type_: str, day: int) -> None:
        """Record that an event of ``type_`` happened on local calendar day ``day``."""
        days = self.streak_days.get(type_)
        if days is None:
            self.streak_days[type_] = [day]
            return
        if days[-1] == day:
            return
        if days[-1] < day:
            days.append(day)
        else:  # a late event: keep the list sorted and distinct
            i = bisect.bisect_left(days, day)
            if i < len(days) and days[i] == day:
                return
            days.insert(i, day)
        if len(days) > STREAK_DAYS:
            del days[: len(days) - STREAK_DAYS]

    def streak(self, type_: str, today: int) -> int:
        """Consecutive calendar days with an event of ``type_``, ending today — or
        yesterday, when today has none yet (a streak is not broken before the day is
        over)."""
        days = self.streak_days.get(type_)
        if not days:
            return 0
        i = bisect.bisect_right(days, today) - 1  # the latest day not after today
        if i < 0 or days[i] < today - 1:
            return 0
        n = 1
        while i > 0 and days[i - 1] == days[i] - 1:
            n += 1
            i -= 1
        return n

    def note_gap(self, gap: float) -> None:
        """Record a gap of ``gap`` seconds before an activity (for :meth:`typical_gap`):
        gaps shorter than MIN_GAP are the same visit, and the last GAPS_KEPT count."""
        if gap >= MIN_GAP:
            gaps = self.gaps
            gaps.append(gap)
            if len(gaps) > GAPS_KEPT:
                del gaps[0]

    def typical_gap(self) -> timedelta | None:
        """The member's usual gap between activities (the median of the recent gaps),
        or None while fewer than MIN_GAPS are known (``member.typical_gap``)."""
        if len(self.gaps) < MIN_GAPS:
            return None
        return timedelta(seconds=median(self.gaps))

    def count_within(self, type_: str, now: float, window: float) -> int:
        hist = self.history.get(type_)
        if not hist:
            return 0
        lo = bisect.bisect_right(hist, now - window)
        hi = bisect.bisect_right(hist, now)
        return hi - lo

    # -- JSON ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "community": self.community,
            "name": self.name,
            "roles": list(self.roles),
            "created_at": _iso(self.created_at),
            "balances": self.balances,
            "earned": self.earned,
            "ledger_seq": self.ledger_seq,
            "revocable": self.revocable,
            "level": self.level,
            "level_name": self.level_name,
            "level_locked": self.level_locked,
            "promoted_at": _iso(self.promoted_at),
            "level_due": self.level_due,
            "lots": self.lots,
            "forfeited": self.forfeited,
            "badges": self.badges,
            "titles": self.titles,
            "tags": {k: _iso(v) for k, v in self.tags.items()},
            "strikes": [s.to_json() for s in self.strikes],
            "status": self.status,
            "muted_until": _iso(self.muted_until),
            "banned_until": _iso(self.banned_until),
            "opted_out": self.opted_out,
            "joined_at": _iso(self.joined_at),
            "last_active_at": _iso(self.last_active_at),
            "counts": self.counts,
            "history": self.history,
            "texts": [list(t) for t in self.texts],
            "streak_days": self.streak_days,
            "cooldowns": self.cooldowns,
            "spent": sorted(self.spent),
            "windows": self.windows,
            "caps": self.caps,
            "attrs": self.attrs,
            "flows": self.flows,
            "gaps": self.gaps,
            "silence": self.silence,
            "spending": self.spending,
            "variants": self.variants,
            **({"person": self.person} if self.person is not None else {}),
            **({"accounts": self.accounts} if self.accounts else {}),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MemberState:
        return cls(
            id=d["id"],
            community=d["community"],
            name=d.get("name"),
            roles=tuple(d.get("roles", ())),
            created_at=_dt(d.get("created_at")),
            balances=dict(d.get("balances", {})),
            earned=dict(d.get("earned", {})),
            ledger_seq=d.get("ledger_seq", 0),
            revocable=[list(c) for c in d.get("revocable", [])],
            level=d.get("level"),
            level_name=d.get("level_name"),
            level_locked=d.get("level_locked", False),
            promoted_at=_dt(d.get("promoted_at")),
            level_due=d.get("level_due"),
            lots={k: [list(lot) for lot in v] for k, v in d.get("lots", {}).items()},
            forfeited=dict(d.get("forfeited", {})),
            badges=dict(d.get("badges", {})),
            titles=list(d.get("titles", [])),
            tags={k: _dt(v) for k, v in d.get("tags", {}).items()},
            strikes=[Strike.from_json(s) for s in d.get("strikes", [])],
            status=d.get("status", "active"),
            muted_until=_dt(d.get("muted_until")),
            banned_until=_dt(d.get("banned_until")),
            opted_out=d.get("opted_out", False),
            joined_at=_dt(d.get("joined_at")),
            last_active_at=_dt(d.get("last_active_at")),
            counts=dict(d.get("counts", {})),
            history={k: list(v) for k, v in d.get("history", {}).items()},
            texts=[(t[0], t[1]) for t in d.get("texts", [])],
            streak_days={k: list(v) for k, v in d.get("streak_days", {}).items()},
            cooldowns=dict(d.get("cooldowns", {})),
            spent=set(d.get("spent", [])),
            windows={k: list(v) for k, v in d.get("windows", {}).items()},
            caps={k: list(v) for k, v in d.get("caps", {}).items()},
            attrs=dict(d.get("attrs", {})),
            flows=dict(d.get("flows", {})),
            gaps=list(d.get("gaps", [])),
            silence=dict(d.get("silence", {})),
            spending=dict(d.get("spending", {})),
            variants=dict(d.get("variants", {})),
            person=d.get("person"),
            accounts=[list(a) for a in d.get("accounts", [])],
        )

    def snapshot(self, now: datetime | None) -> dict[str, Any]:
        """The member as docs/reference.md §6 shows it in a state snapshot (``variants``
        only for a member exposed to an experiment)."""
        at = now or EPOCH
        out: dict[str, Any] = {
            "balances": dict(self.balances),
            "level": self.level,
            "level_name": self.level_name,
            "badges": sorted(self.badges),
            "titles": list(self.titles),
            "tags": sorted(self.tag_names(at)),
            "strikes": self.active_strikes(at),
            "status": self.status_at(at),
            "opted_out": self.opted_out,
            "flows": dict(self.flows),
            "attrs": dict(self.attrs),
            "joined_at": _iso(self.joined_at),
            "last_active_at": _iso(self.last_active_at),
        }
        if self.variants:
            out["variants"] = dict(self.variants)
        if self.person is not None:
            out["person"] = self.person
        if self.accounts:
            out["accounts"] = [list(a) for a in self.accounts]
        return out


@dataclass(slots=True)
class Timer:
    """A persisted wake-up: it comes back as an ordinary (internal) event when due.

    Timers order by (due, seq) — the heap's order.  ``__lt__`` is written out rather than
    generated (``order=True`` builds two tuples per comparison): popping a timer from a
    heap of a million costs about 20 comparisons, and this halves their cost.
    """

    due: float  # epoch seconds; the heap orders by (due, seq)
    seq: int
    id: str = field(compare=False)
    kind: str = field(compare=False)  # unmute | unban | untag | strike_expire | ...
    community: str = field(compare=False)
    member: str | None = field(compare=False)
    rule: str = field(compare=False)  # the rule or playbook section responsible
    payload: dict[str, Any] = field(compare=False, default_factory=dict)

    def __lt__(self, other: Timer) -> bool:
        due = self.due
        other_due = other.due
        return due < other_due or (due == other_due and self.seq < other.seq)

    def to_json(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "seq": self.seq,
            "id": self.id,
            "kind": self.kind,
            "community": self.community,
            "member": self.member,
            "rule": self.rule,
            "payload": self.payload,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Timer:
        return cls(
            d["due"],
            d["seq"],
            d["id"],
            d["kind"],
            d["community"],
            d["member"],
            d["rule"],
            d.get("payload", {}),
        )


def _new_member_function() -> Callable[[str, str], MemberState]:
    """``new_member(id, community)``: ``MemberState(id=id, community=community)``,
    without the dataclass ``__init__``'s test and factory call per field.

    A first-seen member is made on the per-event path; its ``__init__`` calls a factory
    for each of its many empty containers.  This function is written from the fields
    of :class:`MemberState` when the module loads (so it follows them): the empty
    dicts, lists and sets as literals, the other defaults as constants.
    """
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": MemberState}
    literals: dict[Any, str] = {dict: "{}", list: "[]", set: "{*()}"}
    lines = ["def new_member(id, community):", "    m = _new(_cls)"]
    for n, f in enumerate(fields(MemberState)):
        if f.name in ("id", "community"):
            value = f.name
        elif f.default_factory in literals:
            value = literals[f.default_factory]
        elif f.default_factory is not MISSING:
            ns[f"_f{n}"] = f.default_factory
            value = f"_f{n}()"
        else:
            ns[f"_d{n}"] = f.default
            value = f"_d{n}"
        lines.append(f"    m.{f.name} = {value}")
    lines.append("    return m")
    exec("\n".join(lines), ns)
    made: Callable[[str, str], MemberState] = ns["new_member"]
    return made


#: A new member's state: ``new_member(id, community)`` (see _new_member_function).
new_member = _new_member_function()


class MemberSource(Protocol):
    """Where members not in memory come from: the store that persisted them."""

    def load_member(self, community: str, member: str) -> MemberState | None:
        """The stored state of one member, or None if the store has none."""
        ...

    def member_ids(self, community: str) -> Iterator[str]:
        """The ids of every stored member of ``community`` (any order)."""
        ...

    def load_members(self, community: str, members: Sequence[str]) -> dict[str, MemberState]:
        """The stored state of each of ``members`` that the store has (one query for a
        chunk of events: :meth:`State.prefetch_members`)."""
        ...


class TimerSource(Protocol):
    """Where pending timers not in memory come from: the store that persisted them.

    A state with a timer source holds in memory every pending timer due before its
    ``timers_until``, and the ones added since it was opened; the others stay in the
    store until the clock comes near them (:meth:`State.pop_due` loads the next ones).
    """

    def load_timers(self, start: float, limit: int) -> tuple[list[Timer], float]:
        """The stored timers due at or after ``start``, earliest first — about ``limit``
        of them — and the boundary before which every stored timer is among them
        (``math.inf``: all)."""
        ...

    def timer_pending(self, timer_id: str, start: float) -> bool:
        """Whether a timer ``timer_id`` is stored, due at or after ``start``."""
        ...


#: The kind of the heap entry that stands for the stored timers not loaded yet (at the
#: state's ``timers_until``): never fired, never stored.
MORE_TIMERS = "\0more-timers"


def _more_timers(due: float) -> Timer:
    """The heap entry at ``due`` that makes :meth:`State.pop_due` load the next timers;
    it orders before any timer due at the same time."""
    return Timer(due, -1, MORE_TIMERS, MORE_TIMERS, "", None, "")


@dataclass(slots=True)
class CommunityState:
    """Community-level state: the members in memory, and bookkeeping shared by them.

    ``members`` holds the members in use; with a ``source``, any other member is loaded
    from it when first needed (:meth:`member`, :meth:`find`) — so ``members`` is a
    cache, and :meth:`member_ids` lists them all."""

    name: str
    members: dict[str, MemberState] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # lottery stock, leaderboards, schedules
    source: MemberSource | None = field(default=None, compare=False, repr=False)
    #: Members the source was just asked for and does not have (State.prefetch_members):
    #: not asked again until the state forgets this (State.forget_absent, State.evict).
    absent: set[str] = field(default_factory=set, compare=False, repr=False)

    def member(self, member_id: str) -> MemberState:
        """The member, loaded or created (a new member) if not in memory."""
        m = self.members.get(member_id)
        if m is None:
            m = self.find(member_id)
            if m is None:
                m = self.members[member_id] = new_member(member_id, self.name)
        return m

    def find(self, member_id: str) -> MemberState | None:
        """The member, loaded if not in memory; None for a member never seen."""
        m = self.members.get(member_id)
        if m is None and self.source is not None and member_id not in self.absent:
            m = self.source.load_member(self.name, member_id)
            if m is not None:
                self.members[member_id] = m
        return m

    def peek(self, member_id: str) -> MemberState | None:
        """Like :meth:`find`, without keeping a loaded member in memory: for reading
        every member (a broadcast's audience, a snapshot) without holding them all."""
        m = self.members.get(member_id)
        if m is None and self.source is not None and member_id not in self.absent:
            m = self.source.load_member(self.name, member_id)
        return m

    def member_ids(self) -> list[str]:
        """Every member's id, in memory or stored, sorted."""
        ids = set(self.members)
        if self.source is not None:
            ids.update(self.source.member_ids(self.name))
        return sorted(ids)


@dataclass(slots=True)
class State:
    """The whole state one engine works on: communities, the clock and pending timers."""

    communities: dict[str, CommunityState] = field(default_factory=dict)
    clock: datetime | None = None
    timers: list[Timer] = field(default_factory=list)  # a heap ordered by (due, seq)
    timer_ids: set[str] = field(default_factory=set)
    timer_seq: int = 0
    #: How far each source that connects by itself has read (name -> its position:
    #: an update id, a gateway session...), committed with the engine's transaction
    #: (docs/plugins.md, "Adapters that connect by themselves").
    cursors: dict[str, str] = field(default_factory=dict)
    #: A cursor changed since the last commit: a store commits even a batch without
    #: decisions then (a delivery that mapped to no event still moves its source on).
    cursors_moved: bool = field(default=False, compare=False, repr=False)
    #: Where members not in memory are loaded from (None: all members are in memory).
    source: MemberSource | None = field(default=None, compare=False, repr=False)
    #: Where pending timers not in memory are loaded from, and the time before which
    #: every pending timer is in memory (inf: all of them; see :class:`TimerSource`).
    timer_source: TimerSource | None = field(default=None, compare=False, repr=False)
    timers_until: float = field(default=math.inf, compare=False, repr=False)

    #: How many stored timers a state loads at once.
    TIMER_WINDOW = 10_000

    def community(self, name: str) -> CommunityState:
        c = self.communities.get(name)
        if c is None:
            c = self.communities[name] = CommunityState(name=name, source=self.source)
        return c

    def load_all_members(self) -> State:
        """Bring every stored member into memory (for tools and tests on small stores:
        a state whose store is closed can load nothing more).  Returns ``self``."""
        for c in self.communities.values():
            for mid in c.member_ids():
                c.find(mid)
        return self

    def prefetch_members(self, keys: Iterable[tuple[str, str]]) -> int:
        """Load the members ``keys`` (community, id) names that are stored but not in
        memory, a community at a time (what a chunk of events will need, in one query
        rather than one per member).  Returns how many were loaded."""
        source = self.source
        if source is None:
            return 0
        wanted: dict[str, dict[str, None]] = {}
        communities = self.communities
        name: str | None = None  # the community of the key before, and its members
        known: dict[str, MemberState] | None = None
        for community, member in keys:
            if community != name:
                c = communities.get(community)
                name, known = community, (c.members if c is not None else None)
            if known is None or member not in known:
                wanted.setdefault(community, {})[member] = None
        loaded = 0
        for community, members in wanted.items():
            found = source.load_members(community, list(members))
            c = self.communities.get(community)
            if c is None:  # (a community is only made by the engine: it arms schedules)
                if not found:
                    continue
                c = self.community(community)
            in_memory = c.members
            for member, m in found.items():
                if member not in in_memory:
                    in_memory[member] = m
                    loaded += 1
            c.absent.update(member for member in members if member not in found)
        return loaded

    def forget_absent(self) -> None:
        """Forget which members :meth:`prefetch_members` found missing (they may be
        stored since: call when the chunk of events it was for is done)."""
        for c in self.communities.values():
            if c.absent:
                c.absent.clear()

    def members_in_memory(self) -> int:
        """How many members the communities hold in memory (not counting stored ones)."""
        return sum(len(c.members) for c in self.communities.values())

    def evict(self, capacity: int, keep: set[tuple[str, str]]) -> int:
        """Drop members from memory, oldest loaded first, until at most ``capacity`` are
        left, keeping those in ``keep``.  Only for a state with a source, and only when
        what is dropped is stored (call after a commit).  Returns how many went."""
        if self.source is None:
            return 0
        self.forget_absent()  # (a member created since may be stored and let go now)
        total = self.members_in_memory()
        dropped = 0
        for c in self.communities.values():
            if total - dropped <= capacity:
                break
            members = c.members
            for mid in list(members):
                if total - dropped <= capacity:
                    break
                if (c.name, mid) not in keep:
                    del members[mid]
                    dropped += 1
        return dropped

    def add_timer(self, timer: Timer) -> bool:
        """Schedule ``timer`` unless one with the same id is pending.  True if added."""
        if timer.id in self.timer_ids:
            return False
        until = self.timers_until
        source = self.timer_source
        if until != math.inf and source is not None and source.timer_pending(timer.id, until):
            return False  # stored, due later than what is in memory
        self.timer_seq += 1
        timer.seq = self.timer_seq
        heapq.heappush(self.timers, timer)
        self.timer_ids.add(timer.id)
        return True

    def pop_due(self, until: float) -> Timer | None:
        """Remove and return the earliest timer due at or before ``until`` (loading the
        next stored timers when the clock reaches ``timers_until``)."""
        timers = self.timers
        while timers and timers[0].due <= until:
            timer = heapq.heappop(timers)
            if timer.kind == MORE_TIMERS and timer.seq == -1:
                self._load_timers()
                continue
            self.timer_ids.discard(timer.id)
            return timer
        return None

    def _load_timers(self) -> None:
        source = self.timer_source
        assert source is not None
        self.take_timers(*source.load_timers(self.timers_until, self.TIMER_WINDOW))

    def take_timers(self, loaded: list[Timer], until: float) -> None:
        """Add stored timers to memory: ``loaded``, which holds every stored timer due
        before ``until`` and after those in memory (a store opening the state gives its
        first :attr:`TIMER_WINDOW`; :meth:`pop_due` loads the next ones from
        ``timer_source`` when the clock reaches ``until``)."""
        ids = self.timer_ids
        for timer in loaded:
            if timer.id not in ids:  # (in memory already: added since, not yet let go)
                heapq.heappush(self.timers, timer)
                ids.add(timer.id)
            if timer.seq > self.timer_seq:
                self.timer_seq = timer.seq
        self.timers_until = until
        if until != math.inf:
            heapq.heappush(self.timers, _more_timers(until))

    def let_go_of_timers(self, keep: set[str]) -> int:
        """Drop from memory the timers due at or after ``timers_until`` (they are stored:
        call once what added them is durable), except those in ``keep``, when there are
        more than :attr:`TIMER_WINDOW` of them.  Returns how many went."""
        until = self.timers_until
        if self.timer_source is None or until == math.inf:
            return 0
        later = sum(1 for t in self.timers if t.due >= until)
        if later <= self.TIMER_WINDOW:
            return 0
        kept = [t for t in self.timers if t.due < until or t.id in keep or t.seq == -1]
        gone = len(self.timers) - len(kept)
        heapq.heapify(kept)
        self.timers[:] = kept
        self.timer_ids = {t.id for t in kept if t.seq != -1 or t.kind != MORE_TIMERS}
        return gone

    def pending_timers(self) -> list[Timer]:
        """The pending timers in memory, in firing order (without the marker of those
        still stored)."""
        return sorted(t for t in self.timers if not (t.seq == -1 and t.kind == MORE_TIMERS))

    def snapshot(self) -> dict[str, Any]:
        """The docs/reference.md §6.6 state snapshot."""

        def one(c: CommunityState) -> dict[str, Any]:
            members = {}
            for mid in c.member_ids():
                m = c.peek(mid)
                if m is not None:
                    members[mid] = m.snapshot(self.clock)
            return {"members": members, "community": dict(c.data)}

        if len(self.communities) <= 1:
            only = next(iter(self.communities.values()), CommunityState(name="default"))
            return one(only)
        return {"communities": {name: one(c) for name, c in sorted(self.communities.items())}}
