"""The ``engage-rules`` command line: :func:`main`, and one module per command."""

from .main import main

__all__ = ["main"]
