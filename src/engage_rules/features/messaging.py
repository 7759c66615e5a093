"""The messaging policy (docs/reference.md §5.8): opt-out, quiet hours and frequency caps.

It governs messages addressed to one member — ``send`` (a direct message) fully, and
``warn`` for opt-out only (a warning is part of moderation: it is never deferred nor
capped, and is recorded in the audit log either way).  ``reply`` and ``broadcast`` are
channel messages: outside this policy, under their own caps (`max_broadcasts`,
`max_per_channel`: channel_caps.py).  For a ``send``, in order:

1. **opt-out** — a member who opted out gets nothing; checked when the message is sent,
   so a send deferred before the opt-out is dropped at its release;
2. ``transactional: true`` on the action — sent now, bypassing quiet hours and caps, and
   not counted against the cap;
3. **quiet hours** — in the member's time zone (``member.attrs.timezone``, when it is a
   valid IANA name) else the community's: ``drop``, or ``defer`` to the end of quiet
   hours plus a deterministic offset within ``spread`` (a hash of the action key), so
   deferred sends are released spread out, not all at once;
4. **frequency cap** — ``max_per_member: {count, per}`` counts the member's sends per
   calendar period in the community time zone; beyond it, ``when_capped: drop``, or
   ``defer`` to the next period's start (plus the same spread offset).

A deferred send is a ``deferred_send`` timer holding the rendered message; at its release
the whole policy applies again, and it is emitted with its original key, rule and cause
and ``at`` = the release instant.  Every message the policy suppresses is recorded in the
audit log as ``message_suppressed`` (reason ``opted_out``, ``quiet_hours`` or
``capped``), and every deferral as ``message_deferred``, so reports can count them.

Messages the engine emits never come back as events: no rule can see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .._util.cron import to_instant
from .._util.periods import period_key
from .._util.suggest import did_you_mean
from .._util.zones import zone
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
from ..lang.action_params import (
    ActionSpec,
    EmptyTargeted,
    MessageParams,
    RoutedMessageParams,
)
from ..lang.loader import ActionCall
from ..lang.spec import MessagingSpec
from ..model import rule_problems as rp
from ..model.decision import ActionRecord, Decision
from ..model.persons import PERSONS, account_in
from ..model.state import MemberState, Timer, ts
from .channel_caps import take_cap

if TYPE_CHECKING:
    from ..engine.effects import Effects

DEFERRED_SEND = "deferred_send"
_CAP_KEY = "@messages:"  # MemberState.caps key prefix (rule ids cannot start with @)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """The quiet hours of the messaging policy, in seconds after local midnight."""

    start: int  # seconds after local midnight
    end: int
    mode: str  # defer | drop
    spread: int  # seconds

    def end_after(self, at: datetime, tz: ZoneInfo) -> datetime | None:
        """When the quiet hours ``at`` falls in end, or None when ``at`` is not in them."""
        local = at.astimezone(tz)
        sod = local.hour * 3600 + local.minute * 60 + local.second
        start, end = self.start, self.end
        if start < end:
            if not start <= sod < end:
                return None
            day = local.date()
        elif sod >= start:
            day = local.date() + timedelta(days=1)
        elif sod < end:
            day = local.date()
        else:
            return None
        wall = datetime.combine(day, time(end // 3600, end % 3600 // 60))
        return to_instant(wall, tz)


@dataclass(frozen=True, slots=True)
class MessagingPolicy:
    """The compiled `messaging:` policy: quiet hours and a cap on direct messages."""

    quiet: QuietHours | None
    cap: tuple[int, str] | None  # (count, per)
    when_capped: str  # drop | defer
    #: Broadcasts per community, channel messages per channel (channel_caps.py).
    broadcasts: tuple[int, str] | None = None
    per_channel: tuple[int, str] | None = None

    @classmethod
    def of(cls, spec: MessagingSpec | None) -> MessagingPolicy | None:
        if spec is None:
            return None
        quiet = None
        if spec.quiet_hours is not None:
            q = spec.quiet_hours
            quiet = QuietHours(
                _seconds(q.from_),
                _seconds(q.to),
                q.mode,
                int(q.spread.total_seconds()),
            )
        cap = None
        if spec.max_per_member is not None:
            cap = (spec.max_per_member.count, spec.max_per_member.per)
        b, ch = spec.max_broadcasts, spec.max_per_channel
        return cls(
            quiet,
            cap,
            spec.when_capped,
            (b.count, b.per) if b is not None else None,
            (ch.count, ch.per) if ch is not None else None,
        )

    @property
    def spread(self) -> int:
        return self.quiet.spread if self.quiet is not None else 3600


MESSAGING: FeatureKey[MessagingPolicy] = FeatureKey("messaging")


def _seconds(clock: str) -> int:
    return int(clock[:2]) * 3600 + int(clock[3:]) * 60


def member_timezone(m: MemberState, default: ZoneInfo) -> ZoneInfo:
    """``member.attrs.timezone`` when it is an IANA name of the bundled tzdata, else
    ``default`` (a name such as ``localtime`` would depend on the machine)."""
    name = m.attrs.get("timezone")
    if isinstance(name, str) and 0 < len(name) <= 64:
        return zone(name) or default
    return default


def next_period_start(at: datetime, per: str, tz: ZoneInfo) -> datetime:
    """The start of the calendar period (``day``, ``week``, ``month``) after ``at``'s."""
    today = at.astimezone(tz).date()
    if per == "day":
        start = today + timedelta(days=1)
    elif per == "week":
        start = today + timedelta(days=7 - today.weekday())
    else:
        start = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    return to_instant(datetime.combine(start, time()), tz)


def _offset(key: str, spread: int) -> timedelta:
    """A deterministic offset in [0, spread) seconds, from the action key."""
    return timedelta(seconds=int(key[:8], 16) % spread)


# -- the policy ---------------------------------------------------------------------------
def deliver(
    run: ActionScope, action: CompiledAction, m: MemberState, params: dict[str, Any]
) -> None:
    """Send a message addressed to ``m`` (``send`` or ``warn``) under the policy, in
    ``m``'s community (the event's, or the group a `send` names)."""
    engine = run.effects
    if not m.opted_out and (
        engine.playbook.data(MESSAGING) is None
        or action.name != "send"
        or getattr(action.params, "transactional", False)
    ):
        _routed(run.d, run.emit(action, m.id, params, community=m.community))
        return
    ev = run.event
    record = ActionRecord(
        None, action.name, m.id, run.rule, ev.id, run.at, params, m.community, action.key_source
    )
    if m.opted_out:
        _suppressed(run.d, record, "opted_out", run.at)
        return
    apply_policy(engine, run.d, record, m, run.at)


def apply_policy(
    engine: Effects, d: Decision, record: ActionRecord, m: MemberState, at: datetime
) -> None:
    """Emit ``record`` at ``at``, defer it, or suppress it, as the policy says."""
    if m.opted_out:
        _suppressed(d, record, "opted_out", at)
        return
    pb = engine.playbook
    policy = pb.data(MESSAGING)
    if policy is None:
        record.at = at
        d.actions.append(record)
        _routed(d, record)
        return
    quiet = policy.quiet
    if quiet is not None:
        end = quiet.end_after(at, member_timezone(m, pb.timezone))
        if end is not None:
            if quiet.mode == "drop":
                _suppressed(d, record, "quiet_hours", at)
            else:
                _defer(
                    engine, d, record, m, end + _offset(record.key, quiet.spread), "quiet_hours", at
                )
            return
    if policy.cap is not None:
        count, per = policy.cap
        key = _CAP_KEY + per
        period = period_key(at.astimezone(pb.timezone), per)
        slot = m.caps.get(key)
        used = slot[1] if slot is not None and slot[0] == period else 0
        if used >= count:
            if policy.when_capped == "drop":
                _suppressed(d, record, "capped", at)
            else:
                release = next_period_start(at, per, pb.timezone)
                _defer(
                    engine, d, record, m, release + _offset(record.key, policy.spread), "capped", at
                )
            return
        m.caps[key] = [period, used + 1]
        d.touched.add((m.community, m.id))
    record.at = at
    d.actions.append(record)
    _routed(d, record)


def _routed(d: Decision, record: ActionRecord) -> None:
    """Note in ``d`` a message that names the platform it goes through (`platform:`)."""
    if "platform" in record.params:
        routed = d.routed
        if not isinstance(routed, list):
            routed = d.routed = []
        routed.append(record)


def _audit(
    d: Decision, record: ActionRecord, action: str, reason: str, at: datetime, **extra: Any
) -> None:
    d.add_audit(
        {
            "at": at.isoformat(),
            "rule": record.rule,
            "event": record.cause,
            "member": record.member,
            "community": record.community,
            "action": action,
            "reason": reason,
            "actor": "engine",
            "message": record.type,
            "key": record.key,
            **extra,
        }
    )


def _suppressed(d: Decision, record: ActionRecord, reason: str, at: datetime) -> None:
    _audit(d, record, "message_suppressed", reason, at)


def _defer(
    engine: Effects,
    d: Decision,
    record: ActionRecord,
    m: MemberState,
    release: datetime,
    reason: str,
    at: datetime,
) -> None:
    due = ts(release)
    timer = Timer(
        due=due,
        seq=0,
        id=f"{DEFERRED_SEND}:{record.community}:{m.id}:{record.key}:{due:.0f}",
        kind=DEFERRED_SEND,
        community=record.community,
        member=m.id,
        rule=record.rule,
        payload={
            "key": record.key,
            "type": record.type,
            "cause": record.cause,
            "params": record.params,
        },
    )
    engine.add_timer(d, timer)
    _audit(d, record, "message_deferred", reason, at, until=release.isoformat())


def release_send(
    engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
) -> None:
    """A deferred send is due: the policy applies again (opt-out first)."""
    if m is None:
        return
    p = timer.payload
    record = ActionRecord(
        p["key"], p["type"], m.id, timer.rule, p["cause"], at, p["params"], timer.community
    )
    apply_policy(engine, d, record, m, at)


# -- the message actions -------------------------------------------------------------
def message_params(run: ActionScope, action: CompiledAction) -> dict[str, Any]:
    """The message parameters of an action: a rendered template, or its text."""
    template = getattr(action.params, "template", None)
    if template is not None:
        text = run.playbook.templates.render(template, run.c)
        return {"template": template, "text": text}
    return {"text": run.text(action, "text")}


def _route(run: ActionScope, action: CompiledAction) -> tuple[str | None, str | None]:
    """The `community:` and `platform:` a `send` or `broadcast` names (None: not given)."""
    community = run.text(action, "community") or None
    if community == PERSONS:
        raise ActionError(rp.english(rp.PERSONS_NOT_A_GROUP, persons=PERSONS))
    return community, run.text(action, "platform") or None


def do_send(run: ActionScope, action: CompiledAction) -> None:
    """The ``send`` action (a direct message, under the messaging policy); with
    `community:`, to the member's account in that group (the same person's)."""
    m = run.require_target(action)
    community, platform = _route(run, action)
    if community is not None:
        account = account_in(run.state, m, community)
        if account is None:
            raise ActionRefused(
                run.playbook.say(N_("{member} has no account in {community}")).format(
                    member=m.id, community=community
                ),
                "no_account",
                {"community": community},
            )
        if account is not m:
            run.d.touched.add((account.community, account.id))
        m = account
    # Opt-out, quiet hours and caps: the messaging policy (below).  Nothing is
    # rendered for an opted-out member: the message is suppressed whatever it says.
    params = {} if m.opted_out else message_params(run, action)
    if platform is not None:
        params["platform"] = platform
    deliver(run, action, m, params)


def _channel_caps(
    run: ActionScope, message: str, channel: Any, community: str | None = None
) -> None:
    """Count a channel message against `max_broadcasts` / `max_per_channel` (of
    ``community``, default the event's)."""
    policy = run.playbook.data(MESSAGING)
    if policy is None:
        return
    if message == "broadcast" and policy.broadcasts is not None:
        take_cap(run, message, "broadcast", policy.broadcasts, community)
    if channel and policy.per_channel is not None:
        take_cap(run, message, f"#{channel}", policy.per_channel, community)


def do_reply(run: ActionScope, action: CompiledAction) -> None:
    """The ``reply`` action."""
    params = message_params(run, action)
    params["channel"] = run.text(action, "channel") or run.event.channel
    message_id = run.event.data.get("message_id")
    if isinstance(message_id, str):
        params["reply_to"] = message_id
    m = run.target(action)
    _channel_caps(run, "reply", params["channel"])
    run.emit(action, m.id if m else None, params)


def do_broadcast(run: ActionScope, action: CompiledAction) -> None:
    """The ``broadcast`` action (to the event's group, or the `community:` named)."""
    community, platform = _route(run, action)
    params = message_params(run, action)
    channel = run.value(action, "channel")
    if channel:
        params["channel"] = str(channel)
    if platform is not None:
        params["platform"] = platform
    _channel_caps(run, "broadcast", params.get("channel"), community)
    _routed(run.d, run.emit(action, None, params, community=community))


def do_warn(run: ActionScope, action: CompiledAction) -> None:
    """The ``warn`` action."""
    m = run.require_target(action)
    params = message_params(run, action)
    reason = run.text(action, "reason")
    if reason:
        params["reason"] = reason
    deliver(run, action, m, params)  # never to an opted-out member; never deferred
    run.audit("warn", m.id, reason or params["text"])


def do_opt(run: ActionScope, action: CompiledAction) -> None:
    """The ``opt_out`` and ``opt_in`` actions."""
    m = run.require_target(action)
    out = action.name == "opt_out"
    if m.opted_out == out:
        return
    m.opted_out = out
    run.d.touched.add((m.community, m.id))
    run.emit(action, m.id, {})


# -- the feature ----------------------------------------------------------------------
def check_template(
    ctx: CompileContext, call: ActionCall, label: str, consts: dict[str, Any]
) -> None:
    """A message action's `template:` names one of the playbook's templates."""
    name = getattr(call.params, "template", None)
    if name is not None and name not in ctx.spec.templates:
        ctx.problem(
            (*call.path, call.name, "template"),
            _("unknown template {name!r}{hint}").format(
                name=name, hint=did_you_mean(name, ctx.spec.templates)
            ),
        )


class MessagingFeature(BaseFeature):
    """Messages (`send`, `reply`, `broadcast`, `warn`), consent (`opt_out`, `opt_in`)
    and the `messaging:` policy: quiet hours and caps."""

    name = "messaging"

    def actions(self) -> list[ActionDef]:
        literal = frozenset({"template"})
        return [
            ActionDef(
                ActionSpec(
                    "send",
                    RoutedMessageParams,
                    description=N_("direct message to the member"),
                    title=N_("Send"),
                ),
                do_send,
                literal,
                check_template,
            ),
            ActionDef(
                ActionSpec(
                    "reply",
                    MessageParams,
                    description=N_("reply in the event's channel"),
                    title=N_("Reply"),
                ),
                do_reply,
                literal,
                check_template,
            ),
            ActionDef(
                ActionSpec(
                    "broadcast",
                    RoutedMessageParams,
                    description=N_("community message"),
                    title=N_("Broadcast"),
                ),
                do_broadcast,
                literal,
                check_template,
            ),
            ActionDef(
                ActionSpec(
                    "warn",
                    MessageParams,
                    description=N_("warning to the member, recorded"),
                    title=N_("Warn"),
                ),
                do_warn,
                literal,
                check_template,
                moderation=True,
            ),
            ActionDef(
                ActionSpec(
                    "opt_out",
                    EmptyTargeted,
                    description=N_("stop direct messages to the member"),
                    title=N_("Opt out"),
                ),
                do_opt,
            ),
            ActionDef(
                ActionSpec(
                    "opt_in",
                    EmptyTargeted,
                    description=N_("allow direct messages again"),
                    title=N_("Opt in"),
                ),
                do_opt,
            ),
        ]

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {DEFERRED_SEND: release_send}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        policy = MessagingPolicy.of(ctx.spec.messaging)
        return FeaturePlan(data=policy) if policy is not None else None
