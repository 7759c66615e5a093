"""The names operators give things, and the event types rules react to: one rule each,
used by the loader, the playbook model and the published schema alike.

**Names** — rule ids, currencies, segments, tags, badges, leaderboards, flows — start with
a letter or a digit of any script and go on with letters, digits, ``_``, ``-``, ``.`` and
``:`` (``积分``, ``核心成员``, ``签到-奖励``, ``core_members``).  No spaces, no other ASCII
punctuation.  The pattern is written with ASCII ranges only, so that every JSON Schema
validator (Python's ``re``, an editor's ECMAScript regex) reads it the same way.

**Event types** are lower-case dotted words (``message.posted``, ``checkin``): they are
what platform adapters and event files carry, so a rule's ``on:`` is checked against the
same pattern as an event's ``type``.  A name no event can ever have (``签到``,
``Check In``) is refused at load with the canonical type it most likely means.
"""

from __future__ import annotations

import re

from .._util.suggest import closest
from ..i18n import _
from ..model.events import CANONICAL_TYPES, INTERNAL_TYPES, TYPE_PATTERN

__all__ = [
    "EVENT_TYPE",
    "MAX_NAME",
    "NAME",
    "check_name",
    "event_type_problem",
    "is_name",
]

#: CJK and full-width punctuation (。、「」，！：...), refused like ASCII punctuation.
_CJK_PUNCTUATION = r"\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
#: A name: a letter or digit of any script first (no space, control or punctuation),
#: then letters, digits, ``_``, ``-``, ``.``, ``:``.
NAME = (
    r"^[^\s\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f" + _CJK_PUNCTUATION + r"]"
    r"[^\s\x00-\x2c\x2f\x3b-\x40\x5b-\x5e\x60\x7b-\x7f" + _CJK_PUNCTUATION + r"]*$"
)
MAX_NAME = 128
_NAME_RE = re.compile(NAME)

#: An event type (as in an event's ``type``: docs/reference.md §1).
EVENT_TYPE = TYPE_PATTERN
_EVENT_RE = re.compile(EVENT_TYPE)

#: What operators of Chinese communities call the canonical events.
_EVENT_WORDS = {
    "签到": "checkin",
    "打卡": "checkin",
    "发帖": "message.posted",
    "发言": "message.posted",
    "消息": "message.posted",
    "回帖": "message.posted",
    "回复": "message.posted",
    "删帖": "message.deleted",
    "入群": "member.joined",
    "进群": "member.joined",
    "加入": "member.joined",
    "新人": "member.joined",
    "退群": "member.left",
    "离开": "member.left",
    "点赞": "reaction.added",
    "表情": "reaction.added",
    "分享": "content.shared",
    "转发": "content.shared",
    "购买": "purchase",
    "下单": "purchase",
    "邀请": "referral.completed",
    "拉新": "referral.completed",
    "投票": "poll.voted",
    "活动": "activity.attended",
    "反馈": "feedback.submitted",
    "举报": "report.filed",
    "兑换": "redeem.requested",
    "升级": "member.level_changed",
    "勋章": "badge.granted",
    "沉默": "member.silent",
}


def is_name(name: object) -> bool:
    """Whether ``name`` is a valid name (see the module's docstring)."""
    return isinstance(name, str) and len(name) <= MAX_NAME and bool(_NAME_RE.match(name))


def check_name(kind: str, name: object) -> None:
    """Raise ValueError naming ``kind`` (``segment name``, ``rule id``...) unless ``name``
    is a valid name.  ``kind`` is an English text marked with ``N_`` (one of
    :data:`NAME_KINDS`), translated here."""
    if not isinstance(name, str) or not name:
        raise ValueError(_("{kind} must be a non-empty string").format(kind=_(kind)))
    if len(name) > MAX_NAME:
        raise ValueError(
            _("{kind} {name!r} is longer than {n} characters").format(
                kind=_(kind), name=name, n=MAX_NAME
            )
        )
    if not _NAME_RE.match(name):
        raise ValueError(
            _(
                "{kind} {name!r} must start with a letter or digit (any script: 积分, "
                "core) and use only letters, digits, `_`, `-`, `.` and `:` (no spaces)"
            ).format(kind=_(kind), name=name)
        )


def event_type_problem(value: object) -> str | None:
    """Why ``value`` can never be an event's type, with the type it likely means; None
    when it can be."""
    if isinstance(value, str) and _EVENT_RE.match(value):
        return None
    shown = repr(value)
    hint = _likely_type(value) if isinstance(value, str) else None
    tail = _("; did you mean `{match}`?").format(match=hint) if hint else ""
    return _(
        "event type {shown} can never match an event: event types are lower-case "
        "dotted words such as `message.posted` or `checkin` (docs/reference.md §1){tail}"
    ).format(shown=shown, tail=tail)


def _likely_type(value: str) -> str | None:
    stripped = value.strip()
    for word, canonical in _EVENT_WORDS.items():
        if word in stripped:
            return canonical
    folded = re.sub(r"[\s\-]+", "_", stripped.lower())
    squashed = folded.replace("_", "")
    known = (*CANONICAL_TYPES, *INTERNAL_TYPES)
    for t in known:
        if squashed == t.replace("_", "").replace(".", ""):
            return t
    if _EVENT_RE.match(folded):
        return folded
    return closest(folded, known)
