"""The live runtime behind ``engage-rules run`` (docs/running.md).

- :mod:`.config` — the config file (pydantic; secrets from the environment)
- :mod:`.service` — the loop: sources → engine → one commit → dispatcher
- :mod:`.dispatcher` — outbox → adapters, with retries, backoff and rate limits
- :mod:`.webhook_source`, :mod:`.jsonl_source` — where events come from
- :mod:`.intake` — the hand-off between sources and the loop

Scaled out (docs/scaling.md; confluent-kafka, imported only by these):

- :mod:`.kafka_ingest` — ``engage-rules ingest``: webhook sources → the Kafka topic
- :mod:`.kafka_worker`, :mod:`.kafka_partition` — ``engage-rules worker``: the topic →
  the shared PostgreSQL store, one engine per partition, fenced commits
- :mod:`.outbox_dispatch` — ``engage-rules dispatch``: the shared outbox → adapters
- :mod:`.kafka_client` — the clients' settings and the optional import
"""

from .config import ConfigError, RuntimeConfig, load_config
from .service import Service, SetupError

__all__ = ["ConfigError", "RuntimeConfig", "Service", "SetupError", "load_config"]
