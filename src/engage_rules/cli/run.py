"""``engage-rules run --config FILE``: start the live runtime until SIGTERM or Ctrl-C.

Exit codes: 0 after a graceful shutdown; 1 if the config, the playbook or the adapters
are invalid (every problem on stderr, ``file:line:col`` when located); 2 if the store
cannot be opened or fails while running.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from ..errors import PlaybookError, StoreError


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules run``."""
    parser.add_argument(
        "--config",
        required=True,
        metavar="FILE",
        help="the runtime config (YAML): playbook, store, sources, adapters",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity on stderr (default INFO)",
    )


def cmd_run(args: argparse.Namespace) -> int:
    """``engage-rules run``: the live service, configured by a runtime config file."""
    from ..runtime.config import ConfigError, load_config
    from ..runtime.service import Service, SetupError

    logging.basicConfig(
        level=getattr(logging, args.log_level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(args.config)
        service = Service.from_config(config, registry=args.registry)
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return 1
    except PlaybookError as err:
        for p in err.problems:
            print(p, file=sys.stderr)
        return 1
    except SetupError as err:
        for line in err.problems:
            print(line, file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("engage_rules.runtime").info("%s received", signal.Signals(signum).name)
        service.request_stop()

    from ..shell.runner import tune_gc

    tune_gc()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        service.run()
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0 if service.failure is None else 2
