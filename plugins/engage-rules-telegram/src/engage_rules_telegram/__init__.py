"""engage-rules-telegram: the Telegram Bot API adapter for engage_rules.

:mod:`.mapping` turns ``Update`` objects into events (pure; :mod:`.messages` reads a
message's content, :mod:`.fields` the typed fields), :mod:`.parser` adds what the adapter
remembers between updates, :mod:`.client` delivers actions through the Bot API,
:mod:`.plugin` registers the ``telegram`` adapter and :mod:`.commands` the ``telegram map``
and ``telegram import`` commands (:mod:`.export` reads Telegram Desktop exports).
"""

from .client import CAPABILITIES, TelegramClient, plan
from .mapping import MappingConfig, parse_update
from .plugin import TelegramAdapter, TelegramSettings

__all__ = [
    "CAPABILITIES",
    "MappingConfig",
    "TelegramAdapter",
    "TelegramClient",
    "TelegramSettings",
    "parse_update",
    "plan",
]
