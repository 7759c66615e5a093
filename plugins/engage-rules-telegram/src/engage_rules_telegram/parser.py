"""The adapter's reading of updates: :func:`.mapping.map_update` with what it must remember
between updates — message authors (for ``reaction.added``'s ``to_member``), recent albums
(one post per album) and group → supergroup migrations (one community).  The live adapter
and ``engage-rules telegram map`` read updates through this same class."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from engage_rules.plugin_api import Event

from .fields import Migrated, Skip
from .i18n import _
from .join_requests import join_request_events
from .mapping import MappingConfig, map_update

log = logging.getLogger("engage_rules_telegram")

#: Albums remembered (their first message id), most recent first kept.
ALBUMS = 10_000


class _Recent:
    """A bounded map, least recently used first out (thread-safe)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._items.get(key)

    def setdefault(self, key: tuple[Any, ...], value: Any) -> Any:
        """The value of ``key``, storing ``value`` first when there is none."""
        if self._size == 0:
            return value
        with self._lock:
            found = self._items.setdefault(key, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
            return found

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        if self._size == 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class UpdateParser:
    """Update objects → events, remembering what later updates need."""

    def __init__(self, config: MappingConfig, *, author_cache: int, albums: int = ALBUMS) -> None:
        self.config = config
        self._authors = _Recent(author_cache)
        self._albums = _Recent(albums)
        self._lock = threading.Lock()
        #: Why the last update mapped to no event (for ``telegram map``), else None.
        self.last_skip: str | None = None

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        """One update → events (raises ``PayloadError``)."""
        events, self.last_skip = self.explain(payload)
        return events

    def explain(self, payload: Any) -> tuple[list[Event], str | None]:
        """One update → (events, why there are none)."""
        try:
            requests = join_request_events(payload, self.config)
            if requests is not None:
                why = None if requests else _("a join request from a bot or an unread chat")
                return requests, why
            events = map_update(payload, self.config, self._author_of, self._album_first)
        except Migrated as m:
            self._migrate(m)
            return [], m.reason
        except Skip as skip:
            return [], skip.reason
        for e in events:
            if e.type == "message.posted" and e.member is not None and e.channel is not None:
                self._authors.put((e.channel, e.data["message_id"]), e.member.id)
        return events, None

    def _author_of(self, channel: str, message_id: str) -> str | None:
        found: str | None = self._authors.get((channel, message_id))
        return found

    def _album_first(self, chat_id: int, group: str, message_id: int) -> int:
        first: int = self._albums.setdefault((chat_id, group), message_id)
        return first

    def migrated_to(self, chat_id: int) -> int | None:
        """The supergroup a group was migrated to (learned while running), if any."""
        for new, old in self.config.migrated.items():
            if old == str(chat_id):
                return int(new)
        return None

    def _migrate(self, m: Migrated) -> None:
        old, new = str(m.old), str(m.new)
        with self._lock:
            config = self.config
            if config.migrated.get(new) == old:
                return
            root = config.migrated.get(old, old)  # a chain of migrations keeps the first id
            self.config = replace(config, migrated={**config.migrated, new: root})
        if config.chats:
            name = config.chats.get(root)
            log.warning(
                _(
                    "telegram: the group %(old)s was migrated to the supergroup %(new)s; its "
                    "messages now count for the community %(name)r.  Change its id in `chats` "
                    "to %(new)s: until then, only this run remembers the migration"
                ),
                {"old": old, "new": new, "name": name},
            )
        else:
            log.warning(
                _(
                    "telegram: the group %(old)s was migrated to the supergroup %(new)s; its "
                    "messages keep counting for the community %(root)r.  Set "
                    '`chats: {"%(new)s": "%(root)s"}` so that a restart keeps it so'
                ),
                {"old": old, "new": new, "root": root},
            )


__all__ = ["ALBUMS", "UpdateParser"]
