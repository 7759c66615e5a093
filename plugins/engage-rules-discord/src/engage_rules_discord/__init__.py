"""engage-rules-discord: the Discord adapter for engage_rules.

:mod:`.mapping` turns gateway dispatch payloads into events (pure; :mod:`.messages`
reads a message's content, :mod:`.fields` the typed fields), :mod:`.parser` adds what the
adapter remembers between payloads (threads), :mod:`.client` delivers actions through the
REST API, :mod:`.plugin` registers the ``discord`` adapter and :mod:`.commands` the
``discord map`` and ``discord import`` commands (:mod:`.export` reads DiscordChatExporter
exports).
"""

from .client import CAPABILITIES, DiscordClient, plan
from .mapping import MappingConfig, parse_dispatch
from .plugin import DiscordAdapter, DiscordSettings

__all__ = [
    "CAPABILITIES",
    "DiscordAdapter",
    "DiscordClient",
    "DiscordSettings",
    "MappingConfig",
    "parse_dispatch",
    "plan",
]
