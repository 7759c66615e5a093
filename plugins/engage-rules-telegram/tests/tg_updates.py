"""Updates for live tests: the recorded ones in ``data/``, dated now (a live runtime
dates events by their ``date`` and refuses those too far from its clock)."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
CHAT = -1001234567890


def recorded(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    payload.pop("_source", None)
    payload.pop("update_id", None)
    return payload


def message(message_id: int, user: int, text: str) -> dict[str, Any]:
    """``data/message_text.json`` as written by ``user`` now, with ``text``."""
    update = recorded("message_text")
    m = update["message"]
    m["message_id"] = message_id
    m["from"] = {**m["from"], "id": user, "first_name": f"user{user % 1000}"}
    m["date"] = int(time.time())
    m["text"] = text
    m.pop("entities", None)
    return update


def joined(user: int) -> dict[str, Any]:
    """``data/chat_member_joined.json`` for ``user``, now."""
    update = copy.deepcopy(recorded("chat_member_joined"))
    cm = update["chat_member"]
    cm["date"] = int(time.time())
    for who in (cm["from"], cm["old_chat_member"]["user"], cm["new_chat_member"]["user"]):
        who["id"] = user
    return update
