"""The plugin hooks of engage_rules (docs/plugins.md): the one place they are specified.

engage_rules uses pluggy_.  A plugin is a module (or object) whose functions carry the
:data:`hookimpl` marker and are named after the hooks below; it is installed as a
setuptools entry point in the ``engage_rules`` group::

    [project.entry-points.engage_rules]
    chat = "engage_rules_chat.plugin"

Every hook receives one argument, ``register``: a callable the plugin calls once per
thing it adds.  A plugin implements any subset of the hooks.  The built-in features
(every playbook section, with their actions and timer kinds), functions, event types,
stores, classifiers, adapters and CLI commands are registered through these same hooks,
by the built-in plugins ``engage_rules.plugins.builtin``,
``engage_rules.plugins.builtin_adapters`` and ``engage_rules.cli.commands``.

:func:`engage_rules.plugins.build_registry` calls every hook once and returns what was
registered as a :class:`~engage_rules.plugins.registry.Registry` value, which the
loader, compiler, schema export, store opener and CLI are given explicitly.  A name
registered twice (by two plugins, or a plugin redefining a built-in) is an error naming
both plugins; so is a plugin function named like no hook here.

docs/plugins.md is the plugin author's guide; every hook below has a section there (a
test checks it).

.. _pluggy: https://pluggy.readthedocs.io/
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from ..adapters.base import Adapter
    from ..compile.feature import Feature
    from ..compile.playbook import CompiledAction
    from ..engine.scope import ActionScope
    from ..expr.functions import FunctionSpec
    from ..lang.action_params import ActionSpec
    from ..store.base import Store

#: The pluggy project name, also the entry-point group plugins are installed under.
PROJECT_NAME = "engage_rules"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Mark a plugin's hook implementations with this: ``@engage_rules.hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# -- the ``register`` callables each hook receives -------------------------------------------


class RegisterAdapter(Protocol):
    """``register(name, factory, description='')`` of ``register_adapters``."""

    def __call__(
        self,
        name: str,
        factory: Callable[[Mapping[str, Any]], Adapter],
        description: str | Callable[[], str] = "",
    ) -> None: ...


class RegisterFeature(Protocol):
    """``register(feature)`` of ``register_features``."""

    def __call__(self, feature: Feature) -> None: ...


class RegisterAction(Protocol):
    """``register(spec, executor)`` of ``register_actions``."""

    def __call__(
        self, spec: ActionSpec, executor: Callable[[ActionScope, CompiledAction], None]
    ) -> None: ...


class RegisterFunction(Protocol):
    """``register(spec)`` of ``register_functions``."""

    def __call__(self, spec: FunctionSpec) -> None: ...


class RegisterEventType(Protocol):
    """``register(name, description)`` of ``register_event_types``."""

    def __call__(self, name: str, description: str | Callable[[], str]) -> None: ...


class RegisterStore(Protocol):
    """``register(scheme, factory)`` of ``register_stores``."""

    def __call__(self, scheme: str, factory: Callable[[str], Store]) -> None: ...


class RegisterCommand(Protocol):
    """``register(name, configure, run, help)`` of ``register_commands``."""

    def __call__(
        self,
        name: str,
        configure: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace], int],
        help: str | Callable[[], str],
    ) -> None: ...


class RegisterClassifier(Protocol):
    """``register(name, scorer)`` of ``register_classifiers``."""

    def __call__(self, name: str, scorer: Callable[[str, str], float]) -> None: ...


# -- the hooks -------------------------------------------------------------------------------


@hookspec
def register_features(register: RegisterFeature) -> None:
    """Register features: ``register(feature)``.

    A feature (:class:`engage_rules.compile.feature.Feature`) is a playbook section:
    the actions it adds (:class:`~engage_rules.compile.feature.ActionDef`: parameter
    model, executor, load-time check, optional fast path), the timer kinds it handles,
    optionally a top-level section of its own (``section``, validated with
    ``section_model``), and ``compile(ctx)``, which returns what it adds to a compiled
    playbook: member checks, event observers, start and resume hooks, and its compiled
    data.  Every built-in section (points, levels, badges, flows, moderation...) is a
    feature registered this way.
    """


@hookspec
def register_adapters(register: RegisterAdapter) -> None:
    """Register platform adapters: ``register(name, factory, description="")``.

    ``name`` is the platform name events carry in ``platform`` and runtime configs refer
    to.  ``factory(settings)`` builds the adapter from its section of the runtime config
    (a mapping; secrets already read from the environment) and returns an object that
    implements :class:`engage_rules.adapters.base.Adapter`: ``parse`` (platform payload →
    events, pure), ``deliver`` (one action → the platform, I/O only), ``capabilities``
    and ``close``.  Every HTTP adapter takes a ``base_url`` setting so that tests run
    against a local server; :class:`engage_rules.testing.AdapterContract` is the suite
    an adapter must pass.  ``description`` (what ``engage-rules plugins -v`` shows) is a
    text, or a function returning it in the language of the moment (a plugin translates
    it with its own catalog, ``plugin_api.translator``).
    """


@hookspec
def register_actions(register: RegisterAction) -> None:
    """Register actions: ``register(spec, executor)``.

    ``spec`` is an :class:`engage_rules.lang.action_params.ActionSpec`: the action's name, a
    pydantic model of its parameters (validated when a playbook loads, errors reported
    as ``file:line:col``), the field a scalar short form fills in, and a description.
    A plugin's actions are named ``<plugin>.<action>`` (lower-case, dotted).
    ``executor(run, action)`` carries the action out for one event: it reads resolved
    parameters with ``run.value(action, field)`` / ``run.text(action, field)`` (a value
    computed from an expression is checked to be storable: 64-bit integers, finite
    floats, at most 32 levels) and emits the action with
    ``run.emit(action, member_id, params)``, whose params must be JSON a store can keep
    (``engage_rules.engine.actions.json_value`` makes them so); it must be deterministic
    (no I/O, no clock, no unseeded randomness) — delivery is an adapter's job.
    """


@hookspec
def register_functions(register: RegisterFunction) -> None:
    """Register expression functions: ``register(spec)``.

    ``spec`` is an :class:`engage_rules.expr.functions.FunctionSpec`: the name conditions and
    templates call it by, the Python callable (it receives the evaluation context first,
    then the operator's arguments), its parameter names and how many are required, and
    an optional load-time ``check`` that validates call sites.  A function must be pure
    and bounded: it runs inside the expression sandbox on every evaluation.
    """


@hookspec
def register_event_types(register: RegisterEventType) -> None:
    """Register event types: ``register(name, description)``.

    Any dotted lower-case name is a valid event type whether registered or not; a
    registered type is listed by ``engage-rules plugins`` and is known to the loader,
    which warns about a rule's ``on:`` naming a type nobody registers and suggests the
    closest registered one (``on: mesage.posted`` → did you mean ``message.posted``?).
    ``description`` is a text or a function returning it in the language of the moment,
    as for :func:`register_adapters`.
    """


@hookspec
def register_stores(register: RegisterStore) -> None:
    """Register store backends: ``register(scheme, factory)``.

    ``factory(url)`` receives a whole ``--store`` URL whose scheme is ``scheme``
    (``redis://host/0``) and returns an object implementing
    :class:`engage_rules.store.base.Store`;
    :class:`engage_rules.testing.StoreContract` is the suite a store must pass.
    """


@hookspec
def register_commands(register: RegisterCommand) -> None:
    """Register CLI commands: ``register(name, configure, run, help)``.

    The command appears as ``engage-rules <name>``; ``configure(parser)`` adds its
    arguments to an :class:`argparse.ArgumentParser`, ``run(args)`` runs it and returns
    the exit status; ``help`` is the one-line summary ``engage-rules --help`` shows: a
    text, or a function returning it in the language of the moment (called each time
    the parser is built, after ``--lang`` or the locale chose the language: a plugin
    translates it with its own catalog, ``plugin_api.translator``).  ``configure`` is
    called then too, so its help texts may be translated directly.
    """


@hookspec
def register_classifiers(register: RegisterClassifier) -> None:
    """Register content classifiers: ``register(name, scorer)``.

    ``scorer(text, label)`` returns a score in [0, 1] for ``label`` (``toxicity``,
    ``negative``...) and raises ``ValueError`` for a label it does not know; playbooks
    use it through ``score(text, label)`` (see :mod:`engage_rules.text.classifiers`).
    """


__all__ = [
    "PROJECT_NAME",
    "RegisterAction",
    "RegisterAdapter",
    "RegisterClassifier",
    "RegisterCommand",
    "RegisterEventType",
    "RegisterFeature",
    "RegisterFunction",
    "RegisterStore",
    "hookimpl",
    "hookspec",
    "register_actions",
    "register_adapters",
    "register_classifiers",
    "register_commands",
    "register_event_types",
    "register_features",
    "register_functions",
    "register_stores",
]
