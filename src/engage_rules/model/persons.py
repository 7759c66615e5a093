"""Persons: one member across groups and platforms (docs/reference.md §4.3).

A *person* links a member's *accounts* — ``(community, member)`` pairs, each a group on
a platform.  Currencies declared ``scope: person`` are held by the person, not by the
account: an award in one group is spendable in every other group of the person.

* **Where a person lives.**  A person is a :class:`~engage_rules.model.state.MemberState`
  of the reserved community :data:`PERSONS`, whose id is the person's id: every store
  keeps it like any member (loaded on demand, committed when a decision touches it), and
  its ledger is an ordinary member ledger.  Each entry of it records in ``origin`` the
  account where it happened.
* **Accounts.**  An account's ``person`` names its person; the person lists its
  ``accounts``.  An account with no person is its own person: it holds its person-wide
  balances itself, as a group currency, until it is linked.
* **Linking** (:func:`link`) moves what the account (or the person it belonged to) held
  of the person-wide currencies to the person, with a pair of ``merge`` ledger entries —
  a debit where it was, a credit on the person — so every holder's balance stays the sum
  of its ledger.  Lifetime credits (what levels measure) move with the balance.  Awards
  moved by a merge are final: a `revoke` can no longer reverse them.  A person merged
  into another keeps ``person`` set to it (and no accounts); anything linked to it later
  goes to the one it was merged into.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .decision import Decision
from .events import RESERVED_COMMUNITY
from .state import C_CURRENCY, LedgerEntry, MemberState, State

#: The community that holds the persons.  No event may be of it (a person is not a
#: group): one is quarantined as ``wrong_type``.
PERSONS = RESERVED_COMMUNITY
#: How many persons a merge may follow (A merged into B merged into C...).
MAX_CHAIN = 64


def person_of(state: State, person: str) -> MemberState:
    """The person ``person``, following merges (created when never seen)."""
    persons = state.community(PERSONS)
    p = persons.member(person)
    for _ in range(MAX_CHAIN):
        if p.person is None:
            return p
        p = persons.member(p.person)
    return p


def holder(state: State, m: MemberState) -> MemberState:
    """Who holds ``m``'s person-wide currencies: its person, or ``m`` when unlinked."""
    if m.person is None or m.community == PERSONS:
        return m
    return person_of(state, m.person)


def account_in(state: State, m: MemberState, community: str) -> MemberState | None:
    """``m``'s account in ``community`` (the first linked there), or None: ``m`` itself
    when it is of that community."""
    if m.community == community:
        return m
    p = holder(state, m)
    for c, mid in p.accounts:
        if c == community:
            return state.community(c).member(mid)
    return None


def _move(
    d: Decision,
    source: MemberState,
    target: MemberState,
    currencies: Iterable[str],
    record: Any,
    cause: str,
    at: datetime,
    rule: str,
    origin: tuple[str, str],
) -> None:
    """Move ``source``'s balances of ``currencies`` to ``target``: a ``merge`` debit on
    the source and a ``merge`` credit on the target, per currency held."""
    for currency in sorted(currencies):
        amount = source.balances.get(currency, 0)
        earned = source.earned.pop(currency, 0)
        forfeited = source.forfeited.pop(currency, 0)
        if earned:
            target.earned[currency] = target.earned.get(currency, 0) + earned
        if forfeited:
            target.forfeited[currency] = target.forfeited.get(currency, 0) + forfeited
        if amount <= 0:
            continue
        reason = f"merged into person {target.id}"
        source.ledger_seq += 1
        source.balances[currency] = 0
        out = LedgerEntry(
            source.ledger_seq, currency, -amount, "merge", reason, rule, cause, "", at
        )
        out.action = record
        if source.community == PERSONS:
            out.origin = origin
        target.ledger_seq += 1
        target.balances[currency] = target.balances.get(currency, 0) + amount
        into = LedgerEntry(
            target.ledger_seq, currency, amount, "merge", reason, rule, cause, "", at
        )
        into.action = record
        into.origin = origin
        d.ledger.append((source.community, source.id, out))
        d.ledger.append((target.community, target.id, into))
    if source.revocable:  # awards moved are final: the person cannot reverse them
        source.revocable = [c for c in source.revocable if c[C_CURRENCY] not in currencies]


def _move_badges(source: MemberState, target: MemberState, badges: frozenset[str]) -> None:
    """Move ``source``'s person-wide ``badges`` (and titles) to ``target``: a badge both
    hold keeps its first grant and the grants of both."""
    for badge in sorted(badges & source.badges.keys()):
        held = source.badges.pop(badge)
        mine = target.badges.get(badge)
        if mine is None:
            target.badges[badge] = held
        else:
            first = min(mine["granted_at"], held["granted_at"], key=datetime.fromisoformat)
            mine["granted_at"] = first
            mine["count"] = mine.get("count", 1) + held.get("count", 1)
        if badge in source.titles:
            source.titles.remove(badge)
            if badge not in target.titles:
                target.titles.append(badge)


def link(
    state: State,
    d: Decision,
    account: MemberState,
    person: str,
    currencies: frozenset[str],
    record: Any,
    at: datetime,
    rule: str,
    badges: frozenset[str] = frozenset(),
) -> MemberState | None:
    """Link ``account`` to ``person`` (see the module docs): the person it belonged to,
    if any, is merged into ``person`` with all its accounts.  ``currencies`` and
    ``badges`` are the person-wide ones, which move.  Returns the person, or None when
    the account was linked to it already."""
    target = person_of(state, person)
    touched = d.touched
    touched.add((PERSONS, target.id))
    touched.add((account.community, account.id))
    cause = d.cause
    if account.person is None:
        key = [account.community, account.id]
        _move(
            d, account, target, currencies, record, cause, at, rule, (account.community, account.id)
        )
        _move_badges(account, target, badges)
        account.person = target.id
        if key not in target.accounts:
            target.accounts.append(key)
        return target
    old = holder(state, account)
    if old is target:
        return None
    touched.add((PERSONS, old.id))
    _move(d, old, target, currencies, record, cause, at, rule, (PERSONS, old.id))
    for c, mid in old.accounts:
        acc = state.community(c).member(mid)
        acc.person = target.id
        touched.add((c, mid))
        if [c, mid] not in target.accounts:
            target.accounts.append([c, mid])
    _move_badges(old, target, badges)
    old.accounts = []
    old.person = target.id
    return target
