"""The Kafka clients of ``ingest`` and ``worker`` (confluent-kafka, the ``kafka`` extra).

confluent-kafka is imported only here, when a Kafka role starts: the core and ``run``
never load it.  Without it, :func:`confluent` raises a one-line
:class:`~engage_rules.errors.SetupError` naming the extra to install.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..errors import SetupError
from ..i18n import _
from .config import KafkaConfig, RuntimeConfig

#: The record header naming the delivery an event came in (``webhook-delivery:<id>``).
DELIVERY_HEADER = "engage-delivery"


def confluent() -> ModuleType:
    """The ``confluent_kafka`` module, or SetupError when the extra is missing."""
    try:
        import confluent_kafka  # noqa: PLC0415 (an optional dependency)
    except ImportError:
        raise SetupError(
            [
                _(
                    "the Kafka roles need confluent-kafka, which is not installed: "
                    "pip install 'engage-rules[kafka]'"
                )
            ]
        ) from None
    return confluent_kafka


def kafka_section(config: RuntimeConfig) -> KafkaConfig:
    """The config's ``kafka`` section (``ingest``, ``worker``), or SetupError."""
    if config.kafka is None:
        raise SetupError(
            [
                _(
                    "the Kafka roles need a `kafka:` section in the config "
                    "(bootstrap_servers, topic, group_id: docs/scaling.md)"
                )
            ]
        )
    return config.kafka


def postgresql_store(config: RuntimeConfig) -> str:
    """The config's store URL, which ``worker`` and ``dispatch`` share: a PostgreSQL
    one, or SetupError."""
    if config.store.split(":", 1)[0].lower() not in ("postgresql", "postgres"):
        raise SetupError(
            [
                _(
                    "the workers and dispatchers share a PostgreSQL store "
                    "(store: postgresql://...), not {store!r}"
                ).format(store=config.store)
            ]
        )
    return config.store


def consumer_settings(config: KafkaConfig) -> dict[str, Any]:
    """A worker's consumer: offsets are never committed to Kafka (the store holds them:
    a partition resumes at its stored offset), records from the start of a partition
    the store has no offset for."""
    return {
        "bootstrap.servers": config.bootstrap_servers,
        "group.id": config.group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        **config.settings,
    }


def producer_settings(config: KafkaConfig) -> dict[str, Any]:
    """The ingest's producer: a record is acknowledged once every in-sync replica has
    it, and retries never write it twice or out of order."""
    return {
        "bootstrap.servers": config.bootstrap_servers,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        **config.settings,
    }
