"""The live runtime behind ``engage-rules run`` (docs/running.md).

- :mod:`.config` — the config file (pydantic; secrets from the environment)
- :mod:`.service` — the loop: sources → engine → one commit → dispatcher
- :mod:`.dispatcher` — outbox → adapters, with retries, backoff and rate limits
- :mod:`.webhook_source`, :mod:`.jsonl_source` — where events come from
- :mod:`.intake` — the hand-off between sources and the loop
"""

from .config import ConfigError, RuntimeConfig, load_config
from .service import Service, SetupError

__all__ = ["ConfigError", "RuntimeConfig", "Service", "SetupError", "load_config"]
