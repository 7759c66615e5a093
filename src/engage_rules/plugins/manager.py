"""Loading plugins and building the registry from their hooks (docs/plugins.md).

:func:`build_registry` makes a pluggy manager — the built-in plugins first
(:data:`BUILTIN_PLUGINS`), then every setuptools entry point of the ``engage_rules``
group, filtered by ``ENGAGE_RULES_LOAD_PLUGINS``, then any in-process plugins given:

* unset — every installed plugin loads;
* a comma-separated list of plugin (entry-point) names — only those load; a listed name
  that is not installed is an error;
* the empty string — only the built-ins load.

It calls every hook once and returns what the plugins registered as a
:class:`~engage_rules.plugins.registry.Registry` value; nothing is kept in process-wide
tables.  A plugin that implements a function named like no hook of
:mod:`engage_rules.plugins.hookspecs` is rejected, naming the plugin and the function;
a name registered twice is an error naming both plugins.

:func:`default_registry` is the registry of the installed plugins, built once per
process for the edges of the program (the command line, ``engage_rules.load()``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import pluggy
from pydantic import BaseModel

# The hookspecs module itself (pluggy reads its functions), imported by its full name: a
# relative ``from . import hookspecs`` would go through this package's __init__, which
# imports this module.
import engage_rules.plugins.hookspecs as hookspecs

from ..errors import PluginError
from .registry import (
    KINDS,
    AdapterEntry,
    CommandEntry,
    EventTypeEntry,
    Registry,
    StoreEntry,
)

if TYPE_CHECKING:
    from ..adapters.base import Adapter
    from ..compile.feature import Feature
    from ..expr.function_spec import FunctionSpec
    from ..lang.action_params import ActionSpec
    from ..store.base import Store

__all__ = [
    "BUILTIN_PLUGINS",
    "KINDS",
    "LOAD_PLUGINS_ENV",
    "PluginError",
    "Registry",
    "build_registry",
    "default_registry",
    "discover_entry_points",
]

#: The environment variable that pins which installed plugins load.
LOAD_PLUGINS_ENV = "ENGAGE_RULES_LOAD_PLUGINS"
#: The entry-point group plugins are installed under.
ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
#: Built-in plugins: (plugin name, module).  They always load, by name, like any plugin.
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("builtin", "engage_rules.plugins.builtin"),
    ("builtin-adapters", "engage_rules.plugins.builtin_adapters"),
    ("builtin-commands", "engage_rules.cli.commands"),
)

_PLUGIN_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_COMMAND = re.compile(r"^[a-z][a-z0-9-]*$")
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


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
            f"{', '.join(missing)} (installed: {installed})"
        )
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
            plugins = [
                pm.get_name(impl.plugin) or repr(impl.plugin)
                for impl in caller.get_hookimpls()
                if not impl.optionalhook
            ]
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


def _new_manager(
    extra: Iterable[tuple[str, object]] = (), *, installed: bool = True
) -> tuple[pluggy.PluginManager, dict[str, str]]:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    sources: dict[str, str] = {}
    for name, module in BUILTIN_PLUGINS:
        _register(pm, importlib.import_module(module), name)
        sources[name] = module
    for ep in _selected(discover_entry_points()) if installed else ():
        if pm.has_plugin(ep.name):
            raise PluginError(f"plugin {ep.name!r} is installed twice")
        try:
            plugin = ep.load()
        except Exception as err:
            raise PluginError(
                f"plugin {ep.name!r} ({ep.value}) failed to import: {type(err).__name__}: {err}"
            ) from err
        _register(pm, plugin, ep.name)
        sources[ep.name] = _source(ep)
    for name, plugin in extra:
        _register(pm, plugin, name)
        sources[name] = getattr(plugin, "__name__", type(plugin).__name__)
    _check_hooks(pm)
    return pm, sources


# -- registration ------------------------------------------------------------------------


class _Collector:
    """The ``register`` callables, for one plugin at a time, filling one registry."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.plugin = ""

    def _claim(self, kind: str, name: str) -> None:
        owner = self.reg.owners.get((kind, name))
        if owner is not None:
            what = {
                "classifiers": "classifier",
                "timer_kinds": "timer kind",
                "sections": "playbook section",
            }.get(kind, kind[:-1].replace("_", " "))
            raise PluginError(
                f"plugin {self.plugin!r} registers {what} {name!r}, "
                f"which plugin {owner!r} already registers"
            )
        self.reg.owners[(kind, name)] = self.plugin
        self.reg.by_plugin.setdefault(self.plugin, {}).setdefault(kind, []).append(name)

    def _fail(self, message: str) -> PluginError:
        return PluginError(f"plugin {self.plugin!r}: {message}")

    def adapter(
        self,
        name: str,
        factory: Callable[[Mapping[str, Any]], Adapter],
        description: str | Callable[[], str] = "",
    ) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise self._fail(f"adapter name {name!r} must be a lower-case word")
        if not callable(factory):
            raise self._fail(f"adapter {name!r}: the factory is not callable")
        self._claim("adapters", name)
        self.reg.adapters[name] = AdapterEntry(name, factory, description, self.plugin)

    def feature(self, feature: Feature) -> None:
        from ..compile.feature import ActionDef  # noqa: PLC0415 (keeps `import engage_rules.plugins` light)

        name = getattr(feature, "name", None)
        if not isinstance(name, str) or not _NAME.match(name):
            raise self._fail(f"feature name {name!r} must be a lower-case word")
        for method in ("actions", "timer_kinds", "compile"):
            if not callable(getattr(feature, method, None)):
                raise self._fail(f"feature {name!r} has no {method}() method")
        self._claim("features", name)
        self.reg.features.append(feature)
        for adef in feature.actions():
            if not isinstance(adef, ActionDef):
                raise self._fail(f"feature {name!r}: actions() must give ActionDefs, not {adef!r}")
            self._action(adef)
        for kind, handler in feature.timer_kinds().items():
            if not isinstance(kind, str) or not (
                _NAME.match(kind) if self.plugin in _BUILTIN_NAMES else _PLUGIN_ACTION.match(kind)
            ):
                raise self._fail(
                    f"feature {name!r}: timer kind {kind!r} must be named "
                    "<plugin>.<kind> (lower-case, dotted)"
                )
            if not callable(handler):
                raise self._fail(
                    f"feature {name!r}: the handler of timer kind {kind!r} is not callable"
                )
            self._claim("timer_kinds", kind)
            self.reg.timer_kinds[kind] = handler
        section = getattr(feature, "section", None)
        if section is not None:
            model = getattr(feature, "section_model", None)
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise self._fail(
                    f"feature {name!r}: section {section!r} needs a pydantic "
                    "model class as section_model"
                )
            from ..lang.loader import TOP_LEVEL_FIELDS  # noqa: PLC0415 (keeps `import engage_rules.plugins` light)

            if section in TOP_LEVEL_FIELDS or not _NAME.match(section.replace("_", "-")):
                raise self._fail(
                    f"feature {name!r}: {section!r} cannot name a playbook "
                    "section (a built-in section, or not a lower-case word)"
                )
            self._claim("sections", section)
            self.reg.sections[section] = model

    def action(self, spec: ActionSpec, executor: Callable[..., None]) -> None:
        from ..compile.feature import ActionDef  # noqa: PLC0415 (keeps `import engage_rules.plugins` light)
        from ..lang.action_params import ActionSpec  # noqa: PLC0415 (keeps `import engage_rules.plugins` light)

        if not isinstance(spec, ActionSpec):
            raise self._fail(f"register(spec, executor) needs an ActionSpec, not {spec!r}")
        self._action(ActionDef(spec, executor))

    def _action(self, adef: Any) -> None:
        spec = adef.spec
        if not (isinstance(spec.params, type) and issubclass(spec.params, BaseModel)):
            raise self._fail(f"action {spec.name!r}: params must be a pydantic model class")
        if not callable(adef.execute):
            raise self._fail(f"action {spec.name!r}: the executor is not callable")
        if self.plugin not in _BUILTIN_NAMES and not _PLUGIN_ACTION.match(spec.name):
            raise self._fail(
                f"action {spec.name!r} must be named <plugin>.<action> (lower-case, dotted)"
            )
        if spec.shorthand is not None and spec.shorthand not in spec.params.model_fields:
            raise self._fail(
                f"action {spec.name!r}: shorthand field {spec.shorthand!r} is not a parameter"
            )
        self._claim("actions", spec.name)
        self.reg.actions[spec.name] = adef

    def function(self, spec: FunctionSpec) -> None:
        from ..expr.function_spec import FunctionSpec  # noqa: PLC0415 (keeps `import engage_rules.plugins` light)
        from ..expr.functions import check_function_name  # noqa: PLC0415 (keeps `import engage_rules.plugins` light)

        if not isinstance(spec, FunctionSpec):
            raise self._fail(f"register(spec) needs a FunctionSpec, not {spec!r}")
        try:
            check_function_name(spec)
        except ValueError as err:
            raise self._fail(str(err)) from None
        self._claim("functions", spec.name)
        self.reg.functions[spec.name] = spec

    def event_type(self, name: str, description: str | Callable[[], str]) -> None:
        if not isinstance(name, str) or not _EVENT_TYPE.match(name):
            raise self._fail(f"event type {name!r} is not a dotted lower-case name")
        self._claim("event_types", name)
        self.reg.event_types[name] = EventTypeEntry(name, description, self.plugin)

    def store(self, scheme: str, factory: Callable[[str], Store]) -> None:
        if not callable(factory):
            raise self._fail(f"store {scheme!r}: the factory is not callable")
        if (
            not isinstance(scheme, str)
            or not scheme
            or not scheme.replace("+", "").replace("-", "").replace(".", "").isalnum()
        ):
            raise self._fail(f"invalid URL scheme {scheme!r}")
        key = scheme.lower()
        self._claim("stores", key)
        self.reg.stores[key] = StoreEntry(key, factory, self.plugin)

    def command(
        self,
        name: str,
        configure: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace], int],
        help: str | Callable[[], str],
    ) -> None:
        if not isinstance(name, str) or not _COMMAND.match(name):
            raise self._fail(f"command name {name!r} must be a lower-case word")
        if not (callable(configure) and callable(run)):
            raise self._fail(f"command {name!r}: configure and run must be callable")
        self._claim("commands", name)
        self.reg.commands[name] = CommandEntry(name, configure, run, help, self.plugin)

    def classifier(self, name: str, scorer: Callable[[str, str], float]) -> None:
        from ..text.classifiers import check_classifier_name  # noqa: PLC0415 (keeps `import engage_rules.plugins` light)

        if not callable(scorer):
            raise self._fail(f"classifier {name!r}: the scorer is not callable")
        try:
            check_classifier_name(name)
        except ValueError as err:
            raise self._fail(str(err)) from None
        self._claim("classifiers", name)
        self.reg.classifiers[name] = scorer


_BUILTIN_NAMES = frozenset(name for name, _ in BUILTIN_PLUGINS)


def _fill(pm: pluggy.PluginManager, reg: Registry) -> None:
    collect = _Collector(reg)
    hooks: list[tuple[str, Callable[..., None]]] = [
        ("register_features", collect.feature),
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
        for impl in getattr(pm.hook, hook_name).get_hookimpls():  # in registration order
            collect.plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as err:
                raise PluginError(
                    f"plugin {collect.plugin!r} failed in {hook_name}: {type(err).__name__}: {err}"
                ) from err


def build_registry(extra: Iterable[tuple[str, object]] = (), *, installed: bool = True) -> Registry:
    """A new registry: the built-in plugins, the installed plugins (unless
    ``installed=False``; ``ENGAGE_RULES_LOAD_PLUGINS`` filters them) and the in-process
    plugins ``extra`` — ``(name, module or object with hook implementations)`` pairs."""
    pm, sources = _new_manager(extra, installed=installed)
    reg = Registry(sources=sources)
    _fill(pm, reg)
    return reg


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The registry of the installed plugins, built once per process (for the edges of
    the program: the command line, ``engage_rules.load()``)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = build_registry()
    return _default
