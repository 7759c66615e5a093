"""Expiring currencies (docs/reference.md §5.4): credits kept as lots, spent oldest first, and
expired by a timer, with ledger entries, without any event from the member.

A currency written ``{name: points, expires_after: 365d}`` keeps each credit as a *lot*
in ``MemberState.lots[currency]``: ``[left, expires, seq, counted]``, in expiry order.

* ``left`` — what of the credit spending (and revoking) has not used yet.  Debits use the
  oldest lots first (a revoke starts with the credit it reverses), so what expires is
  what the member has held longest.  When a lot expires, what is ``left`` of it is
  written off with an ``expire`` ledger entry (linked to the credit by ``reverses``)
  and an ``expire`` action; the balance stays equal to the sum of the ledger.
* ``counted`` — what of the credit still counts towards a level ladder measured by this
  currency (the credit less what was revoked).  When the lot expires, its ``counted``
  part is added to ``MemberState.forfeited``: a level by an expiring currency measures
  what was earned within the expiry period, whether or not it was spent.

One timer per member and currency is pending at a time, at the earliest lot's expiry;
when it fires it expires every lot due by then and sets the next one.  Its id names the
instant (``expire:<community>:<member>:<currency>:<ISO time>``), so ids are
deterministic and unique per firing.  Currencies without ``expires_after`` keep no lots
and pay nothing of this.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ..expr.member_fields import in_units
from ..i18n import N_, _
from ..model.decision import ActionRecord, Decision
from ..model.state import LedgerEntry, MemberState, Timer, from_ts, ts

if TYPE_CHECKING:
    from ..engine.effects import Effects
    from ..engine.scope import ActionScope

#: The timer kind that expires lots.
EXPIRE_KIND = "expire"

# Positions in a lot.
LEFT, DUE, SEQ, COUNTED = 0, 1, 2, 3


def section(currency: str) -> str:
    """The playbook section named as the `rule` of what an expiry does."""
    return f"currencies.{currency}"


def _schedule(engine: Effects, d: Decision, m: MemberState, currency: str, due: float) -> None:
    timer = Timer(
        due=due,
        seq=0,
        id=f"{EXPIRE_KIND}:{m.community}:{m.id}:{currency}:{from_ts(due).isoformat()}",
        kind=EXPIRE_KIND,
        community=m.community,
        member=m.id,
        rule=section(currency),
        payload={"currency": currency},
    )
    engine.add_timer(d, timer)


def add_lot(
    engine: Effects, d: Decision, m: MemberState, currency: str, entry: LedgerEntry, ttl: float
) -> None:
    """Keep the credit ``entry`` as a lot expiring ``ttl`` seconds after it was made."""
    due = ts(entry.at) + ttl
    lot: list[Any] = [entry.amount, due, entry.seq, entry.amount]
    lots = m.lots.get(currency)
    if lots is None:
        lots = m.lots[currency] = []
    if not lots or lots[-1][DUE] <= due:
        lots.append(lot)
    else:  # a late event's credit: keep expiry order
        i = len(lots)
        while i > 0 and lots[i - 1][DUE] > due:
            i -= 1
        lots.insert(i, lot)
    if lots[0] is lot:  # the earliest expiry: the pending timer is for a later one
        _schedule(engine, d, m, currency, due)


def debit_lots(m: MemberState, currency: str, amount: int, first_seq: int | None = None) -> None:
    """Use ``amount`` of the member's lots: the lot of credit ``first_seq`` first (for a
    revoke), then the oldest.  What no lot covers (a balance from before the currency
    expired) is taken from the balance alone."""
    lots = m.lots.get(currency)
    if not lots or amount <= 0:
        return
    if first_seq is not None:
        for lot in lots:
            if lot[SEQ] == first_seq:
                take = min(lot[LEFT], amount)
                lot[LEFT] -= take
                amount -= take
                break
    for lot in lots:
        if amount <= 0:
            return
        take = min(lot[LEFT], amount)
        lot[LEFT] -= take
        amount -= take


def forfeit_revoked(m: MemberState, currency: str, seq: int, amount: int, expiring: bool) -> None:
    """A revoke of credit ``seq`` takes ``amount`` back from level measures by the
    currency — unless the credit already expired (then it no longer counts anyway)."""
    if expiring:
        for lot in m.lots.get(currency, ()):
            if lot[SEQ] == seq:
                taken = min(lot[COUNTED], amount)
                lot[COUNTED] -= taken
                break
        else:
            return
    else:
        taken = amount
    m.forfeited[currency] = m.forfeited.get(currency, 0) + taken


def expire_lots(
    engine: Effects,
    d: Decision,
    timer: Timer,
    m: MemberState | None,
    at: datetime,
    scale: int = 1,
) -> None:
    """Expire every lot of the timer's currency due by now; set the next timer.  The
    ``expire`` action shows the amount in units (``scale`` minor units each)."""
    currency = str(timer.payload.get("currency", ""))
    lots = m.lots.get(currency) if m is not None else None
    if m is None or not lots or lots[0][DUE] > timer.due:
        return  # nothing due: an older timer whose lots were already expired
    n = 0
    while n < len(lots) and lots[n][DUE] <= timer.due:
        n += 1
    due_lots = lots[:n]
    del lots[:n]
    if lots:
        _schedule(engine, d, m, currency, lots[0][DUE])
    else:
        del m.lots[currency]
    d.touched.add((m.community, m.id))
    counted = sum(lot[COUNTED] for lot in due_lots)
    if counted:
        m.forfeited[currency] = m.forfeited.get(currency, 0) + counted
    balance = m.balances.get(currency, 0)
    written: list[tuple[int, int]] = []
    for lot in due_lots:
        amount = min(lot[LEFT], balance)
        if amount > 0:
            written.append((lot[SEQ], amount))
            balance -= amount
    if not written:
        return  # everything was spent before it expired: nothing to write off
    rule = section(currency)
    total = sum(a for _, a in written)
    reason = engine.playbook.say(N_("{currency} expired")).format(currency=currency)
    record = engine.engine_action(
        d,
        "expire",
        m.community,
        m.id,
        rule,
        {
            "currency": currency,
            "amount": total if scale == 1 else in_units(total, scale),
            "reason": reason,
            "entries": [seq for seq, _ in written],
        },
        f"expire:{currency}",
        at=at,
    )
    for seq, amount in written:
        m.ledger_seq += 1
        entry = LedgerEntry(
            m.ledger_seq,
            currency,
            -amount,
            "expire",
            reason,
            rule,
            timer.id,
            "",
            at,
            None,
            seq,
            None,
            record,
        )
        d.ledger.append((m.community, m.id, entry))
        if m.revocable:
            m.credit_expired(seq, amount)  # a revoke can no longer take this part back
    m.balances[currency] = balance


def debit(
    run: ActionScope,
    m: MemberState,
    currency: str,
    amount: int,
    reason: str,
    record: ActionRecord,
    expiring: bool,
    account: MemberState | None = None,
) -> LedgerEntry:
    """Take ``amount`` (> 0, no more than the balance) of ``currency`` from ``m`` with a
    ``spend`` ledger entry caused by ``run``'s event, as `spend` does: the balance stays
    the sum of the ledger, and an expiring currency uses its oldest lots first.
    ``account``: when ``m`` is a person (a person-wide currency), the account spending."""
    ev = run.event
    ref = ev.data.get("message_id")
    seq = m.ledger_seq = m.ledger_seq + 1
    entry = LedgerEntry(
        seq,
        currency,
        -amount,
        "spend",
        reason,
        run.rule,
        ev.id,
        "",
        ev.at,
        ref if isinstance(ref, str) else None,
        None,
        None,
        record,
    )
    if account is not None and account is not m:
        entry.origin = (account.community, account.id)
    m.balances[currency] = m.balances.get(currency, 0) - amount
    run.d.ledger.append((m.community, m.id, entry))
    run.d.touched.add((m.community, m.id))
    if expiring:
        debit_lots(m, currency, amount)
    return entry


def to_minor(raw: Any, scale: int) -> int:
    """An amount written in units of a currency with decimals (``scale`` minor units per
    unit) in whole minor units, exactly: 199.9 is read as written (not as the float
    nearest it), so at scale 100 it is 19990.  ValueError when it has more decimal
    places than the currency, or is not a finite number."""
    try:
        value = Decimal(str(raw).strip()) * scale
    except InvalidOperation:
        raise ValueError(_("amount {raw!r} is not a number").format(raw=raw)) from None
    if not value.is_finite():
        raise ValueError(_("amount {raw!r} is not a finite number").format(raw=raw))
    if value != value.to_integral_value():
        places = len(str(scale)) - 1
        raise ValueError(
            _("amount {raw} has more than {places} decimal places").format(raw=raw, places=places)
        )
    return int(value)
