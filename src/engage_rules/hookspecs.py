"""The plugin hooks of engage_rules (DESIGN.md §9): the one place they are specified.

engage_rules uses pluggy_.  A plugin is a module (or object) whose functions carry the
:data:`hookimpl` marker and are named after the hooks below; it is installed as a
setuptools entry point in the ``engage_rules`` group::

    [project.entry-points.engage_rules]
    chat = "engage_rules_chat.plugin"

Every hook receives one argument, ``register``: a callable the plugin calls once per
thing it adds.  A plugin implements any subset of the hooks.  The built-in actions,
functions, event types, stores, classifiers and adapters are registered through these
same hooks by the built-in plugins ``engage_rules.builtin_plugin`` and
``engage_rules.adapters.builtin``.

The plugin manager (:mod:`engage_rules.plugins`) calls every hook once, at start-up,
and fills the lookup tables the loader, compiler, engine, store opener and CLI use.  A
name registered twice (by two plugins, or a plugin redefining a built-in) is an error at
start-up naming both plugins; so is a plugin function named like no hook here.

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
    from .action_specs import ActionSpec
    from .adapters.base import Adapter
    from .compiler import CompiledAction
    from .engine_actions import Run
    from .functions import FunctionSpec
    from .store.base import Store

#: The pluggy project name, also the entry-point group plugins are installed under.
PROJECT_NAME = "engage_rules"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Mark a plugin's hook implementations with this: ``@engage_rules.hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# -- the ``register`` callables each hook receives -------------------------------------------

class RegisterAdapter(Protocol):
    def __call__(self, name: str, factory: Callable[[Mapping[str, Any]], Adapter],
                 description: str = "") -> None: ...


class RegisterAction(Protocol):
    def __call__(self, spec: ActionSpec,
                 executor: Callable[[Run, CompiledAction], None]) -> None: ...


class RegisterFunction(Protocol):
    def __call__(self, spec: FunctionSpec) -> None: ...


class RegisterEventType(Protocol):
    def __call__(self, name: str, description: str) -> None: ...


class RegisterStore(Protocol):
    def __call__(self, scheme: str, factory: Callable[[str], Store]) -> None: ...


class RegisterCommand(Protocol):
    def __call__(self, name: str, configure: Callable[[argparse.ArgumentParser], None],
                 run: Callable[[argparse.Namespace], int], help: str) -> None: ...


class RegisterClassifier(Protocol):
    def __call__(self, name: str, scorer: Callable[[str, str], float]) -> None: ...


# -- the hooks -------------------------------------------------------------------------------

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
    an adapter must pass.
    """


@hookspec
def register_actions(register: RegisterAction) -> None:
    """Register actions: ``register(spec, executor)``.

    ``spec`` is an :class:`engage_rules.action_specs.ActionSpec`: the action's name, a
    pydantic model of its parameters (validated when a playbook loads, errors reported
    as ``file:line:col``), the field a scalar short form fills in, and a description.
    A plugin's actions are named ``<plugin>.<action>`` (lower-case, dotted).
    ``executor(run, action)`` carries the action out for one event: it reads resolved
    parameters with ``run.value(action, field)`` / ``run.text(action, field)`` (a value
    computed from an expression is checked to be storable: 64-bit integers, finite
    floats, at most 32 levels) and emits the action with
    ``run.emit(action, member_id, params)``, whose params must be JSON a store can keep
    (``engage_rules.engine_actions.json_value`` makes them so); it must be deterministic
    (no I/O, no clock, no unseeded randomness) — delivery is an adapter's job.
    """


@hookspec
def register_functions(register: RegisterFunction) -> None:
    """Register expression functions: ``register(spec)``.

    ``spec`` is an :class:`engage_rules.functions.FunctionSpec`: the name conditions and
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
    the exit status; ``help`` is the one-line summary ``engage-rules --help`` shows.
    """


@hookspec
def register_classifiers(register: RegisterClassifier) -> None:
    """Register content classifiers: ``register(name, scorer)``.

    ``scorer(text, label)`` returns a score in [0, 1] for ``label`` (``toxicity``,
    ``negative``...) and raises ``ValueError`` for a label it does not know; playbooks
    use it through ``score(text, label)`` (see :mod:`engage_rules.classifiers`).
    """
