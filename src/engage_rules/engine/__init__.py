"""The engine (EVALUATE, pure): :class:`~.core.Engine`, the effects interface features
use, the action scope, timers and tracing."""

from .core import Engine

__all__ = ["Engine"]
