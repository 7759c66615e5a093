"""What each built-in action does to state, and what it emits (DESIGN.md §5.3, §6)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .badges import do_grant_badge, do_revoke_badge
from .context import EvalContext
from .currencies import add_lot, debit_lots, expired_of, forfeit_revoked
from .decision import ActionRecord
from .errors import ActionError
from .events import MAX_EVENT_DEPTH, MAX_INT, MIN_INT, event_to_json
from .expr_runtime import to_str
from .levels import do_lock_level, do_set_level
from .messaging import deliver
from .periods import PeriodCache
from .state import LedgerEntry, MemberState, Strike, Timer, ts

if TYPE_CHECKING:
    from .compiler import CompiledAction


#: The largest amount one action may move (balances stay well inside 64-bit integers).
MAX_AMOUNT = 10**12
#: The most a member may earn of one currency in all (lifetime credits, which bound the
#: balance and leaderboard scores): an award beyond it fails, so that every amount the
#: state holds fits in a signed 64-bit integer.
MAX_EARNED = 10**18
#: The deepest structure (objects and lists within one another) a value an action
#: computes may have: the bound of events (docs/language.md, "Events").
MAX_VALUE_DEPTH = MAX_EVENT_DEPTH
#: Events a moderator sends to act on a member (handled when the playbook has
#: `moderation:`): data.member is the member, data.reason the reason.
MODERATOR_EVENTS = frozenset({"moderation.strike", "moderation.strike_reset"})


class ActionRefused(Exception):
    """An action had no effect and its rule's `else:` should run (a short `spend`)."""


class Run(EvalContext):
    """The scope in which one event's rules evaluate and act.

    It is the :class:`EvalContext` conditions and templates read, plus what actions need
    (the engine, the decision being built, the internal-event queue, the current rule),
    so one object per event serves both.
    """

    __slots__ = ()

    @property
    def member(self) -> MemberState | None:
        m: MemberState | None = self.m
        return m

    @property
    def c(self) -> EvalContext:
        return self

    def for_member(self, member: MemberState, rule: str) -> Run:
        """The same event's scope, acting for ``member`` under ``rule`` (strike ladders)."""
        run = Run(self.event, member, self.now, self.now_ts, self.community, self.vars,
                  self.default_currency, self.tz, self.engine, self.d, self.queue, rule)
        run.match = self.match  # what the rule's detectors found, for `{{ match }}`
        return run

    @property
    def at(self) -> datetime:
        return self.event.at

    def value(self, action: CompiledAction, name: str, default: Any = None) -> Any:
        """The parameter ``name`` for this event.  One computed from an expression is
        checked to be storable: an integer beyond 64 bits, a float that is not finite
        or a structure nested too deeply fails the action (ActionError)."""
        fn = action.values.get(name)
        if fn is not None:
            value = fn(self)
            if value is None or type(value) is str:
                return value
            return in_range(value, name)
        value = action.consts.get(name, default)
        return default if value is None else value

    def text(self, action: CompiledAction, name: str, default: str = "") -> str:
        """The parameter ``name`` as text (any value can be written as one)."""
        fn = action.values.get(name)
        value = fn(self) if fn is not None else action.consts.get(name)
        return default if value is None else str(value)

    def target(self, action: CompiledAction) -> MemberState | None:
        """The member an action applies to: its `to:`, else the event's member."""
        to = self.value(action, "to")
        if to is None or to == "":
            return self.member
        if not isinstance(to, str | int):
            raise ActionError(f"`to:` must be a member id, got {type(to).__name__}")
        m: MemberState = self.engine.state.community(self.event.community).member(str(to))
        self.d.touched.add((m.community, m.id))
        return m

    def require_target(self, action: CompiledAction) -> MemberState:
        m = self.target(action)
        if m is None:
            raise ActionError(f"`{action.name}` needs a member: the event has none; give `to:`")
        return m

    def emit(self, action: CompiledAction, member: str | None, params: dict[str, Any],
             at: datetime | None = None) -> ActionRecord:
        event = self.event
        record = ActionRecord(
            None, action.name, member, self.rule, event.id, at or event.at, params,
            event.community, action.key_source,
        )
        self.d.actions.append(record)
        return record

    def audit(self, action: str, member: str | None, reason: str) -> None:
        event = self.event
        # Moderators' own events (moderation.strike...) name the moderator as the actor.
        actor = "engine"
        if event.type in MODERATOR_EVENTS and event.member is not None:
            actor = event.member.id
        self.d.add_audit({
            "at": self.at.isoformat(),
            "rule": self.rule,
            "event": event.id,
            "member": member,
            "community": event.community,
            "action": action,
            "reason": reason,
            "actor": actor,
        })

    def add_timer(self, kind: str, due: datetime, member: str | None,
                  payload: dict[str, Any]) -> None:
        community = self.event.community
        timer = Timer(
            due=ts(due), seq=0,
            id=f"{kind}:{community}:{member}:{payload.get('name', '')}:{due.isoformat()}",
            kind=kind, community=community, member=member, rule=self.rule, payload=payload,
        )
        self.engine.add_timer(self.d, timer)


# -- storable values ------------------------------------------------------------------------
def _too_big(value: int) -> str:
    bits = value.bit_length()
    text = str(value) if bits <= 200 else f"an integer of {bits} bits"
    return text if len(text) <= 40 else text[:40] + "..."


def _too_deep(path: str) -> ActionError:
    return ActionError(f"`{path}`: the value nests lists and mappings more than "
                       f"{MAX_VALUE_DEPTH} levels deep")


def _items(value: Any, path: str) -> Any:
    """``(path of the item, item)`` for the items of a list or mapping."""
    if isinstance(value, dict):
        return ((f"{path}.{k}", v) for k, v in value.items())
    return ((f"{path}[{i}]", v) for i, v in enumerate(value))


_CONTAINERS = (dict, list, tuple, set, frozenset)


def in_range(value: Any, path: str, depth: int = 1) -> Any:
    """``value`` unchanged, if a store can keep the numbers it holds: integers in 64 bits,
    finite floats, at most MAX_VALUE_DEPTH levels of lists and mappings.  Values of other
    types pass (the action decides what it accepts).  Raises ActionError naming ``path``
    (the parameter, and where in it) otherwise."""
    t = type(value)
    if t is int:
        if not MIN_INT <= value <= MAX_INT:
            raise ActionError(f"`{path}`: {_too_big(value)} is outside the signed 64-bit "
                              "integer range")
    elif t is float:
        if not math.isfinite(value):
            raise ActionError(f"`{path}`: {value} is not a finite number")
    elif t in _CONTAINERS:
        if depth > MAX_VALUE_DEPTH:
            raise _too_deep(path)
        for where, item in _items(value, path):
            in_range(item, where, depth + 1)
    return value


def json_value(value: Any, path: str, depth: int = 1) -> Any:
    """``value`` as JSON data a store keeps: within the bounds of :func:`in_range`, text
    valid Unicode, times as ISO 8601 text, durations as seconds, mapping keys as text.
    Raises ActionError naming ``path`` for anything else."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise ActionError(f"`{path}`: the text is not valid Unicode "
                                  "(a lone surrogate)") from None
        return str(value)
    if isinstance(value, int):
        return in_range(int(value), path)
    if isinstance(value, float):
        return in_range(float(value), path)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, list | tuple | dict):
        if depth > MAX_VALUE_DEPTH:
            raise _too_deep(path)
        if isinstance(value, list | tuple):
            return [json_value(v, where, depth + 1) for where, v in _items(value, path)]
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = json_value(k, path, depth + 1)
            if isinstance(key, list | dict):
                raise ActionError(f"`{path}`: a {type(k).__name__} cannot be a key")
            out[key if isinstance(key, str) else str(key)] = json_value(
                v, f"{path}.{key}", depth + 1)
        return out
    raise ActionError(f"`{path}`: cannot store a {type(value).__name__}")


# -- points -------------------------------------------------------------------------------
def _amount(run: Run, action: CompiledAction) -> tuple[str, int]:
    consts = action.consts
    raw = consts.get("amount")
    if type(raw) is int and 0 <= raw <= MAX_AMOUNT and "currency" in consts:
        return consts["currency"], raw  # known at load time: nothing to check per event
    pb = run.engine.playbook
    raw = run.value(action, "points")
    currency = pb.default_currency
    if raw is None:
        raw = run.value(action, "amount")
        currency = getattr(action.params, "currency", None) or currency
    if isinstance(raw, str):
        try:
            raw = float(raw) if "." in raw else int(raw)
        except ValueError:
            raise ActionError(f"amount {raw!r} is not a number") from None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ActionError(f"amount must be a number, got {type(raw).__name__}")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise ActionError(f"amount must be a finite number, got {raw}")
    if raw != int(raw):
        raise ActionError(f"amount must be a whole number, got {raw}")
    amount = int(raw)
    if amount < 0:
        raise ActionError(f"amount must not be negative, got {amount}")
    if amount > MAX_AMOUNT:
        raise ActionError(f"amount {_too_big(amount)} is larger than the limit of {MAX_AMOUNT}")
    return currency, amount


def _room(m: MemberState, currency: str, amount: int) -> None:
    """Refuse an award that would take the member's lifetime credits beyond MAX_EARNED."""
    if m.earned.get(currency, 0) > MAX_EARNED - amount:
        raise ActionError(
            f"{m.id} has earned {m.earned.get(currency, 0)} {currency}; {amount} more "
            f"would pass the limit of {MAX_EARNED}"
        )


def _ledger(run: Run, m: MemberState, currency: str, amount: int, kind: str, reason: str,
            action: ActionRecord, reverses: int | None = None) -> LedgerEntry:
    ev = run.event
    ref = ev.data.get("message_id")
    ledger = m.ledger
    entry = LedgerEntry(
        len(ledger) + 1, currency, amount, kind, reason, run.rule, ev.id, "", ev.at,
        ref if isinstance(ref, str) else None, reverses, None, action,
    )
    ledger.append(entry)
    balances = m.balances
    balances[currency] = balances.get(currency, 0) + amount
    if amount > 0 and kind == "award":
        earned = m.earned
        earned[currency] = earned.get(currency, 0) + amount
    d = run.d
    d.ledger.append((m.community, m.id, entry))
    if m is not run.m:  # the event's own member is in `touched` already
        d.touched.add((m.community, m.id))
    return entry


#: How many calendar periods a cap remembers per member (for late events: an award
#: dated in an older period than these is treated as capped).
CAP_PERIODS = 4


def _cap_used(slot: list[Any] | None, period: str) -> int | None:
    """What ``slot`` (``[period, used, period, used...]``, newest first) records as
    used in ``period``; None when the period is older than every period it keeps."""
    if not slot:
        return 0
    for i in range(0, len(slot) - 1, 2):
        if slot[i] == period:
            return int(slot[i + 1])
    if len(slot) >= 2 * CAP_PERIODS and period < slot[-2]:
        return None  # forgotten: never risk going over the cap
    return 0


def _cap_record(slot: list[Any] | None, period: str, used: int) -> list[Any]:
    if slot and period > slot[0]:  # a new newest period (keys sort in time order)
        return [period, used, *slot[: 2 * CAP_PERIODS - 2]]
    pairs = {slot[i]: slot[i + 1] for i in range(0, len(slot) - 1, 2)} if slot else {}
    pairs[period] = used
    out: list[Any] = []
    for p in sorted(pairs, reverse=True)[:CAP_PERIODS]:
        out += [p, pairs[p]]
    return out


#: Period caches shared by the general award path, by (time zone, period kind).
_PERIOD_CACHES: dict[tuple[Any, str], PeriodCache] = {}


def _period(run: Run, per: str) -> str:
    """The calendar period of the event being decided, in the community time zone."""
    tz = run.tz
    cache = _PERIOD_CACHES.get((tz, per))
    if cache is None:
        cache = _PERIOD_CACHES[(tz, per)] = PeriodCache(tz, per)
    return cache.of(run.event.at, run.event.ts)


def do_award(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    currency, amount = _amount(run, action)
    _room(m, currency, amount)
    reason = run.text(action, "reason", run.rule)
    cap = getattr(action.params, "cap", None)
    if cap is not None:
        key = f"{run.rule}:{currency}:{cap.per}"
        period = _period(run, cap.per)
        slot = m.caps.get(key)
        used = _cap_used(slot, period)
        amount = 0 if used is None else min(amount, max(cap.max - used, 0))
        if amount > 0:
            m.caps[key] = _cap_record(slot, period, (used or 0) + amount)
    if amount <= 0:
        return
    record = run.emit(action, m.id, {"currency": currency, "amount": amount, "reason": reason})
    entry = _ledger(run, m, currency, amount, "award", reason, record)
    ttl = run.engine.playbook.currency_expiry.get(currency)
    if ttl is not None:
        add_lot(run.engine, run.d, m, currency, entry, ttl)


def do_spend(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    currency, amount = _amount(run, action)
    if amount == 0:
        return
    if m.balances.get(currency, 0) < amount:
        raise ActionRefused()
    reason = run.text(action, "reason", run.rule)
    record = run.emit(action, m.id, {"currency": currency, "amount": amount, "reason": reason})
    _ledger(run, m, currency, -amount, "spend", reason, record)
    if currency in run.engine.playbook.currency_expiry:
        debit_lots(m, currency, amount)


def do_revoke(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    target = run.text(action, "event")
    only_rule = getattr(action.params, "rule", None)
    reason = run.text(action, "reason", f"revoked: {target}")
    originals = [
        e for e in m.ledger
        if (e.cause == target or e.ref == target) and e.reverses is None
        and e.reversed_by is None and e.amount > 0 and e.kind == "award"
        and (only_rule is None or e.rule == only_rule)
    ]
    if not target or not originals:
        return
    record = run.emit(action, m.id, {})
    reversed_: list[dict[str, Any]] = []
    expiring = run.engine.playbook.currency_expiry
    expired = expired_of(m.ledger) if expiring else {}
    for orig in originals:
        # Balances never go below zero: reverse what is left of the credit (less what
        # of it has expired already).
        amount = min(orig.amount - expired.get(orig.seq, 0), m.balances.get(orig.currency, 0))
        if amount <= 0:
            continue
        entry = _ledger(run, m, orig.currency, -amount, "revoke", reason, record,
                        reverses=orig.seq)
        orig.reversed_by = entry.seq
        lots = orig.currency in expiring
        if lots:
            debit_lots(m, orig.currency, amount, orig.seq)
        forfeit_revoked(m, orig.currency, orig.seq, amount, lots)
        reversed_.append({"entry": orig.seq, "currency": orig.currency, "amount": amount,
                          "rule": orig.rule})
    if not reversed_:
        run.d.actions.remove(record)
        return
    record.params.update({"event": target, "reason": reason, "reversed": reversed_})


# -- badges (badges.py), tags, attributes -------------------------------------------------
def do_tag(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    name = run.text(action, "name")
    if not name:
        raise ActionError("tag name is empty")
    delta = action.consts.get("expires_delta")
    expires = run.at + delta if delta is not None else None
    tags = m.tags
    if name in tags:
        current = tags[name]
        if current == expires and (current is None or current > run.at):
            return
    m.tags[name] = expires
    run.d.touched.add((m.community, m.id))
    params: dict[str, Any] = {"name": name}
    if expires is not None:
        params["expires"] = expires.isoformat()
        run.add_timer("untag", expires, m.id, {"name": name})
    run.emit(action, m.id, params)


def do_untag(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    name = run.text(action, "name")
    if m.tags.pop(name, "absent") == "absent":
        return
    run.d.touched.add((m.community, m.id))
    run.emit(action, m.id, {"name": name})


def do_set(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    changed = {}
    for name in (*action.consts, *action.values):
        if name == "to":
            continue
        value = json_value(run.value(action, name), name)
        if m.attrs.get(name, object()) != value:
            m.attrs[name] = value
            changed[name] = value
    if changed:
        run.d.touched.add((m.community, m.id))
        run.emit(action, m.id, changed)


# -- messages -----------------------------------------------------------------------------
def _message(run: Run, action: CompiledAction) -> dict[str, Any]:
    template = getattr(action.params, "template", None)
    if template is not None:
        text = run.engine.playbook.templates.render(template, run.c)
        return {"template": template, "text": text}
    return {"text": run.text(action, "text")}


def do_send(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    # Opt-out, quiet hours and caps: the messaging policy (messaging.py).  Nothing is
    # rendered for an opted-out member: the message is suppressed whatever it says.
    deliver(run, action, m, {} if m.opted_out else _message(run, action))


def do_reply(run: Run, action: CompiledAction) -> None:
    params = _message(run, action)
    params["channel"] = run.text(action, "channel") or run.event.channel
    message_id = run.event.data.get("message_id")
    if isinstance(message_id, str):
        params["reply_to"] = message_id
    m = run.target(action)
    run.emit(action, m.id if m else None, params)


def do_broadcast(run: Run, action: CompiledAction) -> None:
    params = _message(run, action)
    channel = run.value(action, "channel")
    if channel:
        params["channel"] = str(channel)
    run.emit(action, None, params)


def do_warn(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    params = _message(run, action)
    reason = run.text(action, "reason")
    if reason:
        params["reason"] = reason
    deliver(run, action, m, params)  # never to an opted-out member; never deferred
    run.audit("warn", m.id, reason or params["text"])


def do_emit(run: Run, action: CompiledAction) -> None:
    type_ = action.params.type  # type: ignore[attr-defined]
    data = run.value(action, "data", {}) or {}
    if not isinstance(data, dict):
        raise ActionError("emit data must be a mapping")
    data = json_value(data, "data")
    run.emit(action, run.member.id if run.member else None, {"type": type_, "data": data})
    run.engine.raise_event(run, type_, run.member, dict(data), f"{run.rule}:{action.path}")


def do_opt(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    out = action.name == "opt_out"
    if m.opted_out == out:
        return
    m.opted_out = out
    run.d.touched.add((m.community, m.id))
    run.emit(action, m.id, {})


# -- moderation ---------------------------------------------------------------------------
def do_delete_message(run: Run, action: CompiledAction) -> None:
    message_id = run.event.data.get("message_id")
    reason = run.text(action, "reason")
    params: dict[str, Any] = {"message_id": message_id, "channel": run.event.channel}
    if reason:
        params["reason"] = reason
    member = run.member.id if run.member else None
    run.emit(action, member, params)
    run.audit("delete_message", member, reason)


def do_mute(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    until = run.at + action.consts["for__delta"]
    reason = run.text(action, "reason")
    if m.status == "banned" or (m.muted_until is not None and m.muted_until >= until
                                and m.status == "muted"):
        return
    m.status = "muted"
    m.muted_until = until
    run.d.touched.add((m.community, m.id))
    run.add_timer("unmute", until, m.id, {})
    duration = action.params.for_  # type: ignore[attr-defined]
    run.emit(action, m.id, {"for": duration, "until": until.isoformat(), "reason": reason})
    run.audit("mute", m.id, reason)


def _lift(run: Run, action: CompiledAction, status: str, until_attr: str) -> None:
    """`unmute` / `unban`: back to active, if the member is muted / banned."""
    m = run.require_target(action)
    if m.status != status:
        return
    m.status = "active"
    setattr(m, until_attr, None)
    run.d.touched.add((m.community, m.id))
    reason = run.text(action, "reason")
    run.emit(action, m.id, {"reason": reason})
    run.audit(action.name, m.id, reason)


def do_unmute(run: Run, action: CompiledAction) -> None:
    _lift(run, action, "muted", "muted_until")


def do_kick(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    reason = run.text(action, "reason")
    if m.status in ("left", "banned"):
        return
    m.status = "left"
    run.d.touched.add((m.community, m.id))
    run.emit(action, m.id, {"reason": reason})
    run.audit("kick", m.id, reason)


def do_ban(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    reason = run.text(action, "reason")
    raw = action.params.for_  # type: ignore[attr-defined]
    delta = action.consts.get("for__delta")
    until = run.at + delta if delta is not None else None
    if m.status == "banned" and (m.banned_until is None or (until and m.banned_until >= until)):
        return
    m.status = "banned"
    m.banned_until = until
    m.muted_until = None
    run.d.touched.add((m.community, m.id))
    params: dict[str, Any] = {"reason": reason}
    if until is not None:
        params.update({"for": raw, "until": until.isoformat()})
        run.add_timer("unban", until, m.id, {})
    run.emit(action, m.id, params)
    run.audit("ban", m.id, reason)


def do_unban(run: Run, action: CompiledAction) -> None:
    _lift(run, action, "banned", "banned_until")


def do_strike(run: Run, action: CompiledAction) -> None:
    m = run.require_target(action)
    pb = run.engine.playbook
    ev = run.event
    channel = None if ev.type in MODERATOR_EVENTS else ev.channel
    if pb.moderation_exempt is not None and pb.moderation_exempt.applies(m.id, m.roles, channel):
        return  # exempt members never receive strikes
    reason = run.text(action, "reason")
    expires = run.at + timedelta(seconds=pb.strike_expiry) if pb.strike_expiry else None
    m.strikes.append(Strike(run.at, reason, run.rule, expires))
    total = m.active_strikes(run.at)
    run.d.touched.add((m.community, m.id))
    record = run.emit(action, m.id, {"reason": reason, "total": total})
    run.audit("strike", m.id, reason)
    tag = f"strike:{record.key[:12]}"
    run.engine.raise_event(run, "strike.added", m, {"total": total, "reason": reason}, tag)
    step = None
    for s in pb.strike_ladder:
        if s.at == total or (s.at < total and s is pb.strike_ladder[-1]):
            step = s
    if step is not None:
        ladder_run = run.for_member(m, "moderation.strikes")
        for ladder_action in step.do:
            try:
                ladder_action.execute(ladder_run, ladder_action)
            except ActionRefused:
                break


def do_reset_strikes(run: Run, action: CompiledAction) -> None:
    """Clear the member's active strikes: each ends now (kept in the member's history),
    so the ladder starts again from its first step."""
    m = run.require_target(action)
    now = run.at
    cleared = 0
    for strike in m.strikes:
        if strike.expires is None or strike.expires > now:
            strike.expires = now
            cleared += 1
    if not cleared:
        return
    run.d.touched.add((m.community, m.id))
    reason = run.text(action, "reason")
    run.emit(action, m.id, {"reason": reason, "cleared": cleared})
    run.audit("reset_strikes", m.id, reason)


def do_flag_for_review(run: Run, action: CompiledAction) -> None:
    reason = run.text(action, "reason")
    member = run.member.id if run.member else None
    record = run.emit(action, member, {"reason": reason})
    ev = run.event
    run.d.add_review({
        "id": record.key,
        "at": run.at.isoformat(),
        "rule": run.rule,
        "action": action.path,
        "event": ev.id,
        "member": member,
        "community": ev.community,
        "reason": reason,
        "match": to_str(run.match) if run.match else "",
        "status": "open",
        "event_json": event_to_json(ev),
    })
    run.audit("flag_for_review", member, reason)


Executor = Callable[[Run, "CompiledAction"], None]

#: Every registered action's executor, by action name: filled by the plugin manager
#: through the ``register_actions`` hook (:func:`engage_rules.plugins.registry`).
ACTION_EXECUTORS: dict[str, Executor] = {}

#: The core's executors (registered with their specs by :mod:`engage_rules.builtin_plugin`).
BUILTIN_EXECUTORS: dict[str, Executor] = {
    "award": do_award,
    "spend": do_spend,
    "revoke": do_revoke,
    "grant_badge": do_grant_badge,
    "revoke_badge": do_revoke_badge,
    "tag": do_tag,
    "untag": do_untag,
    "set": do_set,
    "send": do_send,
    "reply": do_reply,
    "broadcast": do_broadcast,
    "warn": do_warn,
    "emit": do_emit,
    "opt_out": do_opt,
    "opt_in": do_opt,
    "delete_message": do_delete_message,
    "mute": do_mute,
    "unmute": do_unmute,
    "kick": do_kick,
    "ban": do_ban,
    "unban": do_unban,
    "strike": do_strike,
    "reset_strikes": do_reset_strikes,
    "flag_for_review": do_flag_for_review,
    "set_level": do_set_level,
    "lock_level": do_lock_level,
}


# -- specialised executors ------------------------------------------------------------------
# The common forms of the most frequent actions — `award: {points: 5, reason: x}` and
# `tag: name`, with every parameter known at load time — get executors with nothing left
# to look up per event.  They have exactly the effects of the general ones above.

def _fast_award(currency: str, amount: int, reason: str | None) -> Executor:
    room = MAX_EARNED - amount  # lifetime credits above which this award is refused

    def award(run: Run, action: CompiledAction) -> None:
        m = run.member
        if m is None:
            raise ActionError("`award` needs a member: the event has none; give `to:`")
        if amount == 0:
            return
        if m.earned.get(currency, 0) > room:
            _room(m, currency, amount)
        ev = run.event
        text = reason if reason is not None else run.rule
        record = ActionRecord(
            None, "award", m.id, run.rule, ev.id, ev.at,
            {"currency": currency, "amount": amount, "reason": text}, ev.community,
            action.key_source,
        )
        run.d.actions.append(record)
        _ledger(run, m, currency, amount, "award", text, record)

    return award


def _fast_capped_award(currency: str, amount: int, reason: str | None, per: str,
                       cap: int, tz: Any) -> Executor:
    """`award` with a `cap:` and constant parameters: the cap's bookkeeping is that of
    :func:`do_award`, with the period found through a :class:`PeriodCache`."""
    periods = PeriodCache(tz, per)
    suffix = f":{currency}:{per}"
    keep = 2 * CAP_PERIODS - 2

    def award(run: Run, action: CompiledAction) -> None:
        m = run.member
        if m is None:
            raise ActionError("`award` needs a member: the event has none; give `to:`")
        _room(m, currency, amount)
        ev = run.event
        period = periods.of(ev.at, ev.ts)
        rule = run.rule
        key = rule + suffix
        caps = m.caps
        slot = caps.get(key)
        if slot and slot[0] == period:  # the current period is the newest one kept
            used = slot[1]
            given = min(amount, cap - used)
            if given <= 0:
                return
            slot[1] = used + given
        elif not slot or period > slot[0]:  # a new period (keys sort in time order)
            given = min(amount, cap)
            caps[key] = [period, given, *slot[:keep]] if slot else [period, given]
        else:  # a late event, dated in an older period
            prior = _cap_used(slot, period)
            given = 0 if prior is None else min(amount, max(cap - prior, 0))
            if given <= 0:
                return
            caps[key] = _cap_record(slot, period, (prior or 0) + given)
        text = reason if reason is not None else rule
        record = ActionRecord(
            None, "award", m.id, rule, ev.id, ev.at,
            {"currency": currency, "amount": given, "reason": text}, ev.community,
            action.key_source,
        )
        run.d.actions.append(record)
        _ledger(run, m, currency, given, "award", text, record)

    return award


def _fast_tag(name: str) -> Executor:
    def tag(run: Run, action: CompiledAction) -> None:
        m = run.member
        if m is None:
            raise ActionError("`tag` needs a member: the event has none; give `to:`")
        tags = m.tags
        if name in tags and tags[name] is None:
            return  # already tagged, without expiry: nothing changes
        tags[name] = None  # the event's own member: in `touched` already
        ev = run.event
        run.d.actions.append(ActionRecord(
            None, "tag", m.id, run.rule, ev.id, ev.at, {"name": name}, ev.community,
            action.key_source,
        ))

    return tag


def specialised_executor(action: CompiledAction, tz: Any = None) -> Executor | None:
    """A faster executor for an action whose parameters are all known at load time
    (``tz``: the community time zone, for capped awards)."""
    consts = action.consts
    if action.values or consts.get("to") is not None:
        return None
    if action.name == "award" and "lots" not in consts:
        amount = consts.get("amount")
        if type(amount) is int and 0 <= amount <= MAX_AMOUNT and "currency" in consts:
            reason = consts.get("reason")
            text = None if reason is None else str(reason)
            cap = getattr(action.params, "cap", None)
            if cap is None:
                return _fast_award(consts["currency"], amount, text)
            if tz is not None and amount > 0:
                return _fast_capped_award(consts["currency"], amount, text, cap.per,
                                          cap.max, tz)
    if action.name == "tag" and "expires_delta" not in consts:
        name = consts.get("name")
        if isinstance(name, str) and name:
            return _fast_tag(name)
    return None
