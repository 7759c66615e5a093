"""What a member's Telegram ``Message`` says, as event data: the text (or caption), every
URL (visible, behind words, in buttons), whether and from where it was forwarded, the
sticker, the album, the forum topic and the message replied to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .fields import add_link, array, integer, obj, string, unix_time, user

#: Message fields that carry member content (anything else is a service message).
CONTENT_KINDS = (
    "text",
    "photo",
    "video",
    "animation",
    "audio",
    "document",
    "sticker",
    "voice",
    "video_note",
    "poll",
    "location",
    "venue",
    "contact",
    "dice",
    "story",
)

#: At most this many keyboard rows, and buttons per row, are read for URLs.
_ROW_LIMIT = 100


def content_kind(m: Mapping[str, Any]) -> str | None:
    """What the message carries (``text``, ``photo``...), None for a service message."""
    return next((k for k in CONTENT_KINDS if k in m), None)


def message_data(m: Mapping[str, Any], path: str, kind: str) -> dict[str, Any]:
    """The ``data`` of a ``message.posted`` / ``message.edited`` event."""
    message_id = integer(m.get("message_id"), f"{path}.message_id")
    field = "text" if "text" in m else "caption"
    text = string(m.get(field, ""), f"{path}.{field}")
    data: dict[str, Any] = {"text": text, "message_id": str(message_id), "kind": kind}
    links = _links(m, path, text, "entities" if field == "text" else "caption_entities")
    if links:
        data["links"] = links
    _forward(m, path, data)
    if kind == "sticker":
        data["sticker"] = _sticker(m["sticker"], f"{path}.sticker")
    if "media_group_id" in m:
        data["media_group_id"] = string(m["media_group_id"], f"{path}.media_group_id")
    thread = None
    if m.get("is_topic_message") is True:
        thread = integer(m.get("message_thread_id"), f"{path}.message_thread_id")
        data["thread_id"] = str(thread)
    if "reply_to_message" in m:
        _reply(obj(m["reply_to_message"], f"{path}.reply_to_message"), path, thread, data)
    return data


def _reply(reply: Mapping[str, Any], path: str, thread: int | None, data: dict[str, Any]) -> None:
    """A reply, unless the "reply" is a forum topic's root: every message in a topic
    carries the topic's creation message as ``reply_to_message``."""
    replied = integer(reply.get("message_id"), f"{path}.reply_to_message.message_id")
    if replied == thread or "forum_topic_created" in reply:
        return
    data["reply_to"] = str(replied)
    if "from" in reply:
        author = user(reply["from"], f"{path}.reply_to_message.from")
        if not author.is_bot:
            data["reply_to_member"] = str(author.id)


def _utf16_slice(text: str, offset: int, length: int) -> str:
    """``text[offset:offset+length]`` in UTF-16 code units, as Bot API entities count."""
    units = text.encode("utf-16-le")
    return units[2 * offset : 2 * (offset + length)].decode("utf-16-le", errors="ignore")


def _links(m: Mapping[str, Any], path: str, text: str, entities_key: str) -> list[str]:
    """Every URL: ``url`` entities (visible), ``text_link`` entities (hidden behind
    words), the link preview's URL, and URL buttons of the inline keyboard."""
    links: list[str] = []
    for i, raw in enumerate(array(m.get(entities_key, []), f"{path}.{entities_key}")):
        where = f"{path}.{entities_key}[{i}]"
        entity = obj(raw, where)
        etype = string(entity.get("type"), f"{where}.type")
        if etype == "text_link":
            add_link(links, entity.get("url"), f"{where}.url")
        elif etype == "url":
            offset = integer(entity.get("offset"), f"{where}.offset")
            length = integer(entity.get("length"), f"{where}.length")
            if offset >= 0 and length > 0:
                add_link(links, _utf16_slice(text, offset, length), where)
    preview = m.get("link_preview_options")
    if preview is not None and "url" in obj(preview, f"{path}.link_preview_options"):
        add_link(links, preview["url"], f"{path}.link_preview_options.url")
    markup = m.get("reply_markup")
    if markup is not None:
        keyboard = obj(markup, f"{path}.reply_markup").get("inline_keyboard", [])
        rows = array(keyboard, f"{path}.reply_markup.inline_keyboard")
        for r, row in enumerate(rows[:_ROW_LIMIT]):
            where = f"{path}.reply_markup.inline_keyboard[{r}]"
            for b, raw in enumerate(array(row, where)[:_ROW_LIMIT]):
                button = obj(raw, f"{where}[{b}]")
                if "url" in button:
                    add_link(links, button["url"], f"{where}[{b}].url")
                if "login_url" in button:
                    login = obj(button["login_url"], f"{where}[{b}].login_url")
                    add_link(links, login.get("url"), f"{where}[{b}].login_url.url")
    return links


def _forward(m: Mapping[str, Any], path: str, data: dict[str, Any]) -> None:
    """``forwarded: true`` and ``forward_origin`` (``type``, ``date``, and the original
    sender's ``id`` / ``name`` when Telegram tells)."""
    if "forward_origin" in m:
        o = obj(m["forward_origin"], f"{path}.forward_origin")
        where = f"{path}.forward_origin"
        otype = string(o.get("type"), f"{where}.type")
        origin: dict[str, Any] = {"type": otype, "date": unix_time(o.get("date"), f"{where}.date")}
        if otype == "user":
            sender = user(o.get("sender_user"), f"{where}.sender_user")
            origin.update(id=str(sender.id), name=sender.name)
        elif otype == "hidden_user":
            origin["name"] = string(o.get("sender_user_name"), f"{where}.sender_user_name")
        elif otype in ("chat", "channel"):
            key = "sender_chat" if otype == "chat" else "chat"
            origin.update(_chat_ref(o.get(key), f"{where}.{key}"))
            if "message_id" in o:
                origin["message_id"] = str(integer(o["message_id"], f"{where}.message_id"))
    elif "forward_date" in m:  # Bot API before 7.0
        origin = {"type": "user", "date": unix_time(m["forward_date"], f"{path}.forward_date")}
        if "forward_from" in m:
            sender = user(m["forward_from"], f"{path}.forward_from")
            origin.update(id=str(sender.id), name=sender.name)
        elif "forward_from_chat" in m:
            origin.update(_chat_ref(m["forward_from_chat"], f"{path}.forward_from_chat"))
            origin["type"] = "chat"
        elif "forward_sender_name" in m:
            origin["type"] = "hidden_user"
            origin["name"] = string(m["forward_sender_name"], f"{path}.forward_sender_name")
    else:
        return
    data["forwarded"] = True
    data["forward_origin"] = origin


def _chat_ref(value: Any, path: str) -> dict[str, Any]:
    chat = obj(value, path)
    out: dict[str, Any] = {"id": str(integer(chat.get("id"), f"{path}.id"))}
    if "title" in chat:
        out["name"] = string(chat["title"], f"{path}.title")
    return out


def _sticker(value: Any, path: str) -> dict[str, Any]:
    s = obj(value, path)
    out: dict[str, Any] = {"id": string(s.get("file_unique_id"), f"{path}.file_unique_id")}
    if "emoji" in s:
        out["emoji"] = string(s["emoji"], f"{path}.emoji")
    if "set_name" in s:
        out["set"] = string(s["set_name"], f"{path}.set_name")
    return out
