"""The event envelope, at its public import path: see :mod:`engage_rules.model.events`.

Plugins and embedders import events from here (``from engage_rules.events import Event,
EventError, event_from_obj``); the implementation lives in the model layer.
"""

from .model.events import *  # noqa: F403
from .model.events import __all__ as __all__
