"""A batch of decisions as the rows a SQL store writes: serialisation shared by the
SQLite and PostgreSQL stores (no SQL here, no dialect).

:func:`serialise` reduces a batch (base.collect) to :class:`Rows`: JSON texts and the
columns reports aggregate (whole Unix seconds, community, type, rule...), one tuple per
row.  Serialising never fails a batch: a value JSON cannot
hold is replaced (:func:`storable`) and the replacement recorded as a rule error of the
``store`` (:class:`Lenient`).  :func:`number_outbox_rows` gives the batch's outbox rows
their sequence numbers, one per distinct key; :func:`numbered_outbox_rows` (SQLite) also
their ``first`` flags (:func:`first_flags`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from ..model.decision import ActionRecord, Decision, RuleFailure
from ..model.state import LedgerEntry, MemberState, State, Strike, ts
from .base import OutboxItem, collect
from .records import ActivityCounter, DayTotals, MemberMarks, add_totals, trace_rows
from .reports import audit_fields, is_direct


def encode_default(value: Any) -> Any:
    """orjson's ``default``: sets as sorted lists (the rest cannot be stored)."""
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _member_sample() -> MemberState:
    at = datetime(2026, 3, 2, 20, 15, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    utc = datetime(2026, 1, 1, tzinfo=UTC)
    member = MemberState(
        id="u",
        community="c",
        name="n",
        roles=("r",),
        created_at=utc,
        balances={"p": 1},
        earned={"p": 1},
        ledger_seq=2,
        revocable=[[1, 2.5, "p", 1, "r", "e", "m"], [2, 3.5, "p", 1, "r", "e", None]],
        level=1,
        level_name="l",
        level_locked=True,
        promoted_at=at,
        level_due=3.5,
        lots={"p": [[1, 2.5, 1, 1]]},
        forfeited={"p": 1},
        badges={"b": {"n": 1}},
        titles=["t"],
        tags={"a": at, "b": None},
        strikes=[Strike(at, "r", "r", None), Strike(utc, "r", "r", at)],
        status="muted",
        muted_until=at,
        banned_until=utc,
        opted_out=True,
        joined_at=at,
        last_active_at=at,
        counts={"x": 1},
        history={"x": [1.5]},
        texts=[(1.5, "t")],
        cooldowns={"r": 2.5},
        spent={"b", "a"},
        windows={"w": [1.0]},
        caps={"c": [1, 2]},
        attrs={"a": [1]},
        flows={"f": {"s": 1}},
        spending={"count": 2, "last": 1.5, "totals": {"CNY": "199.90"}},
        person="p1",
        accounts=[["c", "u"], ["d", "v"]],
        streak_days={"checkin": [1, 2]},
        gaps=[1.5],
        silence={"s": 2.5},
        variants={"e": "a"},
    )
    return member


def _stored_fields_function() -> Callable[[MemberState], dict[str, Any]]:
    """A function giving a member's fields without the empty or unset ones, generated
    from ``MemberState``'s fields (one test per field, no loop: this runs for every
    member a commit writes).  A container field is left out when empty; another when
    None or False."""
    lines = ["def stored_fields(m):", "    out = {}"]
    for f in fields(MemberState):
        container = f.default_factory is not MISSING or isinstance(f.default, tuple)
        lines.append(f"    v = m.{f.name}")
        if container:
            lines.append(f"    if v: out[{f.name!r}] = v")
        else:
            lines.append(f"    if v is not None and v is not False: out[{f.name!r}] = v")
    lines.append("    return out")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)  # the field names of a dataclass
    function: Callable[[MemberState], dict[str, Any]] = namespace["stored_fields"]
    return function


_stored_fields = _stored_fields_function()


def _native_equals_to_json(sample: MemberState) -> bool:
    """True if orjson's own encoding of the stored fields of ``sample`` (a dict of the
    dataclass's values: :func:`_stored_fields`) equals the same keys of its
    ``to_json()``.

    orjson encodes those values natively, 2-3 times faster than building the
    ``to_json()`` dict and dumping it.  That is only valid while every field maps to the
    key of the same name with the same JSON value (datetimes included); if ``state.py``
    ever diverges, the store falls back to ``to_json()``.  Only the fields a member row
    holds are compared: ``to_json()`` may leave out an unset field (``person``) that a
    row leaves out too.
    """
    out = _stored_fields(sample)
    try:
        native = orjson.loads(orjson.dumps(out, default=encode_default))
    except TypeError:
        return False
    reference = {k: v for k, v in sample.to_json().items() if k in out}
    return bool(native == orjson.loads(orjson.dumps(reference)))


_NATIVE_MEMBER = _native_equals_to_json(_member_sample())


def encode_member(m: MemberState) -> str:
    """The JSON text stored for a member: its state without empty or unset fields, which
    ``MemberState.from_json`` restores as defaults.  Compact rows mean fewer pages
    written per commit."""
    out = _stored_fields(m)
    if _NATIVE_MEMBER:
        return orjson.dumps(out, default=encode_default).decode()
    return orjson.dumps({k: v for k, v in m.to_json().items() if k in out}).decode()


@dataclass(slots=True)
class Rows:
    """One serialised batch, ready to write."""

    causes: list[str]
    #: The store's clock after the batch (epoch seconds): its processed ids' time.
    clock: float
    #: community, member, seq, json, then the report columns (ledger_rows)
    ledger: list[tuple[Any, ...]]
    #: key, json, status, then the report columns (action_rows); or, with ``next_seq``,
    #: the numbered and flagged rows of numbered_outbox_rows
    actions: list[tuple[Any, ...]]
    timers_add: list[tuple[str, float, str]]
    timers_del: list[tuple[str]]
    errors: list[tuple[str]]
    #: json, then the report columns (audit_rows)
    audit: list[tuple[Any, ...]]
    review: list[tuple[str]]
    meta: list[tuple[str, str]]
    activity: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    #: The outbox's next sequence number after ``actions``, when they are numbered.
    next_seq: int | None = None
    #: community, day, type, events (records.DayTotals)
    totals: list[tuple[str, str, str, int]] = field(default_factory=list)
    #: community, member, mark, day (records.MemberMarks)
    marks: list[tuple[str, str, str, str]] = field(default_factory=list)
    traces: list[tuple[str, str, str, str | None, float, str]] = field(default_factory=list)
    #: community, id, json, joined (Unix seconds), status
    members: list[tuple[str, str, str, int | None, str]] = field(default_factory=list)
    members_gone: list[tuple[str, str]] = field(default_factory=list)
    communities: list[tuple[str, str]] = field(default_factory=list)
    communities_gone: list[tuple[str]] = field(default_factory=list)
    communities_seen: list[tuple[str, str]] = field(default_factory=list)
    #: The community of each row of ``timers_add``, in order.
    timer_communities: list[str] = field(default_factory=list)


#: Ledger amounts beyond this are kept as floats in the ``amount`` column (SQLite
#: integers have 64 bits; the JSON keeps the exact value).
AMOUNT_LIMIT = 2**62


def ledger_rows(
    ledger: list[tuple[str, str, LedgerEntry]], dumps: Callable[[Any], bytes]
) -> list[tuple[Any, ...]]:
    """The batch's ledger rows, with the columns a report sums (``ts``, ``currency``,
    ``kind``, ``amount``).  Entries are written once (``reversed_by`` is derived when
    the ledger is read), so each counts once.

    The JSON is ``LedgerEntry.to_json()`` written out, its time left to the encoder
    (orjson writes an aware datetime as ``isoformat`` does, and :func:`storable` uses
    ``isoformat``): no method call and no ``isoformat`` per entry on the commit path.
    """
    out: list[tuple[Any, ...]] = []
    append = out.append
    last_at, last_ts = None, None  # the entries of a decision share their instant
    for c, m, e in ledger:
        at = e.at
        body = {
            "seq": e.seq,
            "currency": e.currency,
            "amount": e.amount,
            "kind": e.kind,
            "reason": e.reason,
            "rule": e.rule,
            "cause": e.cause,
            "key": e.key or e.action_key(),
            "at": at,
        }
        if e.ref is not None:
            body["ref"] = e.ref
        if e.reverses is not None:
            body["reverses"] = e.reverses
        if e.reversed_by is not None:
            body["reversed_by"] = e.reversed_by
        if e.origin is not None:  # a person's entry: the account where it happened
            body["community"], body["member"] = e.origin
        if at is not last_at:
            last_at, last_ts = at, unix_seconds(at)
        amount: float = e.amount
        if not -AMOUNT_LIMIT < amount < AMOUNT_LIMIT:
            amount = float(amount)
        append((c, m, e.seq, dumps(body).decode(), last_ts, e.currency, e.kind, amount))
    return out


def action_rows(
    actions: list[ActionRecord],
    platforms: dict[str, str],
    outbox_json: Callable[[ActionRecord, dict[str, str]], str] | None = None,
) -> list[tuple[Any, ...]]:
    """The batch's outbox rows (without ``seq``), with the columns reports group by.

    ``outbox_json`` encodes a row's JSON; without it, :func:`outbox_json` is written
    out in the loop (this runs for every action a commit writes)."""
    out: list[tuple[Any, ...]] = []
    append = out.append
    dumps = orjson.dumps
    last_at, last_ts = None, None  # the actions of a decision mostly share their instant
    for a in actions:
        at = a.at
        if at is not last_at:
            last_at, last_ts = at, unix_seconds(at)
        key = a.key
        shadow = a.shadow
        type_ = a.type
        if outbox_json is None:  # outbox_json(a, platforms), written out
            body: dict[str, Any] = {"at": at, "params": a.params}
            if shadow:
                body["shadow"] = True
            if platforms:
                platform = platforms.get(key)
                if platform is not None:
                    body["platform"] = platform
            js = dumps(body).decode()
        else:
            js = outbox_json(a, platforms)
        append(
            (
                key,
                js,
                "shadow" if shadow else "pending",
                last_ts,
                a.community,
                type_,
                a.rule,
                a.cause,
                a.member,
                type_ == "send" and is_direct(a),
            )
        )
    return out


def audit_rows(
    entries: list[dict[str, Any]], dumps: Callable[[Any], bytes]
) -> list[tuple[Any, ...]]:
    """The batch's audit rows, with the columns reports group by."""
    return [(dumps(e).decode(), audit_seconds(e.get("at")), *audit_fields(e)) for e in entries]


def outbox_body(action: ActionRecord, platform: str | None) -> dict[str, Any]:
    """What an outbox row's JSON holds: what its columns do not (the action's exact
    time, its parameters, whether it is a shadow action and its event's platform)."""
    body: dict[str, Any] = {"at": action.at, "params": action.params}
    if action.shadow:
        body["shadow"] = True
    if platform is not None:
        body["platform"] = platform
    return body


def outbox_json(action: ActionRecord, platforms: dict[str, str]) -> str:
    """The outbox row's JSON (:func:`outbox_body`); the key, type, member, rule, cause
    and community are columns of the row."""
    platform = platforms.get(action.key) if platforms else None
    return orjson.dumps(outbox_body(action, platform)).decode()


def outbox_action(
    body: dict[str, Any],
    key: str,
    type_: str | None,
    rule: str | None,
    cause: str | None,
    member: str | None,
    community: str | None,
) -> ActionRecord:
    """The action of an outbox row: from its columns and JSON body, or, in a row written
    when the JSON held the whole action (SQLite schema 6 and older), from its JSON."""
    if "key" in body:
        return ActionRecord.from_json(body)
    return ActionRecord(
        key=key,
        type=type_ or "",
        member=member,
        rule=rule or "",
        cause=cause or "",
        at=datetime.fromisoformat(body["at"]),
        params=body["params"],
        community=community or "default",
        shadow=bool(body.get("shadow")),
    )


OUTBOX_COLUMNS = (
    "seq, json, status, attempts, last_error, key, type, rule, cause, member, community"
)


def outbox_item(row: Sequence[Any]) -> OutboxItem:
    """The outbox item of a row of :data:`OUTBOX_COLUMNS`."""
    seq, js, status, attempts, error, *columns = row
    body = orjson.loads(js)
    action = outbox_action(body, *columns)
    return OutboxItem(seq, action, status, attempts, error, body.get("platform"))


#: The integers JSON rows can hold (orjson's range).
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_MAX_DEPTH = 64


def storable(value: Any, notes: list[str], depth: int = 0) -> Any:
    """``value`` with everything a JSON row cannot hold replaced: integers beyond 64
    bits by their decimal text, NaN and infinities by null, sets by sorted lists, other
    objects by ``"<type name>"``, nesting beyond 64 levels by ``"<too deep>"``; each
    replacement is described in ``notes``."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if _INT_MIN <= value <= _INT_MAX:
            return value
        notes.append("an integer wider than 64 bits was stored as text")
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        notes.append(f"{value} was stored as null")
        return None
    if depth >= _MAX_DEPTH:
        notes.append(f"data nested deeper than {_MAX_DEPTH} levels was cut")
        return "<too deep>"
    if isinstance(value, dict):
        return {str(k): storable(v, notes, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v, notes, depth + 1) for v in value]
    if isinstance(value, set | frozenset):
        return [storable(v, notes, depth + 1) for v in sorted(value, key=repr)]
    if isinstance(value, datetime):
        return value.isoformat()
    notes.append(f"a {type(value).__name__} value was stored as its type name")
    return f"<{type(value).__name__}>"


class Lenient:
    """Encoders for a batch that held a value JSON cannot (see :func:`storable`)."""

    def __init__(self, state: State) -> None:
        self.errors: list[RuleFailure] = []
        self._at = state.clock or datetime.now(UTC)

    def _note(self, notes: list[str], cause: str, where: str) -> None:
        for note in dict.fromkeys(notes):
            self.errors.append(RuleFailure("store", cause, f"{where}: {note}", self._at))

    def dumps(self, value: Any, cause: str = "store", where: str = "a stored record") -> bytes:
        try:
            return orjson.dumps(value, default=encode_default)
        except TypeError:
            notes: list[str] = []
            out = orjson.dumps(storable(value, notes))
            if isinstance(value, dict):
                cause = str(value.get("cause") or value.get("event") or cause)
            self._note(notes, cause, where)
            return out

    def member(self, m: MemberState) -> str:
        try:
            return encode_member(m)
        except TypeError:
            notes: list[str] = []
            text = orjson.dumps(storable(m.to_json(), notes)).decode()
            self._note(notes, "store", f"member {m.community}/{m.id}")
            return text

    def outbox_json(self, action: ActionRecord, platforms: dict[str, str]) -> str:
        try:
            return outbox_json(action, platforms)
        except (TypeError, ValueError):
            notes: list[str] = []
            platform = platforms.get(action.key) if platforms else None
            obj = storable(outbox_body(action, platform), notes)
            self._note(notes, action.cause, f"action {action.type} of rule {action.rule}")
            return orjson.dumps(obj).decode()


def unix_seconds(value: datetime | None) -> int | None:
    """Whole Unix seconds (rounded down) of an aware datetime; None for anything else."""
    if value is None or value.tzinfo is None:
        return None
    return int(value.timestamp() // 1)


def audit_seconds(value: object) -> int | None:
    """:func:`unix_seconds` of an audit entry's ``at`` (ISO text)."""
    if isinstance(value, str):
        try:
            return unix_seconds(datetime.fromisoformat(value))
        except ValueError:
            return None
    return unix_seconds(value) if isinstance(value, datetime) else None


def serialise(
    decisions: Sequence[Decision],
    state: State,
    counter: ActivityCounter,
    outbox_first: int | None = None,
) -> Rows:
    """Everything the batch writes, as rows (CPU only: no lock, no I/O).  With
    ``outbox_first``, the outbox rows are numbered from it and flagged
    (:func:`numbered_outbox_rows`, ``Rows.next_seq``); without, they are
    :func:`action_rows`'s.

    Should a value reach the store that JSON cannot hold (the reader and the engine keep
    them out; this is the last line), the batch is serialised again with such values
    replaced (:func:`storable`), and each replacement is recorded as a rule error of the
    ``store``.  The rows hold the state's cursors, so it is no longer ``cursors_moved``.
    """
    state.cursors_moved = False
    try:
        return batch_rows(decisions, state, counter, None, outbox_first)
    except TypeError:  # orjson.JSONEncodeError
        lenient = Lenient(state)
        rows = batch_rows(decisions, state, counter, lenient, outbox_first)
        rows.errors += [(orjson.dumps(e.to_json()).decode(),) for e in lenient.errors]
        return rows


#: The prefix of the ``meta`` keys that hold the sources' cursors (``State.cursors``).
CURSOR_PREFIX = "cursor:"


def cursor_rows(state: State) -> list[tuple[str, str]]:
    """The ``meta`` rows of the state's cursors (few: one per connected source)."""
    return [(CURSOR_PREFIX + name, value) for name, value in state.cursors.items()]


def cursors_from_meta(meta: dict[str, str]) -> dict[str, str]:
    """The cursors among a store's ``meta`` rows."""
    n = len(CURSOR_PREFIX)
    return {k[n:]: v for k, v in meta.items() if k.startswith(CURSOR_PREFIX)}


def batch_rows(
    decisions: Sequence[Decision],
    state: State,
    counter: ActivityCounter,
    lenient: Lenient | None,
    outbox_first: int | None = None,
) -> Rows:
    """The rows of a batch (``lenient``: with the encoders that replace what JSON cannot
    hold; None: orjson's, which raise TypeError on such a value)."""
    b = collect(decisions, state)
    dumps: Callable[[Any], bytes] = orjson.dumps if lenient is None else lenient.dumps
    member_text = encode_member if lenient is None else lenient.member
    action_json = None if lenient is None else lenient.outbox_json
    next_seq: int | None = None
    if outbox_first is None:
        actions = action_rows(b.actions, b.platforms, action_json)
    else:
        actions, next_seq = numbered_outbox_rows(
            b.actions, b.platforms, b.causes, outbox_first, action_json
        )
    rows = Rows(
        causes=b.causes,
        clock=ts(state.clock) if state.clock is not None else 0.0,
        ledger=ledger_rows(b.ledger, dumps),
        actions=actions,
        next_seq=next_seq,
        timers_add=[
            (t.id, t.due, dumps(t.to_json()).decode()) for t in b.timers.values() if t is not None
        ],
        timers_del=[(tid,) for tid, t in b.timers.items() if t is None],
        timer_communities=[t.community for t in b.timers.values() if t is not None],
        errors=[(dumps(e.to_json()).decode(),) for e in b.errors],
        audit=audit_rows(b.audit, dumps),
        review=[(dumps(r).decode(),) for r in b.review],
        meta=[
            ("clock", state.clock.isoformat() if state.clock is not None else ""),
            ("timer_seq", str(state.timer_seq)),
            *cursor_rows(state),
        ],
    )
    totals: DayTotals = {}
    marks: MemberMarks = {}
    activity = counter.count(decisions, {}, totals, marks)
    rows.marks = [(c, m, mark, day) for (c, m, mark), day in marks.items()]
    # (tuple concatenation: one C call per row, where ``(*key, n)`` goes through a list)
    rows.activity = [key + (n,) for key, n in activity.items()]  # noqa: RUF005
    rows.totals = [(c, day, t, n) for (c, day, t), n in add_totals(activity, totals).items()]
    traces = trace_rows(decisions)
    if traces:
        rows.traces = [
            (
                t["event"],
                t.get("cause", t["event"]),
                t["community"],
                t.get("member"),
                t["ts"],
                dumps(t).decode(),
            )
            for t in traces
        ]
    rows.members, rows.members_gone = member_rows(b.members, state, member_text)
    for name in b.communities:
        cs = state.communities.get(name)
        if cs is None:
            rows.communities_gone.append((name,))
        else:
            rows.communities.append((name, dumps(cs.data).decode()))
    rows.communities_seen = [(name, "{}") for name in {k[0] for k in rows.members} - b.communities]
    return rows


def member_rows(
    keys: set[tuple[str, str]], state: State, member_text: Callable[[MemberState], str]
) -> tuple[list[tuple[str, str, str, int | None, str]], list[tuple[str, str]]]:
    """The rows of the members a batch touched (community, id, JSON, joined, status),
    and the keys of those no longer in ``state``.  The members of a batch are mostly of
    one community: its members are looked up once per run of keys of the same one."""
    out: list[tuple[str, str, str, int | None, str]] = []
    gone: list[tuple[str, str]] = []
    communities = state.communities
    last: str | None = None
    members: Any = {}
    for key in keys:
        community, member = key
        if community != last:
            last = community
            cs = communities.get(community)
            members = cs.members if cs is not None else {}
        m = members.get(member)
        if m is None:
            gone.append(key)
            continue
        joined = m.joined_at
        out.append(
            (
                community,
                member,
                member_text(m),
                None if joined is None else unix_seconds(joined),
                m.status,
            )
        )
    return out, gone


def number_outbox_rows(
    actions: list[tuple[Any, ...]], causes: list[str], first: int
) -> tuple[list[tuple[Any, ...]], int]:
    """The outbox rows of the batch's actions (:func:`action_rows`): the first of each
    key, numbered from ``first``, and the next free sequence number (the PostgreSQL
    stores; SQLite's rows also carry their first flags: :func:`numbered_outbox_rows`).
    A row whose key is in the outbox already is ignored when written (the unique
    index), leaving its sequence number unused."""
    fresh: list[tuple[Any, ...]] = []
    new_keys: set[str] = set()
    for row in actions:
        if row[0] not in new_keys:
            new_keys.add(row[0])
            fresh.append(row)
    seqs = range(first, first + len(fresh))
    return [(n, *row) for n, row in zip(seqs, fresh, strict=True)], first + len(fresh)


def numbered_outbox_rows(
    actions: list[ActionRecord],
    platforms: dict[str, str],
    causes: list[str],
    first: int,
    outbox_json: Callable[[ActionRecord, dict[str, str]], str] | None = None,
) -> tuple[list[tuple[Any, ...]], int]:
    """The SQLite outbox rows of the batch's actions and the next free sequence number:
    the rows of :func:`action_rows`, the first of each key, numbered from ``first`` and
    ended with the first flag :func:`first_flags` gives it — in one pass over the actions
    and one tuple per row (the commit path of every SQLite batch).  An action whose key
    came earlier in the batch is not encoded: it is dropped.

    Row: seq, key, json, status, ts, community, type, rule, cause, member, direct, first.
    """
    decided = set(causes)
    seen: set[str] = set()
    out: list[tuple[Any, ...]] = []
    append = out.append
    dumps = orjson.dumps
    #: (cause, rule) -> the index in ``out`` of its first row (shadow: rule after NUL)
    firsts: dict[tuple[str, str], int] = {}
    unsure: list[tuple[str, str]] = []
    n = first
    last_at, last_ts = None, None  # the actions of a decision mostly share their instant
    for a in actions:
        key = a.key
        shadow = a.shadow
        rule = a.rule
        cause = a.cause
        pair = (cause, "\0" + rule if shadow else rule)
        if key in seen:  # dropped: its key is in the outbox already (from this batch)
            unsure.append(pair)
            continue
        seen.add(key)
        at = a.at
        if at is not last_at:
            last_at, last_ts = at, unix_seconds(at)
        j = firsts.get(pair)
        flag = 0
        if j is None:
            firsts[pair] = n - first
            if cause in decided:
                flag = 1
            else:
                unsure.append(pair)
        elif out[j][4] != last_ts:  # another instant than its first row
            unsure.append(pair)
        if outbox_json is None:  # outbox_json(a, platforms), written out
            body: dict[str, Any] = {"at": at, "params": a.params}
            if shadow:
                body["shadow"] = True
            if platforms:
                platform = platforms.get(key)
                if platform is not None:
                    body["platform"] = platform
            js = dumps(body).decode()
        else:
            js = outbox_json(a, platforms)
        type_ = a.type
        append(
            (
                n,
                key,
                js,
                "shadow" if shadow else "pending",
                last_ts,
                a.community,
                type_,
                rule,
                cause,
                a.member,
                type_ == "send" and is_direct(a),
                flag,
            )
        )
        n += 1
    if unsure:
        pairs = set(unsure)
        for i, row in enumerate(out):
            if (row[8], row[7] if row[3] != "shadow" else "\0" + row[7]) in pairs:
                out[i] = (*row[:-1], None)
    return out, n


def first_flags(
    rows: list[tuple[Any, ...]], dropped: list[tuple[Any, ...]], causes: list[str]
) -> list[int | None]:
    """The ``first`` flag of each outbox row a batch inserts: 1 on the first row of its
    (rule, cause) — live and shadow apart — and 0 on the others, so that counting the 1s
    counts the causes a rule acted on without a ``DISTINCT`` over every action; or NULL
    on every row of a (rule, cause) whose rows another batch may hold too (its cause is
    no decision of this batch: a deferred message released, a rule of an internal
    event; or one of its actions was in the outbox already) or that fall at several
    instants (perhaps on several days).  Reports count the NULL pairs apart.

    ``rows`` (inserted) and ``dropped`` (their key was in the outbox already) are laid
    out as _action_rows makes them: key, json, status, ts, community, type, rule, cause...
    Few allocations per row: this runs in the commit path.
    """
    decided = set(causes)
    flags: list[int | None] = [0] * len(rows)
    #: cause -> rule (shadow: prefixed with NUL) -> the index of its first row
    firsts: dict[str, dict[str, int]] = {}
    unsure = [(row[7], row[6] if row[2] != "shadow" else "\0" + row[6]) for row in dropped]
    for i, row in enumerate(rows):
        cause, rule = row[7], row[6] if row[2] != "shadow" else "\0" + row[6]
        by_rule = firsts.get(cause)
        if by_rule is None:
            by_rule = firsts[cause] = {}
        j = by_rule.get(rule)
        if j is None:
            by_rule[rule] = i
            if cause in decided:
                flags[i] = 1
            else:
                unsure.append((cause, rule))
        elif rows[j][3] != row[3]:
            unsure.append((cause, rule))
    if unsure:
        pairs = set(unsure)
        for i, row in enumerate(rows):
            if (row[7], row[6] if row[2] != "shadow" else "\0" + row[6]) in pairs:
                flags[i] = None
    return flags
