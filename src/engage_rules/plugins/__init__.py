"""The plugin host: the hooks (:mod:`.hookspecs`), building a registry from the
installed plugins (:mod:`.manager`), the registry value (:mod:`.registry`) and the
core's own plugin (:mod:`.builtin`).  See docs/plugins.md."""

from .manager import PluginError, build_registry, default_registry
from .registry import Registry

__all__ = ["PluginError", "Registry", "build_registry", "default_registry"]
