"""A DiscordChatExporter JSON export (one channel: ``guild``, ``channel``, ``messages``) →
engage_rules events, so an operator can ``replay``, ``compare`` and ``report`` over the
server's real history (``engage-rules discord import``).

What is read, per item of ``messages``:

* ``type`` ``Default`` or ``Reply`` → ``message.posted``: ``content``, every URL (in the
  text, embeds' ``url`` and ``author.url``), ``attachments`` (how many), ``stickers``,
  ``reference.messageId`` for a reply (and its author when the export holds it),
  ``timestampEdited`` (the export keeps only the final text: ``data.edited_at`` says it
  was edited), the author (``nickname`` first, ``roles`` by name, the account's creation
  time from its id); and for each user the export lists under ``reactions[].users``,
  ``reaction.added`` (dated with the message: the export does not say when);
* ``GuildMemberJoin`` → ``member.joined``.

Bots' messages are left out, as the live adapter leaves them out.  Ids follow the live
adapter's (``discord:<message id>``), so history imported and then received live is
processed once; the channel is the channel id, as the live adapter writes it without a
``channels`` name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from engage_rules.plugin_api import Event, PayloadError

from .fields import event, iso_time, kind_of, obj, snowflake, snowflake_time, string
from .i18n import _
from .messages import visible_links

PLATFORM = "discord"
_POSTS = ("Default", "Reply")

Note = Callable[[str], None]


def _array(m: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = m.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"expected an array, got {kind_of(value)}", f"{path}.{key}")
    return value


def _member(author: Mapping[str, Any], path: str) -> dict[str, Any]:
    uid = snowflake(author.get("id"), f"{path}.id")
    out: dict[str, Any] = {"id": uid}
    name = author.get("nickname") or author.get("name")
    if isinstance(name, str) and name:
        out["name"] = name
    roles = [
        r["name"]
        for r in _array(author, "roles", path)
        if isinstance(r, Mapping) and isinstance(r.get("name"), str) and r["name"]
    ]
    if roles:
        out["roles"] = roles
    out["created_at"] = snowflake_time(uid).isoformat()
    return out


def _emoji(value: Any, path: str) -> str:
    e = obj(value, path)
    eid = e.get("id")
    name = string(e.get("name"), f"{path}.name")
    if eid is None or eid == "":
        return name
    return f"{name or 'emoji'}:{snowflake(eid, f'{path}.id')}"


class ExportReader:
    """Reads one export; :meth:`events` yields its events in the export's order."""

    def __init__(self, export: Any, community: str | None = None, note: Note | None = None):
        e = obj(export, "export")
        guild = obj(e.get("guild"), "export.guild")
        channel = obj(e.get("channel"), "export.channel")
        self.guild_id = snowflake(guild.get("id"), "export.guild.id")
        self.channel_id = snowflake(channel.get("id"), "export.channel.id")
        messages = e.get("messages")
        if not isinstance(messages, list):
            raise PayloadError(f"expected an array, got {kind_of(messages)}", "export.messages")
        self.messages: list[Any] = messages
        name = guild.get("name")
        self.community = community or (name if isinstance(name, str) and name else self.guild_id)
        self.note = note or (lambda _: None)
        self.authors: dict[str, str] = {}
        for m in messages:
            if isinstance(m, Mapping) and isinstance(m.get("author"), Mapping):
                mid, uid = m.get("id"), m["author"].get("id")
                if isinstance(mid, str) and isinstance(uid, str):
                    self.authors[mid] = uid

    def events(self) -> Iterator[Event]:
        for i, m in enumerate(self.messages):
            path = f"messages[{i}]"
            try:
                yield from self._message(obj(m, path), path)
            except PayloadError as err:
                self.note(f"{path}: " + _("left out: {reason}").format(reason=err))

    def _message(self, m: Mapping[str, Any], path: str) -> Iterator[Event]:
        kind = m.get("type")
        if kind not in (*_POSTS, "GuildMemberJoin"):
            return
        mid = snowflake(m.get("id"), f"{path}.id")
        at = iso_time(m.get("timestamp"), f"{path}.timestamp")
        author = obj(m.get("author"), f"{path}.author")
        member = _member(author, f"{path}.author")
        if author.get("isBot") is True:
            return
        base = {
            "at": at.isoformat(),
            "community": self.community,
            "platform": PLATFORM,
            "channel": self.channel_id,
        }
        if kind == "GuildMemberJoin":
            ms = int(at.timestamp() * 1000)
            uid = member["id"]
            yield event(
                {
                    **base,
                    "id": f"discord:{self.guild_id}:joined:{uid}:{ms}",
                    "type": "member.joined",
                    "member": member,
                }
            )
            return
        content = string(m.get("content", ""), f"{path}.content")
        data: dict[str, Any] = {"text": content, "message_id": mid}
        links: list[str] = []
        visible_links(content, links)
        for j, raw in enumerate(_array(m, "embeds", path)):
            embed = obj(raw, f"{path}.embeds[{j}]")
            for url in (embed.get("url"), (embed.get("author") or {}).get("url")):
                if isinstance(url, str) and url and url not in links and len(links) < 32:
                    links.append(url)
        if links:
            data["links"] = links
        attachments = len(_array(m, "attachments", path))
        if attachments:
            data["attachments"] = attachments
        stickers = _array(m, "stickers", path)
        if stickers:
            s = obj(stickers[0], f"{path}.stickers[0]")
            data["sticker"] = {"id": snowflake(s.get("id"), f"{path}.stickers[0].id")}
            if isinstance(s.get("name"), str):
                data["sticker"]["name"] = s["name"]
        if m.get("timestampEdited") is not None:
            edited = iso_time(m["timestampEdited"], f"{path}.timestampEdited")
            data["edited_at"] = edited.isoformat()
        ref = m.get("reference")
        if kind == "Reply" and isinstance(ref, Mapping) and ref.get("messageId") is not None:
            replied = snowflake(ref["messageId"], f"{path}.reference.messageId")
            data["reply_to"] = replied
            if replied in self.authors:
                data["reply_to_member"] = self.authors[replied]
        yield event(
            {
                **base,
                "id": f"discord:{mid}",
                "type": "message.posted",
                "member": member,
                "data": data,
            }
        )
        yield from self._reactions(m, path, mid, member["id"], base)

    def _reactions(
        self, m: Mapping[str, Any], path: str, mid: str, author: str, base: dict[str, Any]
    ) -> Iterator[Event]:
        for j, raw in enumerate(_array(m, "reactions", path)):
            where = f"{path}.reactions[{j}]"
            r = obj(raw, where)
            emoji = _emoji(r.get("emoji"), f"{where}.emoji")
            for k, u in enumerate(_array(r, "users", where)):
                who = obj(u, f"{where}.users[{k}]")
                if who.get("isBot") is True:
                    continue
                reactor = _member(who, f"{where}.users[{k}]")
                yield event(
                    {
                        **base,
                        "id": f"discord:{mid}:reaction:{reactor['id']}:{emoji}",
                        "type": "reaction.added",
                        "member": reactor,
                        "data": {"message_id": mid, "emoji": emoji, "to_member": author},
                    }
                )


__all__ = ["ExportReader"]
