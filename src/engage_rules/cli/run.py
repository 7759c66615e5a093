"""``engage-rules run --config FILE``: start the live runtime until SIGTERM or Ctrl-C.

Exit codes: 0 after a graceful shutdown; 1 if the config, the playbook or the adapters
are invalid (every problem on stderr, ``file:line:col`` when located); 2 if the store
cannot be opened or fails while running, or an adapter that connects by itself cannot go
on (a revoked bot token).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from ..errors import ConfigError, PlaybookError, SetupError, StoreError
from ..i18n import _

T = TypeVar("T")


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules run`` (and of ``worker``, ``ingest``, ``dispatch``)."""
    parser.add_argument(
        "--config",
        required=True,
        metavar="FILE",
        help=_("the runtime config (YAML): playbook, store, sources, adapters"),
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help=_("log verbosity on stderr (default INFO)"),
    )


def start_logging(level: str) -> None:
    """Log at ``level`` on stderr, one line per record."""
    logging.basicConfig(
        level=getattr(logging, level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def set_up(build: Callable[[], T]) -> T | int:
    """``build()``, or the exit code after printing why it failed: 1 for the config,
    the playbook or the set-up (every problem on stderr), 2 for the store."""
    try:
        return build()
    except (ConfigError, PlaybookError) as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return 1
    except SetupError as err:
        for line in err.problems:
            print(line, file=sys.stderr)
        return 1
    except OSError as err:
        print(_("error: {message}").format(message=err), file=sys.stderr)
        return 1
    except StoreError as err:
        print(_("error: {message}").format(message=err), file=sys.stderr)
        return 2


def stop_on_signals(request_stop: Callable[[], None]) -> None:
    """Call ``request_stop`` on SIGTERM and SIGINT (after tuning the collector for a long
    run)."""

    def stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("engage_rules.runtime").info("%s received", signal.Signals(signum).name)
        request_stop()

    from ..shell.interpreter import tune_interpreter

    tune_interpreter()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def cmd_run(args: argparse.Namespace) -> int:
    """``engage-rules run``: the live service, configured by a runtime config file."""
    from ..runtime.config import load_config
    from ..runtime.service import Service

    start_logging(args.log_level)
    service = set_up(lambda: Service.from_config(load_config(args.config), registry=args.registry))
    if isinstance(service, int):
        return service
    stop_on_signals(service.request_stop)
    try:
        service.run()
    except StoreError as err:
        print(_("error: {message}").format(message=err), file=sys.stderr)
        return 2
    return 0 if service.failure is None and service.source_failure is None else 2
