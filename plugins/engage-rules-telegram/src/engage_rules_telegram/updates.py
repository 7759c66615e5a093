"""Which Telegram updates to ask for, and the bot's id.

``allowed_updates`` (of ``getUpdates`` and ``setWebhook``) is derived from the event
types the playbook reacts to, so Telegram sends nothing the playbook cannot use, and
sends the updates it only sends on request (``chat_member``, ``message_reaction``):

=========================  =============================================================
event type                 update types asked for
=========================  =============================================================
``message.posted``         ``message``
``message.edited``         ``edited_message``
``member.joined``,         ``chat_member`` (``member_updates: chat_member``, the bot must
``member.left``            be an administrator), else ``message`` (service messages)
``reaction.added``         ``message_reaction``, and ``message`` (its ``to_member`` is the
                           author of a message the adapter has read)
``member.join_requested``  ``chat_join_request``
=========================  =============================================================

Other event types come from no Telegram update.  A playbook that reacts to none of these
gets every update type the adapter reads, so that the bot is not deaf.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from .i18n import _

#: Event type → the update types that carry it (``member.*`` is handled apart).
_BY_EVENT: dict[str, tuple[str, ...]] = {
    "message.posted": ("message",),
    "message.edited": ("edited_message",),
    "reaction.added": ("message_reaction", "message"),
    "member.join_requested": ("chat_join_request",),
}
_MEMBER_EVENTS = ("member.joined", "member.left")
#: The order Telegram's documentation lists update types in.
_ORDER = (
    "message",
    "edited_message",
    "message_reaction",
    "chat_member",
    "chat_join_request",
)


def allowed_updates(event_types: Iterable[str], member_updates: str) -> list[str]:
    """The ``allowed_updates`` for a playbook reacting to ``event_types``."""
    wanted: set[str] = set()
    types = set(event_types)
    for kind in types:
        wanted.update(_BY_EVENT.get(kind, ()))
    if types.intersection(_MEMBER_EVENTS):
        wanted.add("chat_member" if member_updates == "chat_member" else "message")
    if not wanted:
        wanted = {"message", "message_reaction"}
        wanted.add("chat_member" if member_updates == "chat_member" else "message")
    return [u for u in _ORDER if u in wanted]


def check_bot(me: Any, known: str | None, allowed: list[str], log: logging.Logger) -> str:
    """The bot's id from ``getMe``'s answer ``me`` (``known``: from the token), after
    logging what the bot will not see: group messages with privacy mode on,
    ``chat_member`` updates unless it is an administrator."""
    me = me if isinstance(me, dict) else {}
    raw = me.get("id")
    bot = known or (str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else None)
    if bot is None:
        raise ValueError("getMe did not say the bot's id")
    log.info(
        _("telegram: connected as @%(name)s (id %(id)s), asking for %(updates)s"),
        {"name": me.get("username"), "id": bot, "updates": allowed},
    )
    if "message" in allowed and me.get("can_read_all_group_messages") is False:
        log.warning(
            _(
                "telegram: privacy mode is on: in groups the bot sees only commands, replies "
                "to it and service messages; turn it off with @BotFather (/setprivacy → "
                "Disable), then remove the bot from the group and add it again"
            )
        )
    if "chat_member" in allowed:
        log.info(
            _(
                "telegram: joins and leaves (chat_member updates) come only from groups "
                "where the bot is an administrator"
            )
        )
    return bot


def bot_id(token: str) -> str | None:
    """The bot's user id: the digits before the ``:`` of its token (None if the token
    does not start that way; then ``getMe`` says)."""
    head, sep, _ = token.partition(":")
    return head if sep and head.isdigit() else None


__all__ = ["allowed_updates", "bot_id", "check_bot"]
