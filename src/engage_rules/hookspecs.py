"""The plugin hooks, at their public import path: see :mod:`engage_rules.plugins.hookspecs`.

Plugins import the ``register`` protocols from here
(``from engage_rules.hookspecs import RegisterAction``); the implementation lives in the
plugin layer.
"""

from .plugins.hookspecs import *  # noqa: F403
from .plugins.hookspecs import __all__ as __all__
