"""``engage-rules worker --config FILE``: decide the events of the Kafka topic into the
shared PostgreSQL store, in the workers' consumer group, until SIGTERM or Ctrl-C
(docs/scaling.md).

Exit codes as ``run``'s: 0 after a graceful shutdown; 1 if the config (its ``kafka``
section), the playbook or the Kafka client is missing or invalid; 2 if the store cannot
be opened or fails.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import StoreError
from .run import configure, set_up, start_logging, stop_on_signals

__all__ = ["cmd_worker", "configure"]


def cmd_worker(args: argparse.Namespace) -> int:
    """``engage-rules worker``."""
    from ..runtime.config import load_config
    from ..runtime.kafka_worker import Worker

    start_logging(args.log_level)
    worker = set_up(lambda: Worker.from_config(load_config(args.config), registry=args.registry))
    if isinstance(worker, int):
        return worker
    stop_on_signals(worker.request_stop)
    try:
        worker.run()
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
