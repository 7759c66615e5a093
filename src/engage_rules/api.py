"""The library's front door: load and compile playbooks with the installed plugins.

These functions are an *edge* of the program (like the command line): when no registry
is given they use :func:`engage_rules.plugins.default_registry` — the built-in plugins
and every installed one — built once per process.  Give ``registry=`` (from
:func:`engage_rules.plugins.build_registry`, or ``engage_rules.testing.isolated_plugins``)
to choose the plugins yourself; the layers below always take it explicitly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .compile.compiler import compile_playbook as compile_with
from .compile.compiler import load as load_with
from .lang.loader import load_playbook_text
from .plugins.manager import default_registry

if TYPE_CHECKING:
    from .compile.playbook import CompiledPlaybook
    from .lang.loader import LoadedPlaybook
    from .plugins.registry import Registry


def _registry(registry: Registry | None) -> Registry:
    if registry is not None:
        return registry
    return default_registry()


def load(path: Any, *, registry: Registry | None = None) -> CompiledPlaybook:
    """Load and compile a playbook file or folder."""
    return load_with(path, registry=_registry(registry))


def load_text(
    text: str, filename: str = "<string>", *, registry: Registry | None = None
) -> CompiledPlaybook:
    """Load and compile a playbook from YAML text (``filename`` names it in problems)."""
    reg = _registry(registry)
    return compile_with(load_playbook_text(text, filename, registry=reg), registry=reg)


def compile_playbook(
    loaded: LoadedPlaybook, *, registry: Registry | None = None
) -> CompiledPlaybook:
    """Compile a loaded playbook (:func:`engage_rules.lang.loader.load_playbook`)."""
    return compile_with(loaded, registry=_registry(registry))
