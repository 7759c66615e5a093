"""One member across groups and platforms (docs/reference.md §4.3, docs/language.md,
"Persons"): linking accounts to persons, by the operator's system or by a code.

* **``member.linked``** — an event from the operator's own system, ``data: {person: ID}``:
  the engine links the event's member to that person before any rule sees the event
  (as it applies ``member.opted_out``), with a ``link`` bookkeeping action (rule
  ``persons``).  A person id is any text of 1 to 256 characters; a missing or bad one is
  a rule error of ``persons`` for that event, and nothing is linked.
* **``bind_code``** — issues a one-time code to a member (the account asking), valid for
  ``expires`` (default 10 minutes), and raises ``person.code_issued`` (data: ``code``,
  ``expires``) so that a rule can send it privately.  Codes are made of 32 characters
  that cannot be mistaken for one another (no 0/O, 1/I), from a hash of the playbook
  name, the ``secret`` given, the account and the causing event: the same events give
  the same codes, and without the secret nobody can work one out.
* **``bind``** — redeems a code in another group (or platform): the account redeeming
  joins the person of the account the code was issued to.  It is refused, with
  ``refusal.reason``, when the code is ``unknown_code`` (never issued, or forgotten a
  day after it expired), ``expired_code``, ``used_code`` (each code links once),
  ``own_code`` (the account that asked for it), or ``already_linked`` (both accounts
  are the same person already).  On success it emits ``bind`` and raises
  ``person.linked`` (data: ``person``, and the ``community`` and ``member`` of the
  other account).

Which person: the issuer's, when it has one; else the redeemer's; else a new person
whose id is ``<community>/<member>`` of the issuer.  Codes live in the data of the
persons' community (``@persons``), which every store persists.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..compile.feature import ActionDef, BaseFeature, CompileContext, FeatureKey, FeaturePlan
from ..compile.playbook import CompiledAction, CompiledPlaybook
from ..engine.scope import ActionScope
from ..errors import ActionRefused
from ..i18n import N_
from ..lang.action_params import ActionSpec, BindCodeParams, BindParams
from ..lang.loader import ActionCall
from ..model.decision import Decision, RuleFailure
from ..model.events import Event
from ..model.persons import PERSONS, holder, link
from ..model.state import MemberState, from_ts

if TYPE_CHECKING:
    from ..engine.effects import Effects

#: The section named as the `rule` of what the engine does for persons.
SECTION = "persons"
#: Where the codes are kept, in the persons' community data.
CODES = "bind_codes"
#: The characters of a code: digits and capitals, without 0, O, 1 and I.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
#: How long a code is remembered after it expired (then it is unknown).
KEEP_EXPIRED = 86400.0
#: The longest person id.
MAX_PERSON_ID = 256
#: The actions that make a playbook use persons (with a person-wide currency).
PERSON_ACTIONS = frozenset({"bind", "bind_code"})


class PersonsPlan:
    """Whether the playbook uses persons: found on first use (every action compiled)."""

    used: bool | None = None


PERSONS_PLAN: FeatureKey[PersonsPlan] = FeatureKey("persons")


def uses_persons(playbook: CompiledPlaybook) -> bool:
    """Whether ``playbook`` uses persons: it declares a currency, badge or ladder
    ``scope: person``, or has a `bind_code` or `bind` action.  Only then does ``member.linked``
    link, and only then is person-wide state in play (the Kafka worker refuses such a
    playbook)."""
    plan = playbook.data(PERSONS_PLAN)
    if plan is not None and plan.used is not None:
        return plan.used
    env = playbook.env
    used = bool(env.person_currencies or env.person_badges or env.person_levels) or any(
        a.name in PERSON_ACTIONS for a in playbook.actions
    )
    if plan is not None:
        plan.used = used
    return used


def make_code(playbook: str, secret: str, m: MemberState, cause: str, length: int, n: int) -> str:
    """The ``n``-th candidate code for ``m`` issued by event ``cause``."""
    raw = "\x1f".join((playbook, secret, m.community, m.id, cause, str(n))).encode()
    number = int.from_bytes(hashlib.blake2b(raw, digest_size=16).digest(), "big")
    chars = []
    for _i in range(length):
        number, r = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[r])
    return "".join(chars)


def _codes(run: ActionScope) -> dict[str, Any]:
    data = run.state.community(PERSONS).data
    codes: dict[str, Any] = data.setdefault(CODES, {})
    return codes


def do_bind_code(run: ActionScope, action: CompiledAction) -> None:
    """The ``bind_code`` action: issue a one-time code to the member."""
    m = run.require_target(action)
    ttl: timedelta = getattr(action.params, "expires", None) or timedelta(minutes=10)
    length = int(getattr(action.params, "length", 6))
    secret = run.text(action, "secret")
    now = run.event.ts
    codes = _codes(run)
    for code in [c for c, rec in codes.items() if rec["expires"] + KEEP_EXPIRED < now]:
        del codes[code]  # forgotten: a day after they expired
    n = 0
    code = make_code(run.playbook.name, secret, m, run.event.id, length, n)
    while code in codes:
        n += 1
        code = make_code(run.playbook.name, secret, m, run.event.id, length, n)
    expires = now + ttl.total_seconds()
    codes[code] = {"community": m.community, "member": m.id, "expires": expires, "used_by": None}
    run.d.touch_community(PERSONS)
    shown = from_ts(expires).astimezone(run.tz).isoformat()
    run.emit(action, m.id, {"code": code, "expires": shown})
    run.raise_event("person.code_issued", m, {"code": code, "expires": shown}, "bind_code")


def _refuse(message: str, code: str, details: dict[str, Any]) -> ActionRefused:
    return ActionRefused(message, code, details)


def do_bind(run: ActionScope, action: CompiledAction) -> None:
    """The ``bind`` action: redeem a code, linking the member to the code's person."""
    m = run.require_target(action)
    code = run.text(action, "code").strip().upper()
    say = run.playbook.say  # (refusals are in the community's language)
    details: dict[str, Any] = {"code": code}
    codes = run.state.community(PERSONS).data.get(CODES) or {}
    rec = codes.get(code)
    if rec is None:
        raise _refuse(
            say(N_("no code {code!r} was issued")).format(code=code), "unknown_code", details
        )
    if rec["used_by"] is not None:
        raise _refuse(
            say(N_("the code {code} was used already")).format(code=code), "used_code", details
        )
    if run.event.ts >= rec["expires"]:
        raise _refuse(
            say(N_("the code {code} has expired")).format(code=code), "expired_code", details
        )
    state = run.state
    issuer = state.community(rec["community"]).member(rec["member"])
    details.update({"community": issuer.community, "member": issuer.id})
    if issuer is m:
        raise _refuse(
            say(
                N_("the code {code} was issued to this account: send it from another group")
            ).format(code=code),
            "own_code",
            details,
        )
    if (
        m.person is not None
        and issuer.person is not None
        and holder(state, m) is holder(state, issuer)
    ):
        raise _refuse(
            say(N_("these accounts are one person already")),
            "already_linked",
            {**details, "person": holder(state, m).id},
        )
    if issuer.person is not None:
        person = holder(state, issuer).id
    elif m.person is not None:
        person = holder(state, m).id
    else:
        person = f"{issuer.community}/{issuer.id}"
    record = run.emit(action, m.id, {"code": code, "person": person})
    currencies = run.env.person_currencies
    d = run.d
    badges = run.env.person_badges
    for account in (issuer, m):
        link(state, d, account, person, currencies, record, run.at, run.rule, badges)
    rec["used_by"] = [m.community, m.id]
    d.touch_community(PERSONS)
    data = {"person": person, "community": issuer.community, "member": issuer.id}
    run.raise_event("person.linked", m, data, "bind")


def apply_linked(
    engine: Effects, ev: Event, m: MemberState | None, d: Decision, queue: Any
) -> None:
    """``member.linked`` (before rules): link the member to ``data.person`` — in a
    playbook that uses persons (:func:`uses_persons`)."""
    if m is None or not uses_persons(engine.playbook):
        return
    person = ev.data.get("person")
    if not isinstance(person, str) or not 1 <= len(person) <= MAX_PERSON_ID:
        message = engine.playbook.say(
            N_("member.linked needs `data.person`: the person's id, text of 1 to {n} characters")
        ).format(n=MAX_PERSON_ID)
        d.add_error(RuleFailure(SECTION, ev.id, message, ev.at))
        return
    record = engine.engine_action(
        d, "link", ev.community, m.id, SECTION, {"person": person}, f"link:{m.id}", at=ev.at
    )
    env = engine.playbook.env
    linked = link(
        engine.state, d, m, person, env.person_currencies, record, ev.at, SECTION, env.person_badges
    )
    if linked is None:
        d.actions.remove(record)  # linked to it already: nothing to record
    else:
        record.params["person"] = linked.id


class PersonsFeature(BaseFeature):
    """Persons: `member.linked`, `bind_code` and `bind` (see the module docs)."""

    name = "persons"

    def actions(self) -> list[ActionDef]:
        return [
            ActionDef(
                ActionSpec(
                    "bind_code",
                    BindCodeParams,
                    shorthand="expires",
                    description=N_(
                        "issue a one-time code that links another account of the member "
                        "(raises person.code_issued)"
                    ),
                    title=N_("Bind code"),
                ),
                do_bind_code,
            ),
            ActionDef(
                ActionSpec(
                    "bind",
                    BindParams,
                    shorthand="code",
                    description=N_(
                        "redeem a bind code: link this account to the code's person; refused "
                        "with a reason otherwise"
                    ),
                    title=N_("Bind"),
                ),
                do_bind,
            ),
        ]

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        spec = ctx.spec
        if not (
            spec.person_currencies()
            or spec.person_badges()
            or (spec.levels is not None and spec.levels.scope == "person")
            or _mentions(spec, PERSON_ACTIONS)
            or _mentions(list(spec.sections.values()), PERSON_ACTIONS)
        ):
            # No persons: nothing to observe (an observer costs every event a call).
            return FeaturePlan(data=PersonsPlan())
        return FeaturePlan(data=PersonsPlan(), before={"member.linked": (apply_linked,)})


def _mentions(value: Any, keys: frozenset[str]) -> bool:
    """Whether ``value`` (a playbook's data) holds an action named one of ``keys``
    anywhere: a validated action (:class:`ActionCall`), or a mapping with such a key (an
    action not validated yet) — erring on the side of yes."""
    if isinstance(value, ActionCall):
        return value.name in keys or _mentions(value.params, keys)
    if isinstance(value, BaseModel):
        return any(_mentions(getattr(value, f), keys) for f in type(value).model_fields)
    if isinstance(value, dict):
        return any(k in keys for k in value) or any(_mentions(v, keys) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions(v, keys) for v in value)
    return False
