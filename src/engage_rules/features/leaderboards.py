"""Leaderboards (docs/reference.md §5.5): rankings per calendar period, closed by a timer.

State lives in the community's data (``CommunityState.data["leaderboards"][board]``)::

    {"open":   {"2026-W10": {"start": ISO, "end": ISO, "seq": N,
                             "scores": {member: [score, reached_ts, seq]}}},
     "closed": {"2026-W09": {"start": ISO, "end": ISO,
                             "ranking": [{"rank": 1, "member": "u1", "score": 40}, ...]}}}

* A currency measure (``measure: points``) scores what the member was awarded in that
  currency during the period (by the award's time), less what `revoke` later reversed of
  those awards while the period is open.  Spending, expiry and the prizes leaderboards
  themselves pay (``on_close``, rule ``leaderboards.*``) do not count.
* An expression measure scores the expression's latest value for the member, evaluated
  after each decision that touches the member (only after events of the types it counts,
  when it is built from ``count()``/``streak()``; see :mod:`engage_rules.compile.measures`).
* Ranked: members scoring more than 0, by score, then who reached their score first
  (time, then the order the engine recorded it), up to ``size``.
* A period opens when its first score is recorded, which schedules one community timer
  at its end (the next local midnight, Monday 00:00 or the 1st of the month, in the
  community time zone).  When it fires, the ranking is stored under ``closed``, each
  ranked member's ``on_close`` actions run (rule ``leaderboards.<id>``), and a
  ``leaderboard.closed`` event is raised (its ranking gives each member's display
  name, for announcements).  A score for a period that has ended (a late
  event) is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._util.periods import period_bounds
from ..compile.feature import (
    BaseFeature,
    CompileContext,
    FeatureKey,
    FeaturePlan,
    MemberCheck,
    TimerHandler,
)
from ..compile.measures import Measure, compile_measure
from ..compile.playbook import CompiledAction
from ..errors import ActionRefused
from ..i18n import _
from ..model.decision import Decision, RuleFailure
from ..model.events import internal_event, member_ref
from ..model.state import (
    C_AT,
    C_RULE,
    CommunityState,
    LedgerEntry,
    MemberState,
    State,
    Timer,
    from_ts,
    ts,
)

if TYPE_CHECKING:
    from ..engine.effects import Effects

#: The timer kind that closes a leaderboard's period.
CLOSE_TIMER = "leaderboard_close"
#: Where leaderboards keep their state in ``CommunityState.data``.
DATA_KEY = "leaderboards"
#: Rules of the prizes leaderboards pay: these credits never count toward a leaderboard.
PRIZE_RULE_PREFIX = "leaderboards."


@dataclass(slots=True)
class RankPrize:
    """The actions run for the members ranked ``first`` to ``last`` when a period closes."""

    first: int
    last: int
    do: list[CompiledAction]


@dataclass(slots=True)
class Board:
    """A compiled leaderboard of the `leaderboards:` section."""

    id: str
    period: str  # day | week | month
    size: int
    currency: str | None  # a currency measure
    measure: Measure | None  # an expression measure
    prizes: list[RankPrize] = field(default_factory=list)
    #: The period last looked up: (key, start, end), epoch seconds.
    cached: tuple[str, float, float] | None = None

    @property
    def rule(self) -> str:
        return f"{PRIZE_RULE_PREFIX}{self.id}"

    def prize(self, rank: int) -> RankPrize | None:
        for p in self.prizes:
            if p.first <= rank <= p.last:
                return p
        return None


# -- compiling ---------------------------------------------------------------------------------


def compile_leaderboards(compiler: CompileContext, currencies: tuple[str, ...]) -> dict[str, Board]:
    """The playbook's leaderboards (problems go to ``compiler.problem``)."""
    out: dict[str, Board] = {}
    for bid, spec in compiler.spec.leaderboards.items():
        path = ("leaderboards", bid)
        currency = spec.measure if spec.measure in currencies else None
        measure = None
        if currency is None:
            if spec.measure.isidentifier():
                compiler.problem(
                    (*path, "measure"),
                    _(
                        "unknown currency {measure!r}; the playbook's currencies are {names} (or "
                        "write an expression, such as \"count('message.posted')\")"
                    ).format(measure=spec.measure, names=", ".join(currencies)),
                )
            else:
                measure = compile_measure(compiler, spec.measure, (*path, "measure"))
        prizes = [
            RankPrize(step.first, step.last, compiler.actions(step.do, f"on_close.{i}"))
            for i, step in enumerate(spec.on_close)
        ]
        out[bid] = Board(bid, spec.period, spec.size, currency, measure, prizes)
    return out


# -- recording scores ------------------------------------------------------------------------


def _board_data(c: CommunityState, board: Board) -> dict[str, Any]:
    boards = c.data.get(DATA_KEY)
    if boards is None:
        boards = c.data[DATA_KEY] = {}
    data: dict[str, Any] | None = boards.get(board.id)
    if data is None:
        data = boards[board.id] = {"open": {}, "closed": {}}
    return data


def _period(engine: Effects, board: Board, when: float) -> tuple[str, float, float]:
    """The key and bounds (epoch seconds) of ``board``'s period containing ``when``;
    the latest one is cached on the board (periods are a function of time only)."""
    cached = board.cached
    if cached is not None and cached[1] <= when < cached[2]:
        return cached
    key, start, end = period_bounds(from_ts(when), board.period, engine.playbook.timezone)
    board.cached = (key, ts(start), ts(end))
    return board.cached


def _record(
    engine: Effects, d: Decision, c: CommunityState, board: Board, when: float, create: bool
) -> dict[str, Any] | None:
    """The open period of ``board`` containing ``when``; with ``create``, opened (and its
    close timer set) if needed.  None if that period has ended or closed."""
    key, start, end = _period(engine, board, when)
    if not create:  # a lookup: nothing is added to the community's data
        rec: dict[str, Any] | None = (
            c.data.get(DATA_KEY, {}).get(board.id, {}).get("open", {}).get(key)
        )
        return rec
    data = _board_data(c, board)
    rec = data["open"].get(key)
    if rec is not None:
        return rec
    clock = engine.state.clock
    if key in data["closed"] or (clock is not None and end <= ts(clock)):
        return None
    rec = data["open"][key] = {
        "start": _iso(start, engine),
        "end": _iso(end, engine),
        "seq": 0,
        "scores": {},
    }
    timer = Timer(
        end,
        0,
        f"{CLOSE_TIMER}:{c.name}:{board.id}:{key}",
        CLOSE_TIMER,
        c.name,
        None,
        board.rule,
        {"leaderboard": board.id, "period": key},
    )
    engine.add_timer(d, timer)
    return rec


def _iso(t: float, engine: Effects) -> str:
    return from_ts(t).astimezone(engine.playbook.timezone).isoformat()


def _set(
    engine: Effects, d: Decision, m: MemberState, board: Board, value: float, at: datetime
) -> None:
    """An expression board: the member's score is the measure's latest value."""
    c = engine.state.community(m.community)
    t = ts(at)
    rec = _record(engine, d, c, board, t, create=False)
    entry = rec["scores"].get(m.id) if rec is not None else None
    if entry is not None and entry[0] == value:
        return
    if entry is None and value <= 0:
        return  # no score to record (and no period opened) for nothing
    if rec is None:
        rec = _record(engine, d, c, board, t, create=True)
        if rec is None:
            return
    seq = rec["seq"] = rec["seq"] + 1
    rec["scores"][m.id] = [value, t, seq]
    d.touch_community(c.name)


class _LedgerCursor:
    """How far the current decision's ledger entries have been counted."""

    __slots__ = ("d", "done")

    def __init__(self) -> None:
        self.d: Decision | None = None
        self.done = 0


def score_check(boards: dict[str, Board]) -> MemberCheck | None:
    """The member check recording leaderboard scores (None without leaderboards).

    Currency boards count the decision's new ledger entries (once per decision, on the
    first touched member checked); expression boards evaluate their measure for each
    touched member."""
    if not boards:
        return None
    by_currency: dict[str, list[Board]] = {}
    for b in boards.values():
        if b.currency is not None:
            by_currency.setdefault(b.currency, []).append(b)
    measured = [b for b in boards.values() if b.measure is not None]
    cursor = _LedgerCursor()

    def check(engine: Effects, d: Decision, m: MemberState, at: datetime) -> None:
        if by_currency:
            if cursor.d is not d:
                cursor.d = d
                cursor.done = 0
            ledger = d.ledger
            if cursor.done < len(ledger):
                start, cursor.done = cursor.done, len(ledger)
                _count(engine, d, ledger, start, by_currency)
        for board in measured:
            measure = board.measure
            assert measure is not None
            if measure.due(d, m):
                value = measure.value(engine, d, m, at, board.rule)
                if value is not None:
                    _set(engine, d, m, board, value, at)

    return check


def _count(
    engine: Effects,
    d: Decision,
    ledger: list[tuple[str, str, LedgerEntry]],
    start: int,
    by_currency: dict[str, list[Board]],
) -> None:
    """Currency boards: add the awards among the decision's ledger entries from
    ``start`` on, less reversals of awards.  This runs for every award of a playbook
    with a points leaderboard, so the common case is kept to a few dictionary lookups."""
    communities = engine.state.communities
    ev = d.event
    for i in range(start, len(ledger)):
        community, mid, e = ledger[i]
        boards = by_currency.get(e.currency)
        if boards is None:
            continue
        amount = e.amount
        if e.kind == "award" and amount > 0:
            if e.rule.startswith(PRIZE_RULE_PREFIX):
                continue
            at = e.at
            when = reached = ev.ts if ev is not None and at is ev.at else ts(at)
        elif e.kind == "revoke" and e.original is not None:
            orig = e.original  # the revocable credit it reversed (an award)
            if orig[C_RULE].startswith(PRIZE_RULE_PREFIX):
                continue
            when, reached = orig[C_AT], ts(e.at)
        else:
            continue
        if e.origin is not None:  # a person-wide currency: scored in the account's group
            community, mid = e.origin
        c = communities[community]
        for board in boards:
            cached = board.cached
            key = (
                cached[0]
                if cached is not None and cached[1] <= when < cached[2]
                else _period(engine, board, when)[0]
            )
            boards_data = c.data.get(DATA_KEY)
            data = boards_data.get(board.id) if boards_data is not None else None
            rec = data["open"].get(key) if data is not None else None
            if rec is None:
                rec = _record(engine, d, c, board, when, create=amount > 0)
                if rec is None:
                    continue
            scores = rec["scores"]
            entry = scores.get(mid)
            if entry is None and amount <= 0:
                continue
            seq = rec["seq"] = rec["seq"] + 1
            if entry is None:
                scores[mid] = [amount, reached, seq]
            else:
                entry[0] += amount
                entry[1] = reached
                entry[2] = seq
            d.touch_community(community)


# -- closing ---------------------------------------------------------------------------------


def rank(scores: dict[str, list[Any]], size: int) -> list[dict[str, Any]]:
    """The ranking of an open period's scores: members above 0, by score, then who
    reached it first (time, then recording order); at most ``size``."""
    ordered = sorted(
        ((s[0], s[1], s[2], mid) for mid, s in scores.items() if s[0] > 0),
        key=lambda x: (-x[0], x[1], x[2]),
    )
    return [
        {"rank": i + 1, "member": mid, "score": score}
        for i, (score, _tie, _seq, mid) in enumerate(ordered[:size])
    ]


def close_period(
    engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
) -> None:
    """A leaderboard's period is over: rank its members and run the prizes."""
    bid = str(timer.payload.get("leaderboard", ""))
    key = str(timer.payload.get("period", ""))
    board = (engine.playbook.data(LEADERBOARDS) or {}).get(bid)
    c = engine.state.community(timer.community)
    data = c.data.get(DATA_KEY, {}).get(bid)
    if board is None or data is None or key not in data["open"]:
        return
    rec = data["open"].pop(key)
    ranking = rank(rec["scores"], board.size)
    data["closed"][key] = {"start": rec["start"], "end": rec["end"], "ranking": ranking}
    d.touch_community(c.name)
    for place in ranking:
        prize = board.prize(place["rank"])
        if prize is not None:
            _pay(engine, d, timer, board, prize, place, key, c, at)
    engine.raise_event(
        d,
        "leaderboard.closed",
        None,
        {
            "leaderboard": bid,
            "period": key,
            "ranking": [dict(p, name=_name(c, p["member"])) for p in ranking],
        },
        "closed",
        community=timer.community,
    )


def _name(c: CommunityState, mid: str) -> str:
    """A ranked member's display name (the id when the platform gave none)."""
    return c.member(mid).name or mid


def _pay(
    engine: Effects,
    d: Decision,
    timer: Timer,
    board: Board,
    prize: RankPrize,
    place: dict[str, Any],
    period: str,
    c: CommunityState,
    at: datetime,
) -> None:
    """Run a rank's ``on_close`` actions for its member, as if an event of theirs (with
    ``data``: leaderboard, period, rank, score) had caused them."""
    m = c.member(place["member"])
    d.touched.add((c.name, m.id))
    event = internal_event(
        id=f"{timer.id}/rank.{place['rank']}",
        type="leaderboard.prize",
        at=at,
        community=c.name,
        member=member_ref(m),
        data={
            "leaderboard": board.id,
            "period": period,
            "rank": place["rank"],
            "score": place["score"],
        },
        depth=1,
    )
    run = engine.scope(d, event, m, board.rule)
    for action in prize.do:
        try:
            action.execute(run, action)
        except ActionRefused:
            break
        except Exception as err:
            d.add_error(RuleFailure(board.rule, event.id, f"{action.name}: {err}", at))
            break


# -- queries ---------------------------------------------------------------------------------


def standings(
    state: State, community: str, board: str, period: str | None = None, size: int | None = None
) -> list[dict[str, Any]]:
    """The ranking of ``board`` for ``period`` (a key such as ``2026-W10``): a closed
    period's stored ranking, or an open period's current standings (the ranking it
    would close with; ``size`` limits it, default all).  Without ``period``: the open
    period, or, when none is open, the latest closed one.  Empty when unknown."""
    c = state.communities.get(community)
    data = c.data.get(DATA_KEY, {}).get(board) if c is not None else None
    if data is None:
        return []
    if period is None:
        if data["open"]:
            period = max(data["open"])
        elif data["closed"]:
            period = max(data["closed"])
        else:
            return []
    if period in data["closed"]:
        return [dict(p) for p in data["closed"][period]["ranking"]]
    rec = data["open"].get(period)
    if rec is None:
        return []
    return rank(rec["scores"], size if size is not None else len(rec["scores"]))


def periods(state: State, community: str, board: str) -> dict[str, list[str]]:
    """The period keys ``board`` has open and closed, each sorted."""
    c = state.communities.get(community)
    data = c.data.get(DATA_KEY, {}).get(board) if c is not None else None
    if data is None:
        return {"open": [], "closed": []}
    return {"open": sorted(data["open"]), "closed": sorted(data["closed"])}


LEADERBOARDS: FeatureKey[dict[str, Board]] = FeatureKey("leaderboards")


class LeaderboardsFeature(BaseFeature):
    """Leaderboards per calendar period, closed by a timer, with prizes by rank."""

    name = "leaderboards"

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {CLOSE_TIMER: close_period}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        boards = compile_leaderboards(ctx, ctx.currencies)
        if not boards:
            return None
        check = score_check(boards)
        return FeaturePlan(data=boards, member_checks=(check,) if check is not None else ())
