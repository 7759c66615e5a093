"""Fair draws (docs/language.md, "Draws"): draw N winners among the members who did
something, uniformly (or by weight), reproducibly from a published seed.

* **Entrants** are entered by the `enter_draw` action, from any rule (``on:`` and
  ``if:`` say who qualifies).  A member is entered once however often they qualify,
  unless the action gives a ``weight`` (then each entry adds that many chances).  The
  pool lives in the community's data (``CommunityState.data["draws"][draw]``), which
  every store persists with the community::

      {"open": {"2026-W10": {"start": ISO, "end": ISO, "entrants": {member: weight}}},
       "closed": {"2026-W09": {"seed": text, "entrants": N,
                               "winners": [{"place": 1, "member": "u7", "name": "小明"}]}},
       "rounds": N}

* **When.**  A draw with a ``period`` (day, week, month; community time zone) keeps one
  pool per period and draws it when the period ends (a timer, as leaderboards close).
  Without a period there is one pool at a time, drawn by a `run_draw` action (on any
  event: an admin's command, a schedule).  `run_draw` also draws a period's pool early.
* **Reproducible.**  The winners are :func:`pick_winners` of the seed text
  ``"<seed>\\x1f<draw>\\x1f<pool>"`` (``seed`` defaults to the playbook name; the pool is
  the period key, or ``round-N``) and the entrants: nothing else — no clock, no global
  randomness.  Replaying the same events draws the same winners, and anyone holding the
  seed and the entrant list can check a draw.
* **Winners act and are announced.**  Each winner's ``do:`` actions run (rule
  ``draws.<id>``), then ``draw.closed`` is raised with the winners, their names and the
  number of entrants, for an announcement rule.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._util.periods import period_bounds
from ..compile.feature import (
    ActionDef,
    BaseFeature,
    CompileContext,
    FeatureKey,
    FeaturePlan,
    TimerHandler,
)
from ..compile.playbook import CompiledAction
from ..engine.scope import ActionScope
from ..errors import ActionError, ActionRefused
from ..i18n import N_, _
from ..lang.action_params import ActionSpec, EnterDrawParams, RunDrawParams
from ..lang.loader import ActionCall
from ..model import rule_problems as rp
from ..model.decision import Decision, RuleFailure
from ..model.events import internal_event, member_ref
from ..model.state import CommunityState, MemberState, Timer, from_ts, ts

if TYPE_CHECKING:
    from ..engine.effects import Effects

#: Where draws keep their pools in ``CommunityState.data``.
DATA_KEY = "draws"
#: The timer kind that draws a period's pool when the period ends.
CLOSE_TIMER = "draw_close"
#: The rule the winners' actions run under: ``draws.<id>``.
RULE_PREFIX = "draws."
#: The largest weight one entry may add.
MAX_WEIGHT = 1_000_000


@dataclass(slots=True)
class Draw:
    """A compiled draw of the `draws:` section."""

    id: str
    winners: int
    period: str | None
    seed: str
    do: list[CompiledAction] = field(default_factory=list)

    @property
    def rule(self) -> str:
        return f"{RULE_PREFIX}{self.id}"


DRAWS: FeatureKey[dict[str, Draw]] = FeatureKey("draws")


def seed_text(seed: str, draw: str, pool: str) -> str:
    """The text a draw's winners are picked with (see the module docs)."""
    return f"{seed}\x1f{draw}\x1f{pool}"


def pick_winners(seed: str, entrants: Mapping[str, int], n: int) -> list[str]:
    """Up to ``n`` distinct winners among ``entrants`` (member -> weight, a whole number
    ≥ 1), each pick uniform over the chances left: a member with weight 2 is twice as
    likely as one with weight 1, and a member never wins twice.

    Deterministic: the entrants are taken in member-id order (so the order they entered
    does not matter), and the picks come from Python's ``random.Random`` seeded with the
    big-endian integer of the 16-byte BLAKE2b hash of ``seed`` (UTF-8); each pick is
    ``randrange(total chances left)``, walked through the remaining entrants in order.
    """
    pool = sorted((mid, int(w)) for mid, w in entrants.items() if int(w) > 0)
    digest = hashlib.blake2b(seed.encode(), digest_size=16).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    winners: list[str] = []
    while pool and len(winners) < n:
        point = rng.randrange(sum(w for _, w in pool))
        i = 0
        while point >= pool[i][1]:
            point -= pool[i][1]
            i += 1
        winners.append(pool.pop(i)[0])
    return winners


def _data(c: CommunityState, draw: Draw) -> dict[str, Any]:
    draws = c.data.setdefault(DATA_KEY, {})
    data: dict[str, Any] | None = draws.get(draw.id)
    if data is None:
        data = draws[draw.id] = {"open": {}, "closed": {}, "rounds": 0}
    return data


def _iso(t: float, run: ActionScope) -> str:
    return from_ts(t).astimezone(run.playbook.timezone).isoformat()


def _open_pool(run: ActionScope, c: CommunityState, draw: Draw) -> dict[str, Any] | None:
    """The pool the event being decided enters (opened, with its timer, if needed);
    None when its period has already been drawn (a late event)."""
    data = _data(c, draw)
    if draw.period is None:
        key = f"round-{data['rounds'] + 1}"
        pool = data["open"].get(key)
        if pool is None:
            pool = data["open"][key] = {"entrants": {}}
        return pool  # type: ignore[no-any-return]
    key, start, end = period_bounds(run.event.at, draw.period, run.playbook.timezone)
    pool = data["open"].get(key)
    if pool is not None:
        return pool  # type: ignore[no-any-return]
    clock = run.state.clock
    if key in data["closed"] or (clock is not None and ts(end) <= ts(clock)):
        return None
    pool = data["open"][key] = {
        "start": _iso(ts(start), run),
        "end": _iso(ts(end), run),
        "entrants": {},
    }
    timer = Timer(
        ts(end),
        0,
        f"{CLOSE_TIMER}:{c.name}:{draw.id}:{key}",
        CLOSE_TIMER,
        c.name,
        None,
        draw.rule,
        {"draw": draw.id, "pool": key},
    )
    run.effects.add_timer(run.d, timer)
    return pool


def _draw_of(run: ActionScope, action: CompiledAction) -> Draw:
    draws = run.playbook.data(DRAWS) or {}
    draw = draws.get(str(action.params.draw))  # type: ignore[attr-defined]
    if draw is None:  # pragma: no cover - names are checked at load time
        raise ActionError(rp.english(rp.UNKNOWN_DRAW, draw=repr(action.params.draw)))  # type: ignore[attr-defined]
    return draw


def _weight(run: ActionScope, action: CompiledAction) -> int | None:
    raw = run.value(action, "weight")
    if raw is None:
        return None
    try:
        weight = int(str(raw).strip()) if not isinstance(raw, int) else raw
    except ValueError:
        raise ActionError(rp.english(rp.WEIGHT_NOT_WHOLE, weight=repr(raw))) from None
    if isinstance(weight, bool) or not 1 <= weight <= MAX_WEIGHT:
        raise ActionError(rp.english(rp.WEIGHT_OUT_OF_RANGE, most=MAX_WEIGHT, weight=repr(raw)))
    return weight


def do_enter_draw(run: ActionScope, action: CompiledAction) -> None:
    """The ``enter_draw`` action."""
    m = run.require_target(action)
    draw = _draw_of(run, action)
    weight = _weight(run, action)
    c = run.state.community(m.community)
    pool = _open_pool(run, c, draw)
    if pool is None:
        return  # that period has been drawn: a late entry counts for nothing
    entrants: dict[str, int] = pool["entrants"]
    have = entrants.get(m.id)
    if weight is None:
        if have is not None:
            return  # entered already: one entry per member
        entrants[m.id] = 1
    else:
        entrants[m.id] = min((have or 0) + weight, MAX_WEIGHT)
    run.d.touch_community(c.name)
    run.emit(action, m.id, {"draw": draw.id, "weight": entrants[m.id]})


def do_run_draw(run: ActionScope, action: CompiledAction) -> None:
    """The ``run_draw`` action: draw the open pool now (refused when it is empty)."""
    draw = _draw_of(run, action)
    c = run.state.community(run.event.community)
    data = _data(c, draw)
    if draw.period is None:
        key = f"round-{data['rounds'] + 1}"
    else:
        key = period_bounds(run.event.at, draw.period, run.playbook.timezone)[0]
    pool = data["open"].get(key)
    if pool is None or not pool["entrants"]:
        raise ActionRefused(
            f"draw {draw.id} has no entrants", "no_entrants", {"draw": draw.id, "pool": key}
        )
    run.emit(action, None, {"draw": draw.id, "pool": key, "entrants": len(pool["entrants"])})
    closed = close_pool(run.effects, run.d, c, draw, key, run.event.at, run.event.id, run)
    if closed is not None:
        run.raise_event("draw.closed", None, closed, f"draw.{draw.id}")


def close_pool(
    engine: Effects,
    d: Decision,
    c: CommunityState,
    draw: Draw,
    key: str,
    at: datetime,
    cause: str,
    run: ActionScope | None = None,
) -> dict[str, Any] | None:
    """Draw the pool ``key`` of ``draw``: store the winners and run their actions (in
    ``run``'s scope when a `run_draw` action draws); the data of the ``draw.closed``
    event to raise (None: no such pool is open)."""
    data = _data(c, draw)
    pool = data["open"].pop(key, None)
    if pool is None:
        return None
    if draw.period is None:
        data["rounds"] += 1
    entrants: dict[str, int] = pool["entrants"]
    seed = seed_text(draw.seed, draw.id, key)
    winners = []
    for place, mid in enumerate(pick_winners(seed, entrants, draw.winners), 1):
        m = c.member(mid)
        winners.append({"place": place, "member": mid, "name": m.name or mid})
    data["closed"][key] = {"seed": seed, "entrants": len(entrants), "winners": winners}
    d.touch_community(c.name)
    for w in winners:
        _pay(engine, d, c, draw, w, key, at, cause, run)
    return {
        "draw": draw.id,
        "pool": key,
        "entrants": len(entrants),
        "seed": seed,
        "winners": [dict(w) for w in winners],
    }


def _pay(
    engine: Effects,
    d: Decision,
    c: CommunityState,
    draw: Draw,
    winner: dict[str, Any],
    key: str,
    at: datetime,
    cause: str,
    run: ActionScope | None,
) -> None:
    """Run the draw's ``do:`` for one winner (rule ``draws.<id>``), as if an event of
    theirs (``draw.won``, data: draw, pool, place; its id the cause's plus the place, so
    every winner's actions have their own keys) had caused them — in the scope of the
    `run_draw` action that drew, or the engine's for a period's draw."""
    if not draw.do:
        return
    m: MemberState = c.member(winner["member"])
    d.touched.add((c.name, m.id))
    event = internal_event(
        id=f"{cause}/draw.{draw.id}.{winner['place']}",
        type="draw.won",
        at=at,
        community=c.name,
        member=member_ref(m),
        data={"draw": draw.id, "pool": key, "place": winner["place"]},
        depth=1,
    )
    if run is not None:
        scope = run.for_member(m, draw.rule)
        scope.event = event
    else:
        scope = engine.scope(d, event, m, draw.rule)
    cause_id = event.id
    for action in draw.do:
        try:
            action.execute(scope, action)
        except ActionRefused:
            break
        except Exception as err:
            d.add_error(RuleFailure(draw.rule, cause_id, f"{action.name}: {err}", at))
            break


def close_period(
    engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
) -> None:
    """A draw's period is over: draw its pool."""
    draw = (engine.playbook.data(DRAWS) or {}).get(str(timer.payload.get("draw", "")))
    if draw is None:
        return
    c = engine.state.community(timer.community)
    closed = close_pool(engine, d, c, draw, str(timer.payload.get("pool", "")), at, timer.id)
    if closed is not None:
        engine.raise_event(d, "draw.closed", None, closed, f"draw.{draw.id}", community=c.name)


def check_draw(ctx: CompileContext, call: ActionCall, label: str, consts: dict[str, Any]) -> None:
    """`enter_draw` and `run_draw` name a draw of `draws:`."""
    name = call.params.draw  # type: ignore[attr-defined]
    if name not in ctx.spec.draws:
        known = ", ".join(sorted(ctx.spec.draws)) or _("none: add a `draws:` section")
        ctx.problem(
            (*call.path, call.name, "draw"),
            _("unknown draw {name!r} (draws: {known})").format(name=name, known=known),
        )
    weight = consts.get("weight")
    if weight is not None and (
        not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= MAX_WEIGHT
    ):
        ctx.problem(
            (*call.path, call.name, "weight"),
            _("weight must be a whole number from 1 to {limit}, got {weight!r}").format(
                limit=MAX_WEIGHT, weight=weight
            ),
        )


class DrawsFeature(BaseFeature):
    """Fair, seeded draws among the members a playbook's rules enter."""

    name = "draws"

    def actions(self) -> list[ActionDef]:
        return [
            ActionDef(
                ActionSpec(
                    "enter_draw",
                    EnterDrawParams,
                    shorthand="draw",
                    description=N_("enter the member in a draw (once, or with a weight)"),
                    title=N_("Enter draw"),
                ),
                do_enter_draw,
                literal=frozenset({"draw"}),
                check=check_draw,
            ),
            ActionDef(
                ActionSpec(
                    "run_draw",
                    RunDrawParams,
                    shorthand="draw",
                    description=N_("draw a draw's open pool now; refused when it is empty"),
                    title=N_("Run draw"),
                ),
                do_run_draw,
                literal=frozenset({"draw"}),
                check=check_draw,
            ),
        ]

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {CLOSE_TIMER: close_period}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        draws = {
            did: Draw(
                did,
                spec.winners,
                spec.period,
                spec.seed if spec.seed is not None else ctx.name,
                ctx.actions(spec.do, f"draws.{did}.do"),
            )
            for did, spec in ctx.spec.draws.items()
        }
        return FeaturePlan(data=draws) if draws else None
