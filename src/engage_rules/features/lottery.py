"""The `lottery` action (docs/reference.md §5.3): a weighted draw that a replay repeats exactly.

* **Reproducible.**  The draw is seeded from the playbook name, the rule, the cause (event
  or timer id), the action's position and the member — never from a clock or global
  randomness — so replaying the same log draws the same winners, and re-processing an
  event (a duplicate delivery) could never draw differently.
* **Stock is community-wide and never oversold.**  Each prize with a `stock` keeps its
  remaining count in the community's state (``data["lotteries"]``, keyed by rule and
  action position).  A prize whose stock is gone drops out of the draw and the weights
  of the others are renormalised; when every prize is gone the draw has no effect and
  emits nothing.
* **Prizes act.**  The winner's prize runs its `do:` actions for the member drawn for,
  as the rule's own actions (same keys scheme, same `to:` rules).  When one of them is
  refused (a `spend` the member cannot afford), the prize is not taken: its stock is
  kept, the `lottery` action is withdrawn and the refusal reaches the rule, whose
  `refused:` (or `else:`) branch runs.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from ..compile.feature import ActionDef, BaseFeature, CompileContext
from ..compile.playbook import CompiledAction
from ..engine.scope import ActionScope
from ..errors import ActionError, ActionRefused
from ..i18n import N_
from ..lang.action_params import ActionSpec, LotteryParams
from ..lang.loader import ActionCall
from ..model import rule_problems as rp


@dataclass(frozen=True, slots=True)
class Prize:
    """One prize of a `lottery` action, with its actions compiled."""

    name: str | None
    weight: float
    stock: int | None
    do: tuple[CompiledAction, ...]


def draw_seed(playbook: str, rule: str, cause: str, path: str, member: str) -> int:
    """The seed of one draw: the same inputs always draw the same prize."""
    raw = f"{playbook}\x1f{rule}\x1f{cause}\x1f{path}\x1f{member}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def _stock(data: dict[str, Any], key: str, prizes: list[Prize]) -> list[int | None]:
    """The remaining stock of each prize of one lottery, created on first draw.

    When the playbook's prize list changed since (a different number of prizes, or a
    prize that gained or lost its stock), the stock of the changed positions starts
    afresh from the playbook; unchanged positions keep what is left.
    """
    lotteries = data.setdefault("lotteries", {})
    have = lotteries.get(key)
    fresh = [p.stock for p in prizes]
    if not isinstance(have, list):
        stock: list[int | None] = fresh
    else:
        stock = [
            have[i] if i < len(have) and (have[i] is None) == (p.stock is None) else p.stock
            for i, p in enumerate(prizes)
        ]
    lotteries[key] = stock
    return stock


def do_lottery(run: ActionScope, action: CompiledAction) -> None:
    """The ``lottery`` action."""
    m = run.require_target(action)
    prizes: list[Prize] = action.consts["prizes"]
    community = run.state.community(run.event.community)
    key = f"{run.rule}/{action.path}"
    stock = _stock(community.data, key, prizes)
    available = [i for i, p in enumerate(prizes) if stock[i] is None or (stock[i] or 0) > 0]
    if not available:
        return  # everything is gone: no draw, nothing emitted
    rng = random.Random(draw_seed(run.playbook.name, run.rule, run.event.id, action.path, m.id))
    total = sum(prizes[i].weight for i in available)
    point = rng.random() * total
    won = available[-1]
    for i in available:
        point -= prizes[i].weight
        if point < 0:
            won = i
            break
    prize = prizes[won]
    left = stock[won]
    if left is not None:
        if left <= 0:  # pragma: no cover - excluded from the draw above
            raise ActionError(rp.english(rp.LOTTERY_STOCK_BELOW_ZERO))
        stock[won] = left - 1
    run.d.touch_community(community.name)
    params: dict[str, Any] = {"prize": won, "name": prize.name, "remaining": stock[won]}
    reason = run.text(action, "reason")
    if reason:
        params["reason"] = reason
    record = run.emit(action, m.id, params)
    scope = run if m is run.m else run.for_member(m, run.rule)
    for inner in prize.do:
        try:
            inner.execute(scope, inner)
        except ActionRefused:
            # The prize cannot be taken (a `spend` the member cannot afford): it stays
            # in stock, the draw is not announced, and the rule's refusal branch (or
            # `else:`) runs.  What the prize's actions before this one did stands.
            stock[won] = left
            if record in run.d.actions:
                run.d.actions.remove(record)
            raise


def check_prizes(ctx: CompileContext, call: ActionCall, label: str, consts: dict[str, Any]) -> None:
    """Compile each prize's `do:` actions with the lottery."""
    consts["prizes"] = [
        Prize(p.name, float(p.weight), p.stock, tuple(ctx.actions(p.do, f"{label}.prizes.{i}")))
        for i, p in enumerate(call.params.prizes)  # type: ignore[attr-defined]
    ]


class LotteryFeature(BaseFeature):
    """`lottery`: seeded, reproducible weighted draws with community-wide stock."""

    name = "lottery"

    def actions(self) -> list[ActionDef]:
        return [
            ActionDef(
                ActionSpec(
                    "lottery",
                    LotteryParams,
                    description=N_("a seeded, reproducible weighted draw; stock is never oversold"),
                    title=N_("Lottery"),
                ),
                do_lottery,
                literal=frozenset({"prizes"}),
                check=check_prizes,
            )
        ]
