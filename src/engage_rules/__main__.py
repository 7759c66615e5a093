"""``python -m engage_rules``: the ``engage-rules`` command line."""

import sys

from .cli.main import main

sys.exit(main())
