"""Playbooks, registries and stores for tests, in one line each.

The layers of engage_rules take the plugin registry explicitly; a test is an edge of the
program, so these helpers default to the registry of the installed plugins
(:func:`engage_rules.plugins.default_registry`) and let a test choose its own::

    from engage_rules.testing import isolated_plugins, playbook, run_events

    pb = playbook('''
    rules:
      - id: hello
        on: member.joined
        do: [{send: {text: hi}}]
    ''')
    actions = run_events(pb, [event("member.joined")])

:func:`isolated_plugins` builds a fresh registry with the built-in plugins and only the
plugins a test names — the installed ones left out — so tests of plugins never touch
each other or the process.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..compile.compiler import compile_playbook as _compile
from ..compile.compiler import load as _load
from ..compile.playbook import CompiledPlaybook
from ..engine.core import Engine
from ..expr.env import ExprEnv
from ..lang.loader import LoadedPlaybook
from ..lang.loader import load_playbook as _load_playbook
from ..lang.loader import load_playbook_text as _load_playbook_text
from ..model.decision import ActionRecord, Decision
from ..model.events import Event
from ..model.state import State
from ..plugins.manager import build_registry, default_registry
from ..plugins.registry import Registry
from ..store.base import Store
from ..store.base import open_store as _open_store

#: The header :func:`playbook` puts before a body that has no ``engage_rules:`` line.
HEADER = "engage_rules: 1\nname: test\ncommunity: {name: 测试社群, timezone: Asia/Shanghai}\n"


def isolated_plugins(*plugins: object | tuple[str, object]) -> Registry:
    """A new registry: the built-in plugins and ``plugins`` only (modules or objects
    with hook implementations, optionally as ``(name, plugin)``), no installed plugin."""
    extra: list[tuple[str, object]] = []
    for i, plugin in enumerate(plugins):
        if isinstance(plugin, tuple):
            extra.append((str(plugin[0]), plugin[1]))
        else:
            name = getattr(plugin, "__name__", None) or f"plugin-{i + 1}"
            extra.append((str(name).rsplit(".", 1)[-1], plugin))
    return build_registry(extra, installed=False)


def _reg(registry: Registry | None) -> Registry:
    return registry if registry is not None else default_registry()


def load_playbook_text(
    text: str, filename: str = "<string>", *, registry: Registry | None = None
) -> LoadedPlaybook:
    """:func:`engage_rules.lang.loader.load_playbook_text` with a default registry."""
    return _load_playbook_text(text, filename, registry=_reg(registry))


def load_playbook(path: Any, *, registry: Registry | None = None) -> LoadedPlaybook:
    """:func:`engage_rules.lang.loader.load_playbook` with a default registry."""
    return _load_playbook(path, registry=_reg(registry))


def compile_playbook(
    loaded: LoadedPlaybook, *, registry: Registry | None = None
) -> CompiledPlaybook:
    """:func:`engage_rules.compile.compiler.compile_playbook` with a default registry."""
    return _compile(loaded, registry=_reg(registry))


def load(path: str | Path, *, registry: Registry | None = None) -> CompiledPlaybook:
    """Load and compile a playbook file or folder."""
    return _load(path, registry=_reg(registry))


def playbook(
    text: str, *, registry: Registry | None = None, filename: str = "test.yaml"
) -> CompiledPlaybook:
    """A compiled playbook from YAML text; without an ``engage_rules:`` line, a standard
    header (name ``test``, time zone Asia/Shanghai) is put in front."""
    if "engage_rules:" not in text:
        text = HEADER + text
    reg = _reg(registry)
    return _compile(_load_playbook_text(text, filename, registry=reg), registry=reg)


def open_store(url: str, *, registry: Registry | None = None) -> Store:
    """:func:`engage_rules.store.open_store` with a default registry."""
    return _open_store(url, registry=_reg(registry))


def run_events(
    pb: CompiledPlaybook | Engine, events: Iterable[Event], *, state: State | None = None
) -> list[ActionRecord]:
    """Process ``events`` (an engine, or a new one for the playbook) and return every
    action emitted, in order."""
    engine = pb if isinstance(pb, Engine) else Engine(pb, state)
    out: list[ActionRecord] = []
    for e in events:
        for d in engine.process(e):
            out.extend(d.actions)
    return out


def run_decisions(
    pb: CompiledPlaybook | Engine, events: Iterable[Event], *, state: State | None = None
) -> list[Decision]:
    """Like :func:`run_events`, returning the decisions (timers that fired included)."""
    engine = pb if isinstance(pb, Engine) else Engine(pb, state)
    out: list[Decision] = []
    for e in events:
        out.extend(engine.process(e))
    return out


def expr_env(
    *, registry: Registry | None = None, segments: Iterable[str] = (), functions: Any = None
) -> Any:
    """An expression environment for compiling expressions and templates on their own
    (outside a playbook): the registry's functions and classifiers, the given segment
    names, and extra ``functions`` (a mapping of FunctionSpecs) if any."""
    reg = _reg(registry)
    env = ExprEnv(dict(reg.functions), dict(reg.classifiers), frozenset(segments))
    return env.with_functions(functions) if functions else env
