"""Loading plugins and filling the lookup tables from their hooks (DESIGN.md §9).

:func:`plugin_manager` builds the pluggy manager once per process: the built-in plugins
first (:data:`BUILTIN_PLUGINS`), then every setuptools entry point of the
``engage_rules`` group, filtered by ``ENGAGE_RULES_LOAD_PLUGINS``:

* unset — every installed plugin loads;
* a comma-separated list of plugin (entry-point) names — only those load; a listed name
  that is not installed is an error;
* the empty string — only the built-ins load.

A plugin that implements a function named like no hook of :mod:`engage_rules.hookspecs`
is rejected at start-up, naming the plugin and the function.

:func:`registry` calls every hook once and records what each plugin registered in a
:class:`Registry`; registering also fills the lookup tables the rest of the package
uses (``action_specs.ACTION_SPECS``, ``engine_actions.ACTION_EXECUTORS``,
``functions.FUNCTIONS``, ``classifiers.CLASSIFIERS``, the store URL schemes).  A name
registered twice is an error naming both plugins.  Loading a playbook, opening a store
or building the CLI calls :func:`registry` first.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .errors import EngageRulesError

if TYPE_CHECKING:
    from .action_specs import ActionSpec
    from .adapters.base import Adapter
    from .classifiers import Scorer
    from .compiler import CompiledAction
    from .engine_actions import Run
    from .functions import FunctionSpec
    from .store.base import Store

#: The environment variable that pins which installed plugins load.
LOAD_PLUGINS_ENV = "ENGAGE_RULES_LOAD_PLUGINS"
#: The entry-point group plugins are installed under.
ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
#: Built-in plugins: (plugin name, module).  They always load.
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("builtin", "engage_rules.builtin_plugin"),
    ("builtin-adapters", "engage_rules.adapters.builtin"),
)
#: The kinds of things a plugin registers, in the order ``engage-rules plugins`` lists them.
KINDS = ("adapters", "actions", "functions", "event_types", "stores", "commands",
         "classifiers")

_PLUGIN_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_COMMAND = re.compile(r"^[a-z][a-z0-9-]*$")
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


class PluginError(EngageRulesError):
    """A plugin that cannot be loaded, or that registers something invalid."""


@dataclass(frozen=True)
class AdapterEntry:
    """A registered adapter.  Calling the entry builds the adapter (``factory``)."""

    name: str
    factory: Callable[[Mapping[str, Any]], Adapter]
    description: str
    plugin: str

    def __call__(self, settings: Mapping[str, Any]) -> Adapter:
        return self.factory(settings)


@dataclass(frozen=True)
class ActionEntry:
    spec: ActionSpec
    executor: Callable[[Run, CompiledAction], None]
    plugin: str


@dataclass(frozen=True)
class EventTypeEntry:
    name: str
    description: str
    plugin: str


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
    name: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    help: str
    plugin: str


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind and name, and by plugin."""

    adapters: dict[str, AdapterEntry] = field(default_factory=dict)
    actions: dict[str, ActionEntry] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    event_types: dict[str, EventTypeEntry] = field(default_factory=dict)
    stores: dict[str, StoreEntry] = field(default_factory=dict)
    commands: dict[str, CommandEntry] = field(default_factory=dict)
    classifiers: dict[str, Scorer] = field(default_factory=dict)
    #: plugin name → kind (one of :data:`KINDS`) → the names it registered, in order.
    by_plugin: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: plugin name → where it comes from (a module, or ``dist-name version``).
    sources: dict[str, str] = field(default_factory=dict)
    #: who registered each (kind, name): for "registered twice" errors.
    owners: dict[tuple[str, str], str] = field(default_factory=dict)

    def describe(self) -> list[dict[str, Any]]:
        """What ``engage-rules plugins --json`` prints: one object per plugin."""
        return [
            {"name": plugin, "source": self.sources.get(plugin, ""),
             **{kind: list(kinds.get(kind, [])) for kind in KINDS}}
            for plugin, kinds in self.by_plugin.items()
        ]


# -- discovery ---------------------------------------------------------------------------

def discover_entry_points() -> list[EntryPoint]:
    """The installed entry points of the ``engage_rules`` group (sorted by name)."""
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _selected(eps: list[EntryPoint]) -> list[EntryPoint]:
    pinned = os.environ.get(LOAD_PLUGINS_ENV)
    if pinned is None:
        return eps
    names = [n.strip() for n in pinned.split(",") if n.strip()]
    by_name = {ep.name: ep for ep in eps}
    missing = [n for n in names if n not in by_name]
    if missing:
        installed = ", ".join(sorted(by_name)) or "none"
        raise PluginError(
            f"{LOAD_PLUGINS_ENV} names plugins that are not installed: "
            f"{', '.join(missing)} (installed: {installed})")
    return [by_name[n] for n in names]


def _source(ep: EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.name} {dist.version}" if dist is not None else ep.value


def _check_hooks(pm: pluggy.PluginManager) -> None:
    """Reject hook implementations that match no hookspec, naming plugin and hook."""
    unknown: list[str] = []
    for name in dir(pm.hook):
        if name.startswith("_"):
            continue
        caller = getattr(pm.hook, name)
        if isinstance(caller, pluggy.HookCaller) and not caller.has_spec():
            plugins = [pm.get_name(impl.plugin) or repr(impl.plugin)
                       for impl in caller.get_hookimpls() if not impl.optionalhook]
            unknown.extend(f"plugin {p!r} implements unknown hook {name!r}" for p in plugins)
    if unknown:
        hooks = ", ".join(sorted(n for n in dir(hookspecs) if n.startswith("register_")))
        raise PluginError("; ".join(sorted(unknown)) + f" (the hooks are: {hooks})")


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        pm.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as err:  # wrong hook arguments,
        # or a plugin registered twice
        raise PluginError(f"plugin {name!r}: {err}") from err


def _new_manager(extra: Iterable[tuple[str, object]] = ()) -> tuple[pluggy.PluginManager,
                                                                      dict[str, str]]:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    sources: dict[str, str] = {}
    for name, module in BUILTIN_PLUGINS:
        _register(pm, importlib.import_module(module), name)
        sources[name] = module
    for ep in _selected(discover_entry_points()):
        if pm.has_plugin(ep.name):
            raise PluginError(f"plugin {ep.name!r} is installed twice")
        try:
            plugin = ep.load()
        except Exception as err:
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to import: "
                              f"{type(err).__name__}: {err}") from err
        _register(pm, plugin, ep.name)
        sources[ep.name] = _source(ep)
    for name, plugin in extra:
        _register(pm, plugin, name)
        sources[name] = getattr(plugin, "__name__", type(plugin).__name__)
    _check_hooks(pm)
    return pm, sources


# -- registration ------------------------------------------------------------------------

class _Collector:
    """The ``register`` callables, for one plugin at a time."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.plugin = ""

    def _claim(self, kind: str, name: str) -> None:
        owner = self.reg.owners.get((kind, name))
        if owner is not None:
            what = kind[:-1].replace("_", " ") if kind != "classifiers" else "classifier"
            raise PluginError(f"plugin {self.plugin!r} registers {what} {name!r}, "
                              f"which plugin {owner!r} already registers")
        self.reg.owners[(kind, name)] = self.plugin
        self.reg.by_plugin.setdefault(self.plugin, {}).setdefault(kind, []).append(name)

    def _fail(self, message: str) -> PluginError:
        return PluginError(f"plugin {self.plugin!r}: {message}")

    def adapter(self, name: str, factory: Callable[[Mapping[str, Any]], Adapter],
                description: str = "") -> None:
        if not isinstance(name, str) or not re.match(r"^[a-z][a-z0-9_-]*$", name):
            raise self._fail(f"adapter name {name!r} must be a lower-case word")
        if not callable(factory):
            raise self._fail(f"adapter {name!r}: the factory is not callable")
        self._claim("adapters", name)
        self.reg.adapters[name] = AdapterEntry(name, factory, description, self.plugin)

    def action(self, spec: ActionSpec, executor: Callable[[Run, CompiledAction], None]) -> None:
        from pydantic import BaseModel

        from .action_specs import ActionSpec, register_action_spec
        from .engine_actions import ACTION_EXECUTORS

        if not isinstance(spec, ActionSpec):
            raise self._fail(f"register(spec, executor) needs an ActionSpec, not {spec!r}")
        if not (isinstance(spec.params, type) and issubclass(spec.params, BaseModel)):
            raise self._fail(f"action {spec.name!r}: params must be a pydantic model class")
        if not callable(executor):
            raise self._fail(f"action {spec.name!r}: the executor is not callable")
        if self.plugin not in _BUILTIN_NAMES and not _PLUGIN_ACTION.match(spec.name):
            raise self._fail(f"action {spec.name!r} must be named <plugin>.<action> "
                             "(lower-case, dotted)")
        if spec.shorthand is not None and spec.shorthand not in spec.params.model_fields:
            raise self._fail(f"action {spec.name!r}: shorthand field {spec.shorthand!r} is "
                             "not a parameter")
        self._claim("actions", spec.name)
        register_action_spec(spec)
        ACTION_EXECUTORS[spec.name] = executor
        self.reg.actions[spec.name] = ActionEntry(spec, executor, self.plugin)

    def function(self, spec: FunctionSpec) -> None:
        from .functions import FunctionSpec, register_function

        if not isinstance(spec, FunctionSpec):
            raise self._fail(f"register(spec) needs a FunctionSpec, not {spec!r}")
        self._claim("functions", spec.name)
        try:
            register_function(spec)
        except ValueError as err:
            raise self._fail(str(err)) from None
        self.reg.functions[spec.name] = spec

    def event_type(self, name: str, description: str) -> None:
        if not isinstance(name, str) or not _EVENT_TYPE.match(name):
            raise self._fail(f"event type {name!r} is not a dotted lower-case name")
        self._claim("event_types", name)
        self.reg.event_types[name] = EventTypeEntry(name, description, self.plugin)

    def store(self, scheme: str, factory: Callable[[str], Store]) -> None:
        from .store.base import register_store_scheme

        if not callable(factory):
            raise self._fail(f"store {scheme!r}: the factory is not callable")
        key = scheme.lower() if isinstance(scheme, str) else scheme
        self._claim("stores", key)
        try:
            register_store_scheme(key, factory)
        except ValueError as err:
            raise self._fail(str(err)) from None
        self.reg.stores[key] = StoreEntry(key, factory, self.plugin)

    def command(self, name: str, configure: Callable[[argparse.ArgumentParser], None],
                run: Callable[[argparse.Namespace], int], help: str) -> None:
        if not isinstance(name, str) or not _COMMAND.match(name):
            raise self._fail(f"command name {name!r} must be a lower-case word")
        if not (callable(configure) and callable(run)):
            raise self._fail(f"command {name!r}: configure and run must be callable")
        self._claim("commands", name)
        self.reg.commands[name] = CommandEntry(name, configure, run, help, self.plugin)

    def classifier(self, name: str, scorer: Callable[[str, str], float]) -> None:
        from .classifiers import register_classifier

        if not callable(scorer):
            raise self._fail(f"classifier {name!r}: the scorer is not callable")
        self._claim("classifiers", name)
        try:
            register_classifier(name, scorer)
        except ValueError as err:
            raise self._fail(str(err)) from None
        self.reg.classifiers[name] = scorer


_BUILTIN_NAMES = frozenset(name for name, _ in BUILTIN_PLUGINS)


def _unfill(reg: Registry) -> None:
    """Take out of the lookup tables what ``reg``'s plugins put there."""
    from .action_specs import ACTION_SPECS
    from .classifiers import CLASSIFIERS
    from .engine_actions import ACTION_EXECUTORS
    from .functions import FUNCTIONS
    from .store.base import unregister_store_scheme

    for kind, name in reg.owners:
        if kind == "actions":
            ACTION_SPECS.pop(name, None)
            ACTION_EXECUTORS.pop(name, None)
        elif kind == "functions":
            FUNCTIONS.pop(name, None)
        elif kind == "classifiers":
            CLASSIFIERS.pop(name, None)
        elif kind == "stores":
            unregister_store_scheme(name)


def _fill(pm: pluggy.PluginManager, reg: Registry) -> None:
    collect = _Collector(reg)
    hooks: list[tuple[str, Callable[..., None]]] = [
        ("register_adapters", collect.adapter),
        ("register_actions", collect.action),
        ("register_functions", collect.function),
        ("register_event_types", collect.event_type),
        ("register_stores", collect.store),
        ("register_commands", collect.command),
        ("register_classifiers", collect.classifier),
    ]
    for plugin_name, _plugin in pm.list_name_plugin():
        reg.by_plugin.setdefault(plugin_name, {})
    for hook_name, register in hooks:
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            collect.plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as err:
                raise PluginError(f"plugin {collect.plugin!r} failed in {hook_name}: "
                                  f"{type(err).__name__}: {err}") from err


# -- the process-wide manager and registry -----------------------------------------------

@dataclass
class _Loaded:
    pm: pluggy.PluginManager | None = None
    sources: dict[str, str] = field(default_factory=dict)
    registry: Registry | None = None
    #: The registry being filled (returned to hooks that load playbooks while it fills).
    filling: Registry | None = None


_lock = threading.RLock()
_loaded = _Loaded()


def plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager (built once): built-ins, then installed plugins."""
    with _lock:
        if _loaded.pm is None:
            _loaded.pm, _loaded.sources = _new_manager()
        return _loaded.pm


def registry() -> Registry:
    """What every loaded plugin registered (the hooks run once per process)."""
    reg = _loaded.registry
    if reg is not None:
        return reg
    with _lock:
        if _loaded.registry is not None:
            return _loaded.registry
        if _loaded.filling is not None:  # called from a hook, while registering
            return _loaded.filling
        pm = plugin_manager()
        reg = _loaded.filling = Registry(sources=dict(_loaded.sources))
        try:
            _fill(pm, reg)
        except BaseException:
            _unfill(reg)
            raise
        finally:
            _loaded.filling = None
        _loaded.registry = reg
        return reg


def reset(extra: Iterable[tuple[str, object]] = ()) -> Registry:
    """Rebuild the manager and the registry, with ``extra`` (name, plugin) pairs
    registered after the installed plugins (in-process plugins: modules or objects with
    hook implementations).  For tests and embedding; call it before loading playbooks,
    not while other threads load them."""
    with _lock:
        if _loaded.registry is not None:
            _unfill(_loaded.registry)
        _loaded.registry = None
        _loaded.pm, _loaded.sources = _new_manager(extra)
        return registry()
