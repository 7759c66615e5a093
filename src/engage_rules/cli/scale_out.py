"""The scaled-out roles (docs/scaling.md), each until SIGTERM or Ctrl-C:

- ``engage-rules ingest --config FILE``: verified webhooks → the Kafka topic
- ``engage-rules worker --config FILE``: the topic → the shared PostgreSQL store
- ``engage-rules dispatch --config FILE``: the store's outbox → the platforms

Exit codes as ``run``'s: 0 after a graceful shutdown; 1 if the config (its ``kafka``
section, its store), the playbook, the adapters or the Kafka client are missing or
invalid; 2 if the store cannot be opened or fails.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Protocol

from ..errors import StoreError
from ..i18n import _
from .run import configure, set_up, start_logging, stop_on_signals

__all__ = ["cmd_dispatch", "cmd_ingest", "cmd_worker", "configure"]


class _Role(Protocol):
    def run(self) -> None: ...
    def request_stop(self) -> None: ...


def _serve(args: argparse.Namespace, build: Callable[[argparse.Namespace], _Role]) -> int:
    start_logging(args.log_level)
    role = set_up(lambda: build(args))
    if isinstance(role, int):
        return role
    stop_on_signals(role.request_stop)
    try:
        role.run()
    except StoreError as err:
        print(_("error: {message}").format(message=err), file=sys.stderr)
        return 2
    return 0


def _worker(args: argparse.Namespace) -> _Role:
    from ..runtime.config import load_config
    from ..runtime.kafka_worker import Worker

    return Worker.from_config(load_config(args.config), registry=args.registry)


def _ingest(args: argparse.Namespace) -> _Role:
    from ..runtime.config import load_config
    from ..runtime.kafka_ingest import Ingest

    return Ingest.from_config(load_config(args.config), registry=args.registry)


def _dispatch(args: argparse.Namespace) -> _Role:
    from ..runtime.config import load_config
    from ..runtime.outbox_dispatch import Dispatch

    return Dispatch.from_config(load_config(args.config), registry=args.registry)


def cmd_worker(args: argparse.Namespace) -> int:
    """``engage-rules worker``."""
    return _serve(args, _worker)


def cmd_ingest(args: argparse.Namespace) -> int:
    """``engage-rules ingest``."""
    return _serve(args, _ingest)


def cmd_dispatch(args: argparse.Namespace) -> int:
    """``engage-rules dispatch``."""
    return _serve(args, _dispatch)
