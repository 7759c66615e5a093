"""A Telegram Desktop chat export (``result.json``, "Export chat history" in JSON) →
engage_rules events, so an operator can ``replay``, ``compare`` and ``report`` over the
group's real history (``engage-rules telegram import``).

What is read, per item of ``messages``:

* ``type: "message"`` → ``message.posted``: ``text`` (a string, or a list of strings and
  entity objects), every URL (``link`` entities and ``text_link`` entities' ``href``),
  ``reply_to_message_id`` (and its author when the export holds it), ``forwarded_from``,
  the media (``photo``, ``media_type``, ``sticker_emoji``...), ``edited`` (the export keeps
  only the final text: ``data.edited_at`` says it was edited), and the senders the export
  lists under ``reactions[].recent`` as ``reaction.added`` (dated with the reaction's
  ``date``, else the message's);
* ``type: "service"`` → ``member.joined`` for ``join_group_by_link``,
  ``join_group_by_request`` and ``invite_members``, ``member.left`` for
  ``remove_members``.  The export names invited and removed members by display name
  only: a name is resolved to the id of the one sender of that name in the export,
  and left out (with a note) otherwise.

Ids follow the live adapter's (``telegram:<chat id>:<message id>``, the chat id as the
Bot API writes it: ``-100…`` for a supergroup), so history imported and then received
live is processed once.  Messages sent on behalf of a channel or the group
(``from_id: "channel…"``) are left out, as the live adapter leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from engage_rules.plugin_api import Event, PayloadError

from .fields import add_link, event, kind_of
from .i18n import _

PLATFORM = "telegram"
#: ``media_type`` of the export → the ``data.kind`` the live adapter gives.
MEDIA_KINDS = {
    "sticker": "sticker",
    "video_file": "video",
    "voice_message": "voice",
    "animation": "animation",
    "audio_file": "audio",
    "video_message": "video_note",
}
_JOINS = ("join_group_by_link", "join_group_by_request", "invite_members")

Note = Callable[[str], None]


def _need(m: Mapping[str, Any], key: str, kind: type, path: str) -> Any:
    value = m.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise PayloadError(f"expected {kind.__name__}, got {kind_of(value)}", f"{path}.{key}")
    return value


def bot_api_chat_id(export: Mapping[str, Any]) -> int:
    """The chat id as the Bot API writes it (the export writes it without ``-100``)."""
    raw: int = _need(export, "id", int, "export")
    kind = str(export.get("type", ""))
    if raw < 0:
        return raw
    if "supergroup" in kind or "channel" in kind:
        return -1_000_000_000_000 - raw
    return -raw


def _when(m: Mapping[str, Any], key: str, path: str) -> datetime:
    raw = _need(m, key, str, path)
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (ValueError, OverflowError, OSError):
        raise PayloadError(f"{raw[:40]!r} is not a Unix time", f"{path}.{key}") from None


def _user_id(raw: Any, path: str) -> str | None:
    """``"user123"`` → ``"123"``; None for a channel or the group itself."""
    if not isinstance(raw, str):
        raise PayloadError(f"expected a string, got {kind_of(raw)}", path)
    if raw.startswith("user") and raw[4:].isdigit():
        return raw[4:]
    return None


def _text(value: Any, path: str, links: list[str]) -> str:
    """The plain text of ``text`` (a string, or parts: strings and entity objects), and
    its URLs added to ``links``."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise PayloadError(f"expected a string or an array, got {kind_of(value)}", path)
    parts = []
    for i, part in enumerate(value):
        if isinstance(part, str):
            parts.append(part)
            continue
        if not isinstance(part, Mapping):
            raise PayloadError(
                f"expected a string or an object, got {kind_of(part)}", f"{path}[{i}]"
            )
        text = _need(part, "text", str, f"{path}[{i}]")
        parts.append(text)
        if part.get("type") == "link":
            add_link(links, text, f"{path}[{i}].text")
        elif part.get("type") == "text_link" and isinstance(part.get("href"), str):
            add_link(links, part["href"], f"{path}[{i}].href")
    return "".join(parts)


class ExportReader:
    """Reads one export; :meth:`events` yields its events in the export's order."""

    def __init__(self, export: Any, community: str | None = None, note: Note | None = None):
        if not isinstance(export, Mapping):
            raise PayloadError(f"expected an object, got {kind_of(export)}", "export")
        self.export = export
        self.messages = _need(export, "messages", list, "export")
        self.chat_id = bot_api_chat_id(export)
        name = export.get("name")
        self.community = community or (name if isinstance(name, str) and name else None)
        self.community = self.community or str(self.chat_id)
        self.note = note or (lambda _: None)
        self.authors: dict[int, str] = {}
        names: dict[str, set[str]] = {}
        for m in self.messages:
            if isinstance(m, Mapping) and isinstance(m.get("id"), int):
                uid = m.get("from_id")
                sender = _user_id(uid, "from_id") if isinstance(uid, str) else None
                if sender is not None:
                    self.authors[m["id"]] = sender
                    if isinstance(m.get("from"), str):
                        names.setdefault(m["from"], set()).add(sender)
        self.by_name = {n: next(iter(ids)) for n, ids in names.items() if len(ids) == 1}

    def events(self) -> Iterator[Event]:
        for i, m in enumerate(self.messages):
            path = f"messages[{i}]"
            try:
                if not isinstance(m, Mapping):
                    raise PayloadError(f"expected an object, got {kind_of(m)}", path)
                kind = m.get("type")
                if kind == "message":
                    yield from self._message(m, path)
                elif kind == "service":
                    yield from self._service(m, path)
            except PayloadError as err:
                self.note(f"{path}: " + _("left out: {reason}").format(reason=err))

    def _base(self, at: datetime) -> dict[str, Any]:
        return {
            "at": at.isoformat(),
            "community": self.community,
            "platform": PLATFORM,
            "channel": str(self.chat_id),
        }

    def _message(self, m: Mapping[str, Any], path: str) -> Iterator[Event]:
        mid = _need(m, "id", int, path)
        at = _when(m, "date_unixtime", path)
        sender = _user_id(m.get("from_id"), f"{path}.from_id")
        if sender is None:
            return  # on behalf of a channel or the group
        links: list[str] = []
        text = _text(m.get("text", ""), f"{path}.text", links)
        kind = "text"
        if "photo" in m:
            kind = "photo"
        elif isinstance(m.get("media_type"), str):
            kind = MEDIA_KINDS.get(m["media_type"], "document")
        elif "file" in m:
            kind = "document"
        elif "poll" in m:
            kind = "poll"
        elif "location_information" in m:
            kind = "location"
        elif "contact_information" in m:
            kind = "contact"
        data: dict[str, Any] = {"text": text, "message_id": str(mid), "kind": kind}
        if links:
            data["links"] = links
        if isinstance(m.get("forwarded_from"), str):
            data["forwarded"] = True
            data["forward_origin"] = {"name": m["forwarded_from"]}
        if kind == "sticker":
            data["sticker"] = (
                {"emoji": m["sticker_emoji"]} if isinstance(m.get("sticker_emoji"), str) else {}
            )
        if isinstance(m.get("edited_unixtime"), str):
            data["edited_at"] = _when(m, "edited_unixtime", path).isoformat()
        reply = m.get("reply_to_message_id")
        if isinstance(reply, int):
            data["reply_to"] = str(reply)
            if reply in self.authors:
                data["reply_to_member"] = self.authors[reply]
        member = {"id": sender}
        if isinstance(m.get("from"), str) and m["from"]:
            member["name"] = m["from"]
        base = self._base(at)
        yield event(
            {
                **base,
                "id": f"telegram:{self.chat_id}:{mid}",
                "type": "message.posted",
                "member": member,
                "data": data,
            }
        )
        yield from self._reactions(m, path, mid, sender, at)

    def _reactions(
        self, m: Mapping[str, Any], path: str, mid: int, author: str, at: datetime
    ) -> Iterator[Event]:
        for i, r in enumerate(m.get("reactions") or []):
            if not isinstance(r, Mapping):
                continue
            emoji = r.get("emoji") if r.get("type", "emoji") == "emoji" else None
            if not isinstance(emoji, str):
                key = r.get("document_id")
                emoji = f"custom:{key}" if isinstance(key, str) else None
            if emoji is None:
                continue
            for j, who in enumerate(r.get("recent") or []):
                where = f"{path}.reactions[{i}].recent[{j}]"
                if not isinstance(who, Mapping) or not isinstance(who.get("from_id"), str):
                    continue
                reactor = _user_id(who["from_id"], f"{where}.from_id")
                if reactor is None:
                    continue
                when = _when(who, "date_unixtime", where) if "date_unixtime" in who else at
                yield event(
                    {
                        **self._base(when),
                        "id": f"telegram:{self.chat_id}:{mid}:reaction:{reactor}:{emoji}",
                        "type": "reaction.added",
                        "member": {"id": reactor},
                        "data": {"message_id": str(mid), "emoji": emoji, "to_member": author},
                    }
                )

    def _service(self, m: Mapping[str, Any], path: str) -> Iterator[Event]:
        action = m.get("action")
        if action not in (*_JOINS, "remove_members"):
            return
        mid = _need(m, "id", int, path)
        at = _when(m, "date_unixtime", path)
        actor = _user_id(m.get("actor_id"), f"{path}.actor_id")
        if action in ("join_group_by_link", "join_group_by_request"):
            members = [actor] if actor is not None else []
        else:
            names = m.get("members") or []
            members = []
            for name in names if isinstance(names, list) else []:
                uid = self.by_name.get(name) if isinstance(name, str) else None
                if uid is None:
                    text = _("left out {name!r}: no single sender of that name").format(name=name)
                    self.note(f"{path}: {text}")
                else:
                    members.append(uid)
        kind = "left" if action == "remove_members" else "joined"
        for uid in members:
            data: dict[str, Any] = {}
            if kind == "joined" and action == "invite_members" and actor and actor != uid:
                data["inviter"] = actor
            if kind == "joined" and action == "join_group_by_request":
                data["via_join_request"] = True
            if kind == "left":
                data["reason"] = "kicked" if actor and actor != uid else "left"
            yield event(
                {
                    **self._base(at),
                    "id": f"telegram:{self.chat_id}:{mid}:{kind}:{uid}",
                    "type": f"member.{kind}",
                    "member": {"id": uid},
                    "data": data,
                }
            )


__all__ = ["ExportReader", "bot_api_chat_id"]
