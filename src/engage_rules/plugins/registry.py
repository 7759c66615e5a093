"""The registry: everything the loaded plugins registered, as one value.

A :class:`Registry` is built at the edges of the program — the command line, the live
service, ``engage_rules.load()``, the test kit — by :func:`engage_rules.plugins.build_registry`
and passed explicitly to whatever needs a lookup: loading a playbook
(``load_playbook(path, registry=...)``), compiling it, exporting the JSON Schema,
opening a store, building adapters.  Nothing below the edges asks for "the" registry,
and nothing registers anything at import time: two playbooks loaded with two
registries (two plugin sets) run side by side in one process.

The lower layers declare what they need of it as narrow protocols
(:class:`engage_rules.lang.loader.LoadRegistry`,
:class:`engage_rules.compile.compiler.CompileRegistry`); this class provides them all.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from ..adapters.base import Adapter
    from ..compile.feature import ActionDef, Feature, TimerHandler
    from ..expr.env import Scorer
    from ..expr.function_spec import FunctionSpec
    from ..lang.action_params import ActionSpec
    from ..store.base import Store

#: The kinds of things a plugin registers, in the order ``engage-rules plugins`` lists them.
KINDS = (
    "features",
    "adapters",
    "actions",
    "functions",
    "event_types",
    "stores",
    "commands",
    "classifiers",
    "timer_kinds",
    "sections",
)


@dataclass(frozen=True)
class AdapterEntry:
    """A registered adapter.  Calling the entry builds the adapter (``factory``)."""

    name: str
    factory: Callable[[Mapping[str, Any]], Adapter]
    #: What the adapter connects: a text (translated with engage_rules' catalog when it
    #: has the text), or a function returning it in the current language (a plugin's own).
    description: str | Callable[[], str]
    plugin: str

    def __call__(self, settings: Mapping[str, Any]) -> Adapter:
        return self.factory(settings)

    def description_text(self) -> str:
        """The description in the current language."""
        return _in_current_language(self.description)


@dataclass(frozen=True)
class EventTypeEntry:
    """A registered event type."""

    name: str
    #: What happened, as :attr:`AdapterEntry.description`: a text or a function.
    description: str | Callable[[], str]
    plugin: str

    def description_text(self) -> str:
        """The description in the current language."""
        return _in_current_language(self.description)


def _in_current_language(text: str | Callable[[], str]) -> str:
    """A registered text in the current language: a plugin's function called, a text
    translated with engage_rules' catalog (unchanged when the catalog lacks it)."""
    from ..i18n import _  # noqa: PLC0415 (keeps `import engage_rules.plugins` light)

    if callable(text):
        return text()
    return _(text) if text else ""


@dataclass(frozen=True)
class StoreEntry:
    """A registered store scheme.  Calling the entry opens a store (``factory``)."""

    scheme: str
    factory: Callable[[str], Store]
    plugin: str

    def __call__(self, url: str) -> Store:
        return self.factory(url)


@dataclass(frozen=True)
class CommandEntry:
    """A registered command of ``engage-rules``."""

    name: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    #: The one-line help: a text (translated with engage_rules' catalog when it has the
    #: text), or a function returning it in the current language (a plugin's own).
    help: str | Callable[[], str]
    plugin: str

    def help_text(self) -> str:
        """The one-line help in the current language."""
        from ..i18n import _  # noqa: PLC0415 (keeps `import engage_rules.plugins` light)

        return self.help() if callable(self.help) else _(self.help)


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind and name, and by plugin.

    Built once by :func:`engage_rules.plugins.build_registry`; treat it as read-only.
    """

    features: list[Feature] = field(default_factory=list)
    adapters: dict[str, AdapterEntry] = field(default_factory=dict)
    #: Every action (the features' and plugins' own), by name.
    actions: dict[str, ActionDef] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    event_types: dict[str, EventTypeEntry] = field(default_factory=dict)
    stores: dict[str, StoreEntry] = field(default_factory=dict)
    commands: dict[str, CommandEntry] = field(default_factory=dict)
    classifiers: dict[str, Scorer] = field(default_factory=dict)
    #: Timer kind -> its handler (from the features).
    timer_kinds: dict[str, TimerHandler] = field(default_factory=dict)
    #: Top-level playbook section -> the model it is validated with (plugin features).
    sections: dict[str, type[BaseModel]] = field(default_factory=dict)
    #: Who registered what: plugin name → kind (one of :data:`KINDS`) → names, in order.
    by_plugin: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: plugin name → where it comes from (a module, or ``dist-name version``).
    sources: dict[str, str] = field(default_factory=dict)
    #: who registered each (kind, name): for "registered twice" errors.
    owners: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def action_specs(self) -> dict[str, ActionSpec]:
        """The actions' parameter models, by name (what loading a playbook needs)."""
        return {name: a.spec for name, a in self.actions.items()}

    def feature(self, name: str) -> Feature | None:
        return next((f for f in self.features if f.name == name), None)

    def describe(self) -> list[dict[str, Any]]:
        """What ``engage-rules plugins --json`` prints: one object per plugin."""
        return [
            {
                "name": plugin,
                "source": self.sources.get(plugin, ""),
                **{kind: list(kinds.get(kind, [])) for kind in KINDS},
            }
            for plugin, kinds in self.by_plugin.items()
        ]
