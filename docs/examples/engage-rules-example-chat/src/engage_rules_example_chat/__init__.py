"""engage_rules adapter for Example Chat (the plugin author's guide's example)."""

from .adapter import ExampleChatAdapter

__all__ = ["ExampleChatAdapter"]
