"""Points and other currencies (docs/reference.md §5.4): `award`, `spend` and `revoke`.

Every change of a balance is a ledger entry, so a balance always equals the sum of its
ledger.  The engine does not keep the ledger: entries flow out in ``Decision.ledger``
and the store writes them; a member keeps only the ``seq`` of its latest entry.  An
award may be capped per calendar period in the community time zone (only the remainder
up to the cap is awarded); a spend never takes a balance below zero (it is refused, and
the rule's ``else:`` runs); a revoke reverses earlier credits, linking each reversal to
its original.  Credits of a currency with ``expires_after`` are kept as lots
(:mod:`.currencies`) and expire on a timer.

What a revoke can reverse is kept per member in ``MemberState.revocable``: only awards
of the rules the playbook's revokes may target (every rule when one revoke names none),
made within the playbook's `revoke_within` (default 90 days); older awards are final.
A playbook without a revoke keeps nothing.  Which rules those are is read once, from
every action the playbook compiled (:func:`revoke_targets`).

The most frequent forms of ``award`` get specialised executors (see "fast paths").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .._util.periods import PeriodCache
from ..compile.feature import (
    ActionDef,
    BaseFeature,
    CompileContext,
    Executor,
    FeatureKey,
    FeaturePlan,
    StartHook,
    TimerHandler,
)
from ..compile.playbook import CompiledAction, CompiledPlaybook
from ..engine.scope import ActionScope
from ..errors import ActionError, ActionRefused
from ..expr.member_fields import in_units
from ..i18n import N_, _
from ..lang.action_params import ActionSpec, AwardParams, RevokeParams, SpendParams
from ..lang.loader import ActionCall
from ..model import rule_problems as rp
from ..model.decision import ActionRecord, Decision
from ..model.state import (
    C_AMOUNT,
    C_AT,
    C_CAUSE,
    C_CURRENCY,
    C_REF,
    C_RULE,
    C_SEQ,
    LedgerEntry,
    MemberState,
    Timer,
    ts,
)
from ..model.storable import too_big
from .currencies import (
    EXPIRE_KIND,
    add_lot,
    debit_lots,
    expire_lots,
    forfeit_revoked,
    to_minor,
)

if TYPE_CHECKING:
    from ..engine.effects import Effects

#: The largest amount one action may move (balances stay well inside 64-bit integers).
MAX_AMOUNT = 10**12
#: The most a member may earn of one currency in all (lifetime credits, which bound the
#: balance and leaderboard scores): an award beyond it fails, so that every amount the
#: state holds fits in a signed 64-bit integer.
MAX_EARNED = 10**18


#: Every rule: what :func:`revoke_targets` finds when a revoke names no `rule:`.
ANY_RULE = "*"


@dataclass
class PointsPlan:
    """The currencies of one playbook: seconds after which credits expire, by currency
    (only currencies with `expires_after`), and how long awards stay revocable."""

    expiry: dict[str, float] = field(default_factory=dict)
    revoke_within: float = 90 * 86400.0
    #: Minor units per unit of each currency with `decimals` (others are whole units).
    scales: dict[str, int] = field(default_factory=dict)
    #: The rules whose awards are revocable (``{ANY_RULE}``: all; empty: none); None
    #: until first asked (every action must be compiled first: :func:`revoke_targets`).
    targets: frozenset[str] | None = None


POINTS: FeatureKey[PointsPlan] = FeatureKey("points")


def _expiry(run: ActionScope) -> dict[str, float]:
    return _plan(run).expiry


def revoke_targets(playbook: CompiledPlaybook, plan: PointsPlan) -> frozenset[str]:
    """The rules whose awards a revoke of ``playbook`` may reverse (``{ANY_RULE}``: any
    rule), found once among every action it compiled (rules, flows, ladders, prizes,
    plugin sections alike)."""
    targets = plan.targets
    if targets is None:
        found = {
            ANY_RULE if a.params.rule is None else a.params.rule  # type: ignore[attr-defined]
            for a in playbook.actions
            if a.name == "revoke"
        }
        targets = plan.targets = frozenset({ANY_RULE} if ANY_RULE in found else found)
    return targets


def _plan(run: ActionScope) -> PointsPlan:
    """The points plan of the playbook being run."""
    plan = run.playbook.data(POINTS)
    assert plan is not None  # the feature always plans
    return plan


def _horizon(run: ActionScope, plan: PointsPlan) -> float:
    """Awards made before this instant (epoch s) are final: the engine clock (the latest
    time it has seen, so the horizon never moves back) less `revoke_within`."""
    clock = run.state.clock
    now = ts(clock) if clock is not None else run.event.ts
    return now - plan.revoke_within


def forget_final(plan: PointsPlan) -> StartHook:
    """The start hook: forget, in every member, the credits that are final by now or
    that no revoke of this playbook may reverse (a stored state written by another
    version of the playbook, or upgraded from a store that kept every award)."""

    def start(engine: Effects) -> list[Decision]:
        state = engine.state
        targets = revoke_targets(engine.playbook, plan)
        rules = None if ANY_RULE in targets else targets
        horizon = ts(state.clock) - plan.revoke_within if state.clock is not None else -math.inf
        for community in state.communities.values():
            for m in community.members.values():
                if m.revocable:
                    if targets:
                        m.forget_credits(horizon, rules)
                    else:
                        m.revocable = []
        return []

    return start


def shown(run: ActionScope, currency: str, minor: int) -> int | float:
    """An amount of ``currency`` as actions show it: in units (199.9), from minor units."""
    scale = _plan(run).scales.get(currency)
    return minor if scale is None else in_units(minor, scale)


def _amount(run: ActionScope, action: CompiledAction) -> tuple[str, int]:
    """The action's currency and amount (in minor units for a currency with decimals)."""
    consts = action.consts
    raw = consts.get("amount")
    if type(raw) is int and 0 <= raw <= MAX_AMOUNT and "currency" in consts:
        return consts["currency"], raw  # known at load time: nothing to check per event
    raw = run.value(action, "points")
    currency = run.default_currency
    if raw is None:
        raw = run.value(action, "amount")
        currency = getattr(action.params, "currency", None) or currency
    scale = _plan(run).scales.get(currency)
    if scale is not None and not isinstance(raw, bool) and isinstance(raw, int | float | str):
        try:
            raw = to_minor(raw, scale)
        except ValueError as err:
            raise ActionError(str(err)) from None
    if isinstance(raw, str):
        try:
            raw = float(raw) if "." in raw else int(raw)
        except ValueError:
            raise ActionError(rp.english(rp.AMOUNT_NOT_A_NUMBER_TEXT, raw=raw)) from None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ActionError(rp.english(rp.AMOUNT_NOT_A_NUMBER, type=type(raw).__name__))
    if isinstance(raw, float) and not math.isfinite(raw):
        raise ActionError(rp.english(rp.AMOUNT_NOT_FINITE, raw=raw))
    if raw != int(raw):
        raise ActionError(rp.english(rp.AMOUNT_NOT_WHOLE, raw=raw))
    amount = int(raw)
    if amount < 0:
        raise ActionError(rp.english(rp.AMOUNT_NEGATIVE, amount=amount))
    if amount > MAX_AMOUNT:
        raise ActionError(
            rp.english(rp.AMOUNT_TOO_LARGE, too_big=too_big(amount), limit=MAX_AMOUNT)
        )
    return currency, amount


def _room(m: MemberState, currency: str, amount: int) -> None:
    """Refuse an award that would take the member's lifetime credits beyond MAX_EARNED."""
    if m.earned.get(currency, 0) > MAX_EARNED - amount:
        raise ActionError(
            rp.english(
                rp.EARNED_LIMIT,
                member=m.id,
                earned=m.earned.get(currency, 0),
                currency=currency,
                amount=amount,
                limit=MAX_EARNED,
            )
        )


def _ledger(
    run: ActionScope,
    m: MemberState,
    currency: str,
    amount: int,
    kind: str,
    reason: str,
    action: ActionRecord,
    reverses: int | None = None,
    plan: PointsPlan | None = None,
    account: MemberState | None = None,
) -> LedgerEntry:
    """Write a ledger entry: the balance, lifetime credits and (for an award a revoke
    of the playbook may reverse) the revocable credit follow.  ``plan``: the playbook's
    points plan, if the caller has it at hand.  ``account``: for an entry of a person
    (``m``, a person-wide currency), the account where it happens (its ``origin``)."""
    ev = run.event
    ref = ev.data.get("message_id")
    if ref is not None and not isinstance(ref, str):  # (isinstance is slow on None)
        ref = None
    seq = m.ledger_seq = m.ledger_seq + 1
    entry = LedgerEntry(
        seq,
        currency,
        amount,
        kind,
        reason,
        run.rule,
        ev.id,
        "",
        ev.at,
        ref,
        reverses,
        None,
        action,
    )
    if account is not None and account is not m:
        entry.origin = (account.community, account.id)
    balances = m.balances
    balances[currency] = balances.get(currency, 0) + amount
    if amount > 0 and kind == "award":
        earned = m.earned
        earned[currency] = earned.get(currency, 0) + amount
        if plan is None:
            plan = _plan(run)
        targets = plan.targets
        if targets is None:
            targets = revoke_targets(run.playbook, plan)
        if targets and (ANY_RULE in targets or entry.rule in targets):
            m.keep_credit(entry, ev.ts, _horizon(run, plan))
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


def _period(run: ActionScope, per: str) -> str:
    """The calendar period of the event being decided, in the community time zone."""
    tz = run.tz
    cache = _PERIOD_CACHES.get((tz, per))
    if cache is None:
        cache = _PERIOD_CACHES[(tz, per)] = PeriodCache(tz, per)
    return cache.of(run.event.at, run.event.ts)


def do_award(run: ActionScope, action: CompiledAction) -> None:
    """The ``award`` action."""
    acct = run.require_target(action)
    currency, amount = _amount(run, action)
    m = run.wallet(acct, currency)  # the person, for a person-wide currency
    _room(m, currency, amount)
    reason = run.text(action, "reason", run.rule)
    cap = getattr(action.params, "cap", None)
    if cap is not None:
        key = f"{run.rule}:{currency}:{cap.per}"
        period = _period(run, cap.per)
        slot = acct.caps.get(key)  # caps count per account (per group)
        used = _cap_used(slot, period)
        most = cap.max * _plan(run).scales.get(currency, 1)  # in minor units
        amount = 0 if used is None else min(amount, max(most - used, 0))
        if amount > 0:
            acct.caps[key] = _cap_record(slot, period, (used or 0) + amount)
    if amount <= 0:
        return
    params = {"currency": currency, "amount": shown(run, currency, amount), "reason": reason}
    record = run.emit(action, acct.id, params)
    entry = _ledger(run, m, currency, amount, "award", reason, record, account=acct)
    ttl = _expiry(run).get(currency)
    if ttl is not None:
        add_lot(run.effects, run.d, m, currency, entry, ttl)


def do_spend(run: ActionScope, action: CompiledAction) -> None:
    """The ``spend`` action (refused on a short balance)."""
    acct = run.require_target(action)
    currency, amount = _amount(run, action)
    if amount == 0:
        return
    m = run.wallet(acct, currency)  # the person, for a person-wide currency
    balance = m.balances.get(currency, 0)
    if balance < amount:
        raise ActionRefused(
            "insufficient balance",
            "insufficient_balance",
            {
                "currency": currency,
                "amount": shown(run, currency, amount),
                "balance": shown(run, currency, balance),
            },
        )
    reason = run.text(action, "reason", run.rule)
    params = {"currency": currency, "amount": shown(run, currency, amount), "reason": reason}
    record = run.emit(action, acct.id, params)
    _ledger(run, m, currency, -amount, "spend", reason, record, account=acct)
    if currency in _expiry(run):
        debit_lots(m, currency, amount)


def do_revoke(run: ActionScope, action: CompiledAction) -> None:
    """The ``revoke`` action: reverse the ledger entries of an event (of the member's
    group currencies, and of its person's person-wide ones)."""
    acct = run.require_target(action)
    target = run.text(action, "event")
    only_rule = getattr(action.params, "rule", None)
    default = run.playbook.say(N_("revoked: {event}")).format(event=target)
    reason = run.text(action, "reason", default)
    holders = [acct]
    if acct.person is not None and run.env.person_currencies:
        holders.append(run.wallet(acct, next(iter(run.env.person_currencies))))
    if not target or not any(h.revocable for h in holders):
        return
    plan = _plan(run)
    horizon = _horizon(run, plan)
    originals = [
        (h, c)
        for h in holders
        for c in h.revocable
        if (c[C_CAUSE] == target or c[C_REF] == target)
        and c[C_AT] >= horizon
        and (only_rule is None or c[C_RULE] == only_rule)
    ]
    if not originals:
        return
    record = run.emit(action, acct.id, {})
    reversed_: list[dict[str, Any]] = []
    expiring = plan.expiry
    for m, orig in originals:
        # Balances never go below zero: reverse what is left of the credit (its amount
        # less what of it has expired already).
        seq, currency = orig[C_SEQ], orig[C_CURRENCY]
        amount = min(orig[C_AMOUNT], m.balances.get(currency, 0))
        if amount <= 0:
            continue
        entry = _ledger(
            run, m, currency, -amount, "revoke", reason, record, reverses=seq, account=acct
        )
        entry.original = orig
        m.revocable.remove(orig)
        lots = currency in expiring
        if lots:
            debit_lots(m, currency, amount, seq)
        forfeit_revoked(m, currency, seq, amount, lots)
        reversed_.append(
            {
                "entry": seq,
                "currency": currency,
                "amount": shown(run, currency, amount),
                "rule": orig[C_RULE],
            }
        )
    if not reversed_:
        run.d.actions.remove(record)
        return
    record.params.update({"event": target, "reason": reason, "reversed": reversed_})


# -- fast paths -------------------------------------------------------------------------
# The common forms of `award` — every parameter known at load time — get executors with
# nothing left to look up per event.  They have exactly the effects of do_award (a
# property test in tests/test_fast_paths.py holds them equal).


def _fast_award(currency: str, amount: int, reason: str | None) -> Executor:
    room = MAX_EARNED - amount  # lifetime credits above which this award is refused
    plan: PointsPlan | None = None  # the playbook's, on the first award

    def award(run: ActionScope, action: CompiledAction) -> None:
        nonlocal plan
        m = run.m  # the event's member (`run.member`, without the property's call)
        if m is None:
            raise ActionError(rp.english(rp.NEEDS_A_MEMBER, action="award"))
        if amount == 0:
            return
        if m.earned.get(currency, 0) > room:
            _room(m, currency, amount)
        ev = run.event
        text = reason if reason is not None else run.rule
        record = ActionRecord(
            None,
            "award",
            m.id,
            run.rule,
            ev.id,
            ev.at,
            {"currency": currency, "amount": amount, "reason": text},
            ev.community,
            action.key_source,
        )
        run.d.actions.append(record)
        if plan is None:
            plan = _plan(run)
        _ledger(run, m, currency, amount, "award", text, record, None, plan)

    return award


def _fast_capped_award(
    currency: str, amount: int, reason: str | None, per: str, cap: int, tz: Any
) -> Executor:
    """`award` with a `cap:` and constant parameters: the cap's bookkeeping is that of
    :func:`do_award`, with the period found through a :class:`PeriodCache`."""
    periods = PeriodCache(tz, per)
    suffix = f":{currency}:{per}"
    keys: dict[str, str] = {}  # rule -> its cap key (one string per rule, hashed once)
    kept = 2 * CAP_PERIODS  # the slot's length at most
    room = MAX_EARNED - amount  # lifetime credits above which this award is refused
    plan: PointsPlan | None = None  # the playbook's, on the first award

    def award(run: ActionScope, action: CompiledAction) -> None:
        nonlocal plan
        m = run.m  # the event's member (`run.member`, without the property's call)
        if m is None:
            raise ActionError(rp.english(rp.NEEDS_A_MEMBER, action="award"))
        if m.earned.get(currency, 0) > room:
            _room(m, currency, amount)
        ev = run.event
        at_ts = ev.ts
        # PeriodCache.of, its common case written out: the quarter hour it remembers.
        inside = periods.start <= at_ts < periods.end
        period = periods.key if inside else periods.of(ev.at, at_ts)
        rule = run.rule
        key = keys.get(rule)
        if key is None:
            key = keys[rule] = rule + suffix
        caps = m.caps
        slot = caps.get(key)
        if slot and slot[0] == period:  # the current period is the newest one kept
            used = slot[1]
            left = cap - used
            given = amount if amount < left else left
            if given <= 0:
                return
            slot[1] = used + given
        elif not slot:
            given = amount if amount < cap else cap
            caps[key] = [period, given]
        elif period > slot[0]:  # a new period (keys sort in time order)
            given = amount if amount < cap else cap
            # In place: the slot, long-lived, stays where the garbage collector has
            # aged it, instead of a new list a day per member and rule.
            slot[0:0] = (period, given)
            del slot[kept:]
        else:  # a late event, dated in an older period
            prior = _cap_used(slot, period)
            given = 0 if prior is None else min(amount, max(cap - prior, 0))
            if given <= 0:
                return
            caps[key] = _cap_record(slot, period, (prior or 0) + given)
        text = reason if reason is not None else rule
        record = ActionRecord(
            None,
            "award",
            m.id,
            rule,
            ev.id,
            ev.at,
            {"currency": currency, "amount": given, "reason": text},
            ev.community,
            action.key_source,
        )
        run.d.actions.append(record)
        if plan is None:
            plan = _plan(run)
        _ledger(run, m, currency, given, "award", text, record, None, plan)

    return award


def specialise(action: CompiledAction, tz: ZoneInfo) -> Executor | None:
    """A faster executor for an `award` whose parameters are all known at load time."""
    consts = action.consts
    if action.values or consts.get("to") is not None or "lots" in consts:
        return None
    if "minor" in consts or "person" in consts:  # (units; a person's balance)
        return None
    amount = consts.get("amount")
    if type(amount) is int and 0 <= amount <= MAX_AMOUNT and "currency" in consts:
        reason = consts.get("reason")
        text = None if reason is None else str(reason)
        cap = getattr(action.params, "cap", None)
        if cap is None:
            return _fast_award(consts["currency"], amount, text)
        if amount > 0:
            return _fast_capped_award(consts["currency"], amount, text, cap.per, cap.max, tz)
    return None


def check_amount(ctx: CompileContext, call: ActionCall, label: str, consts: dict[str, Any]) -> None:
    """`points: N` is an amount of the default currency; an award of an expiring
    currency keeps lots (and so takes the general executor)."""
    names = ctx.currencies
    if "points" in consts:
        consts["currency"] = names[0]
        consts["amount"] = consts.pop("points")
    currency = getattr(call.params, "currency", None) or names[0]
    if call.name == "award" and currency in ctx.spec.currency_expiry():
        consts["lots"] = True
    if currency in ctx.spec.person_currencies():
        consts["person"] = True  # held by the member's person: the general executor
    scale = ctx.spec.currency_scales().get(currency)
    if scale is not None:
        consts["minor"] = True
        raw = consts.get("amount")
        if raw is not None and not isinstance(raw, bool):
            field = "points" if getattr(call.params, "points", None) is not None else "amount"
            try:
                consts["amount"] = to_minor(raw, scale)
            except ValueError as err:
                ctx.problem(
                    (*call.path, call.name, field),
                    _("{err} ({currency})").format(err=err, currency=currency),
                )


class PointsFeature(BaseFeature):
    """Currencies: `award`, `spend`, `revoke`, and the expiry of credits."""

    name = "points"

    def actions(self) -> list[ActionDef]:
        return [
            ActionDef(
                ActionSpec(
                    "award", AwardParams, description=N_("credit a currency"), title=N_("Award")
                ),
                do_award,
                check=check_amount,
                specialise=specialise,
            ),
            ActionDef(
                ActionSpec(
                    "spend",
                    SpendParams,
                    description=N_("debit a currency; never below zero"),
                    title=N_("Spend"),
                ),
                do_spend,
                check=check_amount,
            ),
            ActionDef(
                ActionSpec(
                    "revoke",
                    RevokeParams,
                    description=N_("reverse earlier ledger entries"),
                    title=N_("Revoke"),
                ),
                do_revoke,
            ),
        ]

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {EXPIRE_KIND: _expire}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        spec = ctx.spec
        scales = spec.currency_scales()
        plan = PointsPlan(spec.currency_expiry(), spec.revoke_within.total_seconds(), scales)
        if spec.levels is not None and spec.levels.by in scales:
            ctx.problem(
                ("levels", "by"),
                _("levels cannot be measured by {by!r}: it has decimals").format(by=spec.levels.by),
            )
        for bid, board in spec.leaderboards.items():
            if board.measure in scales:
                ctx.problem(
                    ("leaderboards", bid, "measure"),
                    _("a leaderboard cannot rank {measure!r}: it has decimals").format(
                        measure=board.measure
                    ),
                )
        return FeaturePlan(data=plan, on_start=forget_final(plan))


def _expire(
    engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
) -> None:
    """Expire lots (:func:`.currencies.expire_lots`), the amount shown in units."""
    plan = engine.playbook.data(POINTS)
    scale = plan.scales.get(str(timer.payload.get("currency", ""))) if plan else None
    expire_lots(engine, d, timer, m, at, scale or 1)
