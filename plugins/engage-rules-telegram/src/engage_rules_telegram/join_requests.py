"""Telegram ``chat_join_request`` updates → ``member.join_requested`` events.

In a group whose invite link asks for approval ("approve new members"), a request to
join arrives as a ``chat_join_request`` update (Bot API, ``ChatJoinRequest``): the chat,
the user (``from``), ``date``, and, when known, the user's ``bio`` and the
``invite_link`` used.  It becomes one event the playbook answers with ``approve_join``
or ``decline_join`` (``approveChatJoinRequest`` / ``declineChatJoinRequest``)::

    {"type": "member.join_requested", "member": {"id": "<user id>", "name": ...},
     "data": {"bio": "...", "invite_link": "<the link's name, else its URL>"}}

The bot receives these updates only when it is an administrator with the
``can_invite_users`` right, and only if ``chat_join_request`` is among the update
types it asks for (``allowed_updates``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engage_rules.plugin_api import Event

from .fields import event as _event
from .fields import integer as _int
from .fields import obj as _obj
from .fields import string as _str
from .fields import unix_time as _time
from .fields import user as _user
from .mapping import MappingConfig, _chat

#: The update field this module reads.
UPDATE_TYPE = "chat_join_request"


def join_request_events(update: Any, config: MappingConfig) -> list[Event] | None:
    """The events of a ``chat_join_request`` update; None for any other update."""
    if not isinstance(update, Mapping) or UPDATE_TYPE not in update:
        return None
    _int(update.get("update_id"), "update_id")
    request = _obj(update[UPDATE_TYPE], UPDATE_TYPE)
    chat_id, community = _chat(request.get("chat"), f"{UPDATE_TYPE}.chat", config)
    user = _user(request.get("from"), f"{UPDATE_TYPE}.from")
    at = _time(request.get("date"), f"{UPDATE_TYPE}.date")
    data: dict[str, Any] = {}
    if request.get("bio") is not None:
        data["bio"] = _str(request["bio"], f"{UPDATE_TYPE}.bio")
    if request.get("invite_link") is not None:
        data["invite_link"] = _link(request["invite_link"])
    if community is None or user.is_bot:
        return []
    return [
        _event(
            {
                "id": f"telegram:{chat_id}:join_requested:{user.id}:{request['date']}",
                "type": "member.join_requested",
                "at": at,
                "community": community,
                "platform": config.platform,
                "channel": str(chat_id),
                "member": user.ref(),
                "data": data,
            }
        )
    ]


def _link(value: Any) -> str:
    """A ``ChatInviteLink``: its name when it has one, else the link itself."""
    path = f"{UPDATE_TYPE}.invite_link"
    link = _obj(value, path)
    url = _str(link.get("invite_link"), f"{path}.invite_link")
    name = link.get("name")
    return url if name is None else _str(name, f"{path}.name") or url


__all__ = ["UPDATE_TYPE", "join_request_events"]
