"""The points shop (docs/language.md, "The shop"): items with a price, a stock, a limit
per member and coupon codes, bought with the `redeem` action, all or nothing.

* **All or nothing.**  `redeem` checks everything before it changes anything: the item
  exists, it is in stock, the member is under the item's limit, the balance covers the
  price.  Then, in one step, the price is spent (a ``spend`` ledger entry), the stock and
  the member's count go up, and the next coupon code is handed out.  When a check fails
  the action is *refused* (:class:`~engage_rules.errors.ActionRefused`) with a reason
  code — ``unknown_item``, ``out_of_stock``, ``limit_reached``, ``insufficient_balance``
  — so the rule's ``refused:`` branch (or, without one, its ``else:``) runs and
  ``refusal.reason`` says why.
* **State.**  What was sold lives in the community's data
  (``CommunityState.data["shop"][item] = {"sold": N, "by": {member: N}}``), which every
  store persists with the community; the stock left is the playbook's ``stock`` less
  ``sold``, so raising the stock in the playbook restocks the item.
* **Codes.**  An item with ``codes:`` hands out its codes in order, one per redemption:
  ``codes[sold]``.  Generated codes (``generate: N``) are a function of the playbook
  name, the item and the position (:func:`generated_codes`), so every replay hands out
  the same codes; listed codes come from a ``vars`` entry (a list, or a word-list file:
  ``{file: codes.txt}``).  An item's stock is at most its number of codes.
* **Announcing.**  A successful redemption emits a ``redeem`` action and raises
  ``shop.redeemed`` for the member (data: item, name, price, currency, code), so a rule
  can send the code privately.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..compile.feature import ActionDef, BaseFeature, CompileContext, FeatureKey, FeaturePlan
from ..compile.playbook import CompiledAction
from ..engine.scope import ActionScope
from ..errors import ActionRefused
from ..expr.member_fields import in_units
from ..i18n import N_, _
from ..lang.action_params import ActionSpec, RedeemParams
from ..lang.loader import ActionCall
from ..lang.spec import ShopItemSpec
from ..model.decision import Decision
from ..model.events import Event
from ..model.state import MemberState
from .currencies import debit, to_minor

#: The largest purchase amount counted towards a member's total spent.
MAX_PURCHASE = 10**12
#: Where the shop keeps what it sold in ``CommunityState.data``.
DATA_KEY = "shop"


@dataclass(frozen=True, slots=True)
class Item:
    """A compiled shop item."""

    id: str
    name: str
    price: int
    currency: str
    stock: int | None
    per_member: int | None
    codes: tuple[str, ...] | None
    expiring: bool
    #: The price as actions and refusals show it: in units (``price`` is in minor units
    #: for a currency with decimals).
    shown_price: int | float = 0


SHOP: FeatureKey[dict[str, Item]] = FeatureKey("shop")


def generated_codes(playbook: str, item: str, n: int, prefix: str = "") -> tuple[str, ...]:
    """``n`` distinct codes for ``item``: each the prefix and 10 base-32 characters of a
    hash of the playbook name, the item and the code's position (and a counter, in the
    unlikely case two collide) — the same playbook always generates the same codes."""
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(out) < n:
        raw = f"{playbook}\x1f{item}\x1f{i}".encode()
        digest = hashlib.blake2b(raw, digest_size=10).digest()
        code = prefix + base64.b32encode(digest).decode()[:10]
        i += 1
        if code not in seen:
            seen.add(code)
            out.append(code)
    return tuple(out)


def _codes(ctx: CompileContext, iid: str, spec: ShopItemSpec) -> tuple[str, ...] | None:
    codes = spec.codes
    if codes is None:
        return None
    path = ("shop", "items", iid, "codes")
    if codes.generate is not None:
        return generated_codes(ctx.name, iid, codes.generate, codes.prefix)
    name = codes.var or ""
    value = ctx.vars.get(name)
    if value is None:
        known = ", ".join(sorted(ctx.vars)) or _("none")
        ctx.problem(
            (*path, "var"),
            _("no `vars` entry {name!r} (the playbook's vars: {known})").format(
                name=name, known=known
            ),
        )
        return None
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        ctx.problem(
            (*path, "var"),
            _("`vars.{name}` must be a list of codes (strings)").format(name=name),
        )
        return None
    if len(set(value)) != len(value):
        ctx.problem((*path, "var"), _("`vars.{name}` lists a code twice").format(name=name))
        return None
    return tuple(codes.prefix + c for c in value)


def compile_shop(ctx: CompileContext) -> dict[str, Item]:
    """The playbook's shop items (problems go to ``ctx.problem``)."""
    shop = ctx.spec.shop
    if shop is None:
        return {}
    currencies = ctx.currencies
    expiring = ctx.spec.currency_expiry()
    out: dict[str, Item] = {}
    for iid, spec in shop.items.items():
        path = ("shop", "items", iid)
        currency = spec.currency or currencies[0]
        if currency not in currencies:
            ctx.problem(
                (*path, "currency"),
                _("unknown currency {currency!r}; the playbook's currencies are {names}").format(
                    currency=currency, names=", ".join(currencies)
                ),
            )
            continue
        scale = ctx.spec.currency_scales().get(currency)
        try:
            if scale is not None:
                price = to_minor(spec.price, scale)
            elif spec.price != int(spec.price):
                raise ValueError(
                    _("price {price} must be a whole number of {currency}").format(
                        price=spec.price, currency=currency
                    )
                )
            else:
                price = int(spec.price)
        except ValueError as err:
            ctx.problem((*path, "price"), str(err))
            continue
        codes = _codes(ctx, iid, spec)
        stock = spec.stock
        if codes is not None:
            if stock is None:
                stock = len(codes)
            elif stock > len(codes):
                ctx.problem(
                    (*path, "stock"),
                    _("stock {stock} is more than the item's {n} codes").format(
                        stock=stock, n=len(codes)
                    ),
                )
                continue
        name = spec.name or iid
        out[iid] = Item(
            iid,
            name,
            price,
            currency,
            stock,
            spec.per_member,
            codes,
            currency in expiring,
            spec.price if scale is not None else price,
        )
    return out


def _in_units(run: ActionScope, item: Item, minor: int) -> int | float:
    scale = run.playbook.env.scales.get(item.currency)
    return minor if scale is None else in_units(minor, scale)


def _refuse(message: str, code: str, details: dict[str, Any]) -> ActionRefused:
    return ActionRefused(message, code, details)


def do_redeem(run: ActionScope, action: CompiledAction) -> None:
    """The ``redeem`` action: buy one item, all or nothing."""
    m = run.require_target(action)
    items = run.playbook.data(SHOP) or {}
    iid = run.text(action, "item")
    item = items.get(iid)
    if item is None:
        raise _refuse(f"the shop has no item {iid!r}", "unknown_item", {"item": iid})
    community = run.state.community(m.community)
    shop: dict[str, Any] = community.data.get(DATA_KEY) or {}
    rec: dict[str, Any] = shop.get(item.id) or {"sold": 0, "by": {}}
    sold = int(rec["sold"])
    bought = int(rec["by"].get(m.id, 0))
    wallet = run.wallet(m, item.currency)  # the person, for a person-wide currency
    balance = wallet.balances.get(item.currency, 0)
    details: dict[str, Any] = {
        "item": item.id,
        "name": item.name,
        "price": item.shown_price,
        "currency": item.currency,
        "balance": _in_units(run, item, balance),
        "bought": bought,
        "limit": item.per_member,
        "left": None if item.stock is None else max(item.stock - sold, 0),
    }
    if item.stock is not None and sold >= item.stock:
        raise _refuse(f"{item.name} is out of stock", "out_of_stock", details)
    if item.per_member is not None and bought >= item.per_member:
        raise _refuse(
            f"{m.id} has redeemed {item.name} {bought} times (limit {item.per_member})",
            "limit_reached",
            details,
        )
    if balance < item.price:
        raise _refuse("insufficient balance", "insufficient_balance", details)
    # Every check passed: spend, count and hand out the code together.
    code = item.codes[sold] if item.codes is not None else None
    default = run.playbook.say(N_("shop: {item}")).format(item=item.name)
    reason = run.text(action, "reason", default)
    params: dict[str, Any] = {
        "item": item.id,
        "name": item.name,
        "price": item.shown_price,
        "currency": item.currency,
        "reason": reason,
    }
    if code is not None:
        params["code"] = code
    record = run.emit(action, m.id, params)
    if item.price > 0:
        debit(run, wallet, item.currency, item.price, reason, record, item.expiring, m)
    rec["sold"] = sold + 1
    rec["by"][m.id] = bought + 1
    community.data.setdefault(DATA_KEY, {})[item.id] = rec
    run.d.touch_community(community.name)
    run.d.touched.add((m.community, m.id))
    data = {k: v for k, v in params.items() if k != "reason"}
    run.raise_event("shop.redeemed", m, data, f"redeem.{item.id}")


def purchase_amount(raw: Any) -> Decimal | None:
    """A ``purchase`` event's ``data.amount`` as an exact decimal: a JSON number (199.9
    is read as written, not as the nearest float) or a numeric string; None when it is
    missing, negative, not a finite number, above :data:`MAX_PURCHASE`, or has more
    than 6 decimal places."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        amount = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or not 0 <= amount <= MAX_PURCHASE:
        return None
    if amount.as_tuple().exponent < -6:  # type: ignore[operator]
        return None
    return amount


def record_purchase(engine: Any, ev: Event, m: MemberState | None, d: Decision, queue: Any) -> None:
    """The ``purchase`` observer: the member's purchase count, last purchase time and
    total spent per currency (``data.currency``, default ``""``), for RFM segments."""
    if m is None:
        return
    currency = ev.data.get("currency")
    m.record_purchase(
        purchase_amount(ev.data.get("amount")),
        currency if isinstance(currency, str) else "",
        ev.ts,
    )
    d.touched.add((m.community, m.id))


def check_item(ctx: CompileContext, call: ActionCall, label: str, consts: dict[str, Any]) -> None:
    """A `redeem` of an item written as it is must name an item of the shop."""
    item = consts.get("item")
    if not isinstance(item, str):
        return  # templated: checked when it runs (unknown items are refused)
    items = ctx.spec.shop.items if ctx.spec.shop is not None else {}
    if item not in items:
        known = ", ".join(sorted(items)) or _("none: add a `shop:` section")
        ctx.problem(
            (*call.path, "redeem", "item"),
            _("unknown shop item {item!r} (items: {known})").format(item=item, known=known),
        )


class ShopFeature(BaseFeature):
    """The points shop: items, stock, limits, codes and the `redeem` action."""

    name = "shop"

    def actions(self) -> list[ActionDef]:
        return [
            ActionDef(
                ActionSpec(
                    "redeem",
                    RedeemParams,
                    shorthand="item",
                    description=N_(
                        "buy a shop item: spend, stock, limit and code in one step; "
                        "refused with a reason otherwise"
                    ),
                    title=N_("Redeem"),
                ),
                do_redeem,
                check=check_item,
            )
        ]

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        items = compile_shop(ctx)
        return FeaturePlan(data=items, observers={"purchase": (record_purchase,)})
