"""engage-rules-onebot: QQ groups for engage_rules through OneBot v11.

:mod:`.segments` and :mod:`.mapping` turn event payloads into events (pure),
:mod:`.client` plans and makes API calls, :mod:`.connection` and :mod:`.http_source`
read events from the implementation, :mod:`.commands` is ``engage-rules onebot``, and
:mod:`.plugin` registers the ``onebot`` adapter.
"""

from .client import CAPABILITIES, plan
from .mapping import MappingConfig, delivery_key, parse_payload
from .plugin import OneBotAdapter, OneBotSettings

__all__ = [
    "CAPABILITIES",
    "MappingConfig",
    "OneBotAdapter",
    "OneBotSettings",
    "delivery_key",
    "parse_payload",
    "plan",
]
