"""The plugin manager: built-ins through the hooks, entry points and
ENGAGE_RULES_LOAD_PLUGINS, unknown hooks, and each hook end to end (a plugin registered
in-process, from YAML to emitted action, store, CLI command)."""

from __future__ import annotations

import argparse
import json
import sys
import types
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from engage_rules.cli import main
from engage_rules.engine.core import Engine
from engage_rules.errors import PlaybookError, StoreError
from engage_rules.events import CANONICAL_TYPES, INTERNAL_TYPES
from engage_rules.expr.functions import BUILTIN_FUNCTIONS
from engage_rules.plugin_api import (
    ActionScope,
    ActionSpec,
    CompiledAction,
    FunctionSpec,
    hookimpl,
)
from engage_rules.plugins import Registry, build_registry, default_registry
from engage_rules.plugins import manager as plugins
from engage_rules.store import MemoryStore, Store, open_store
from engage_rules.testing import (
    compile_playbook,
    event,
    isolated_plugins,
    load_playbook_text,
)

HEADER = "engage_rules: 1\nname: t\ncommunity: {name: fans, timezone: Asia/Shanghai}\n"


def isolated(*extra: tuple[str, object]) -> Registry:
    """A registry of the built-ins and ``extra`` only (installed plugins left out)."""
    return isolated_plugins(*extra)


def compile_text(body: str, registry: Registry) -> Any:
    return compile_playbook(
        load_playbook_text(HEADER + body, "p.yaml", registry=registry), registry=registry
    )


def actions_of(engine: Engine, *events: Any) -> list[dict[str, Any]]:
    return [a.to_json() for e in events for d in engine.process(e) for a in d.actions]


# -- the built-ins go through the hooks ----------------------------------------------------


def test_builtins_are_registered_through_the_hooks() -> None:
    reg = isolated()
    assert list(reg.by_plugin) == ["builtin", "builtin-adapters", "builtin-commands"]
    assert all(e.plugin == "builtin" for e in reg.adapters.values()) is False
    assert {reg.owners[("actions", name)] for name in reg.actions} == {"builtin"}
    assert {"award", "tag", "send", "mute", "emit", "start_flow"} <= set(reg.actions)
    assert reg.functions == BUILTIN_FUNCTIONS
    assert list(reg.event_types) == [*CANONICAL_TYPES, *INTERNAL_TYPES]
    assert set(reg.stores) == {"memory", "sqlite", "postgresql", "postgres"}
    assert set(reg.adapters) == {"console", "jsonl", "webhook"}
    assert {"validate", "replay", "run", "plugins"} <= set(reg.commands)
    # every playbook section is a feature, registered like a plugin's
    assert [f.name for f in reg.features][:3] == ["segments", "points", "tags"]
    assert {"levels", "badges", "moderation", "flows"} <= {f.name for f in reg.features}
    assert {"untag", "unmute", "unban"} <= set(reg.timer_kinds)


def test_each_build_is_a_new_value_and_the_default_is_built_once() -> None:
    assert isolated() is not isolated()
    assert default_registry() is default_registry()


def test_two_playbooks_with_different_plugin_sets_in_one_process() -> None:
    body = """
rules:
  - id: thanks
    on: reaction.added
    do:
      - kudos.high_five: 🎉
"""
    with_kudos = isolated(("kudos", Kudos()))
    without = isolated()
    engine = Engine(compile_text(body, with_kudos))
    with pytest.raises(PlaybookError, match=r"unknown action 'kudos\.high_five'"):
        compile_text(body, without)
    # the first registry is unaffected by the second, and the default has neither
    assert "kudos.high_five" in with_kudos.actions
    assert "kudos.high_five" not in default_registry().actions
    got = actions_of(engine, event("reaction.added", "u1"))
    assert [a["type"] for a in got] == ["kudos.high_five"]


# -- loading: entry points, ENGAGE_RULES_LOAD_PLUGINS, unknown hooks ------------------------


def _module(name: str, **hooks: Callable[..., None]) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, fn in hooks.items():
        fn.__name__ = hook_name
        setattr(module, hook_name, hookimpl(fn))
    sys.modules[name] = module
    return module


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Two installed plugins, ``alpha`` and ``beta``, each registering an event type."""
    _module("er_test_alpha", register_event_types=lambda register: register("alpha.done", "alpha"))
    _module("er_test_beta", register_event_types=lambda register: register("beta.done", "beta"))
    eps = [
        EntryPoint("alpha", "er_test_alpha", "engage_rules"),
        EntryPoint("beta", "er_test_beta", "engage_rules"),
    ]
    monkeypatch.setattr(plugins, "discover_entry_points", lambda: eps)
    try:
        yield
    finally:
        for name in ("er_test_alpha", "er_test_beta"):
            sys.modules.pop(name, None)


@pytest.mark.parametrize(
    ("pinned", "loaded"),
    [
        (None, ["alpha", "beta"]),
        ("beta", ["beta"]),
        (" alpha , beta ", ["alpha", "beta"]),
        ("", []),
    ],
)
def test_load_plugins_env_pins_which_plugins_load(
    entry_points: None, monkeypatch: pytest.MonkeyPatch, pinned: str | None, loaded: list[str]
) -> None:
    if pinned is None:
        monkeypatch.delenv(plugins.LOAD_PLUGINS_ENV, raising=False)
    else:
        monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, pinned)
    reg = build_registry()
    assert list(reg.by_plugin) == ["builtin", "builtin-adapters", "builtin-commands", *loaded]
    assert {f"{n}.done" for n in loaded} == set(reg.event_types) - {
        *CANONICAL_TYPES,
        *INTERNAL_TYPES,
    }


def test_load_plugins_env_naming_a_missing_plugin_fails(
    entry_points: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "alpha,gamma")
    with pytest.raises(
        plugins.PluginError, match=r"not installed: gamma \(installed: alpha, beta\)"
    ):
        build_registry()


def test_a_plugin_that_fails_to_import_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = [EntryPoint("broken", "er_test_does_not_exist", "engage_rules")]
    monkeypatch.setattr(plugins, "discover_entry_points", lambda: bad)
    with pytest.raises(plugins.PluginError, match=r"plugin 'broken' .* failed to import"):
        build_registry()


def test_unknown_hooks_are_rejected_at_start_up() -> None:
    class Widgets:
        @hookimpl
        def register_widgets(self, register: Any) -> None:
            raise AssertionError("never called")

    with pytest.raises(plugins.PluginError) as info:
        isolated(("widgets", Widgets()))
    message = str(info.value)
    assert "plugin 'widgets' implements unknown hook 'register_widgets'" in message
    assert "register_actions" in message  # lists the hooks that exist
    assert "register_features" in message


def test_a_hook_that_raises_is_named() -> None:
    class Broken:
        @hookimpl
        def register_functions(self, register: Any) -> None:
            raise KeyError("oops")

    with pytest.raises(
        plugins.PluginError, match="plugin 'broken' failed in register_functions: KeyError"
    ):
        isolated(("broken", Broken()))


def test_a_name_registered_twice_names_both_plugins() -> None:
    def twice(self: Any, register: Any) -> None:
        register("dup.happened", "a duplicate")

    one = type("One", (), {"register_event_types": hookimpl(twice)})()
    two = type("Two", (), {"register_event_types": hookimpl(twice)})()
    with pytest.raises(
        plugins.PluginError,
        match=r"plugin 'two' registers event type "
        r"'dup\.happened', which plugin 'one' already registers",
    ):
        isolated(("one", one), ("two", two))


@pytest.mark.parametrize(
    ("hook", "args", "message"),
    [
        (
            "register_actions",
            (ActionSpec("pin", BaseModel), lambda r, a: None),
            "must be named <plugin>.<action>",
        ),
        (
            "register_actions",
            (ActionSpec("x.pin", dict), lambda r, a: None),  # type: ignore[arg-type]
            "params must be a pydantic model",
        ),
        (
            "register_actions",
            (ActionSpec("x.pin", BaseModel), "not callable"),
            "the executor is not callable",
        ),
        ("register_event_types", ("Not A Type", ""), "not a dotted lower-case name"),
        (
            "register_stores",
            ("sqlite", lambda url: MemoryStore()),
            "store .sqlite., which plugin .builtin. already registers",
        ),
        ("register_commands", ("Bad Name", lambda p: None, lambda a: 0, ""), "lower-case word"),
        (
            "register_commands",
            ("validate", lambda p: None, lambda a: 0, ""),
            "command 'validate', which plugin 'builtin-commands' already registers",
        ),
        ("register_classifiers", ("bad name", lambda t, label: 0.0), "must be a word"),
        ("register_functions", (FunctionSpec("member", lambda c: 0),), "taken"),
        ("register_adapters", ("chat", "not callable"), "not callable"),
        ("register_features", (object(),), "feature name None must be a lower-case word"),
    ],
)
def test_invalid_registrations_are_errors(hook: str, args: tuple[Any, ...], message: str) -> None:
    def impl(self: Any, register: Any) -> None:
        register(*args)

    plugin = type("P", (), {hook: hookimpl(impl)})()
    with pytest.raises(plugins.PluginError, match=message):
        isolated(("bad", plugin))
    assert "x.pin" not in isolated().actions  # a failed build leaves nothing behind


# -- actions ---------------------------------------------------------------------------------


class HighFiveParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str | None = None
    emoji: str = "🙌"


def do_high_five(run: ActionScope, action: CompiledAction) -> None:
    target = run.target(action)
    assert target is not None
    run.emit(action, target.id, {"emoji": run.text(action, "emoji")})


class Kudos:
    @hookimpl
    def register_actions(self, register: Any) -> None:
        register(
            ActionSpec("kudos.high_five", HighFiveParams, "emoji", "a high five"), do_high_five
        )


def test_plugin_action_end_to_end() -> None:
    pb = compile_text(
        """
rules:
  - id: thanks
    on: reaction.added
    do:
      - kudos.high_five: {to: "{{ event.data.to_member }}", emoji: "{{ event.data.emoji }}"}
      - kudos.high_five: 🎉
""",
        isolated(("kudos", Kudos())),
    )
    got = actions_of(Engine(pb), event("reaction.added", "u1", to_member="u2", emoji="👏"))
    assert [(a["type"], a["member"], a["params"], a["rule"]) for a in got] == [
        ("kudos.high_five", "u2", {"emoji": "👏"}, "thanks"),
        ("kudos.high_five", "u1", {"emoji": "🎉"}, "thanks"),
    ]
    assert got[0]["key"] != got[1]["key"]


def test_plugin_action_params_are_validated_with_positions() -> None:
    with pytest.raises(PlaybookError) as info:
        compile_text(
            """
rules:
  - id: thanks
    on: reaction.added
    do:
      - kudos.high_five: {emoj: x}
""",
            isolated(("kudos", Kudos())),
        )
    assert [str(p) for p in info.value.problems] == [
        "p.yaml:9:27: unknown key 'emoj' in action 'kudos.high_five'; did you mean 'emoji'?"
    ]


def test_plugin_action_without_the_plugin_is_a_load_error() -> None:
    with pytest.raises(
        PlaybookError,
        match=r"p\.yaml:9:9: unknown action "
        r"'kudos\.high_five' \(no installed plugin registers it\)",
    ):
        compile_text(
            """
rules:
  - id: thanks
    on: reaction.added
    do:
      - kudos.high_five: {}
""",
            isolated(),
        )


def test_a_misspelt_plugin_action_gets_a_did_you_mean() -> None:
    with pytest.raises(
        PlaybookError,
        match=r"unknown action 'kudos\.high_fiv' \(no installed "
        r"plugin registers it\); did you mean 'kudos\.high_five'\?",
    ):
        compile_text(
            """
rules:
  - id: thanks
    on: reaction.added
    do:
      - kudos.high_fiv: {}
""",
            isolated(("kudos", Kudos())),
        )


# -- functions -------------------------------------------------------------------------------


def fn_shout(c: Any, text: Any) -> str:
    return str(text).upper() + "!"


class Shout:
    @hookimpl
    def register_functions(self, register: Any) -> None:
        register(FunctionSpec("shout", fn_shout, ("text",), 1, doc="upper-case, with !"))


def test_plugin_function_in_conditions_and_templates() -> None:
    pb = compile_text(
        """
rules:
  - id: echo
    on: message.posted
    if: "shout(event.data.text) == 'HI!'"
    do:
      - reply: {text: "{{ shout(member.id) }} said {{ shout(event.data.text) }}"}
""",
        isolated(("shout", Shout())),
    )
    engine = Engine(pb)
    got = actions_of(
        engine, event("message.posted", "u7", text="hi"), event("message.posted", "u7", text="bye")
    )
    assert [(a["type"], a["params"]["text"]) for a in got] == [("reply", "U7! said HI!")]


def test_plugin_function_unknown_without_the_plugin() -> None:
    with pytest.raises(PlaybookError, match="shout"):
        compile_text(
            """
rules:
  - id: echo
    on: message.posted
    if: "shout(event.data.text) == 'HI!'"
    do: [{reply: {text: x}}]
""",
            isolated(),
        )


# -- event types -----------------------------------------------------------------------------


class Pins:
    @hookimpl
    def register_event_types(self, register: Any) -> None:
        register("chat.pinned", "a message was pinned")


RULES_ON = """
rules:
  - id: a
    on: {on}
    do: [{{tag: x}}]
  - id: b
    on: [custom.thing, raised.here]
    do: [{{emit: {{type: raised.here}}}}]
"""


@pytest.mark.parametrize(
    ("on", "warning"),
    [
        (
            "mesage.posted",
            "p.yaml:7:9: warning: rule 'a': no plugin registers the event type "
            "'mesage.posted'; did you mean 'message.posted'?",
        ),
        (
            "chat.pined",
            "p.yaml:7:9: warning: rule 'a': no plugin registers the event type "
            "'chat.pined'; did you mean 'chat.pinned'?",
        ),
        (
            "raised.her",
            "p.yaml:7:9: warning: rule 'a': no plugin registers the event type "
            "'raised.her'; did you mean 'raised.here'?",
        ),
        ("message.posted", None),
        ("chat.pinned", None),
        ("something.else", None),
    ],
)
def test_event_types_give_did_you_mean_warnings(on: str, warning: str | None) -> None:
    loaded = load_playbook_text(
        HEADER + RULES_ON.format(on=on), "p.yaml", registry=isolated(("pins", Pins()))
    )
    assert [str(w) for w in loaded.warnings] == ([warning] if warning else [])


def test_validate_prints_warnings_and_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(HEADER + RULES_ON.format(on="[message.posted, membr.joined]"))
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert (
        f"{path}:7:26: warning: rule 'a': no plugin registers the event type "
        "'membr.joined'; did you mean 'member.joined'?" in err
    )
    assert "ok: 1 playbook(s) valid" in err


# -- stores ----------------------------------------------------------------------------------


class Stores:
    def __init__(self) -> None:
        self.opened: list[str] = []

    @hookimpl
    def register_stores(self, register: Any) -> None:
        def factory(url: str) -> Store:
            self.opened.append(url)
            return MemoryStore()

        register("mystore", factory)


def test_plugin_store_scheme_with_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stores = Stores()
    reg = isolated(("stores", stores))
    assert reg.by_plugin["stores"] == {"stores": ["mystore"]}
    assert isinstance(open_store("MyStore://a/b", registry=reg), MemoryStore)
    playbook = tmp_path / "p.yaml"
    playbook.write_text(HEADER + "rules:\n  - {id: hi, on: member.joined, do: [{tag: new}]}\n")
    events = tmp_path / "e.jsonl"
    events.write_text(
        json.dumps(
            {
                "id": "e1",
                "type": "member.joined",
                "at": "2026-03-02T10:00:00+08:00",
                "member": {"id": "u1"},
            }
        )
        + "\n"
    )
    code = main(["replay", str(playbook), str(events), "--store", "mystore://db/1"], registry=reg)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert stores.opened == ["MyStore://a/b", "mystore://db/1"]
    assert [json.loads(line)["type"] for line in out.out.splitlines()] == ["tag"]


def test_unknown_store_scheme_lists_plugin_schemes() -> None:
    with pytest.raises(StoreError, match=r"mystore:\.\.\."):
        open_store("nosuch://x", registry=isolated(("stores", Stores())))


# -- CLI commands ----------------------------------------------------------------------------


class Hello:
    @hookimpl
    def register_commands(self, register: Any) -> None:
        def configure(parser: argparse.ArgumentParser) -> None:
            parser.add_argument("--name", default="world")

        def run(args: argparse.Namespace) -> int:
            print(f"hello, {args.name}")
            return 3

        register("hello", configure, run, "say hello")


def test_plugin_command(capsys: pytest.CaptureFixture[str]) -> None:
    reg = isolated(("hello", Hello()))
    assert main(["hello", "--name", "阿明"], registry=reg) == 3
    assert capsys.readouterr().out == "hello, 阿明\n"
    with pytest.raises(SystemExit):
        main(["--help"], registry=reg)
    assert "say hello [plugin hello]" in capsys.readouterr().out


def test_a_broken_plugin_fails_the_cli_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = [EntryPoint("broken", "er_test_does_not_exist", "engage_rules")]
    monkeypatch.setattr(plugins, "discover_entry_points", lambda: bad)
    monkeypatch.setattr(plugins, "_default", None)
    assert main(["plugins"]) == 2
    assert "engage-rules: plugin 'broken'" in capsys.readouterr().err


# -- classifiers ----------------------------------------------------------------------------


def test_plugin_classifier() -> None:
    def scorer(text: str, label: str) -> float:
        return 1.0 if label == "shouty" and text.isupper() else 0.0

    class Classify:
        @hookimpl
        def register_classifiers(self, register: Any) -> None:
            register("caps", scorer)

    reg = isolated(("classify", Classify()))
    assert reg.classifiers["caps"] is scorer
    assert set(reg.classifiers) == {"caps", "lexicon"}  # lexicon: the built-in one
    assert "caps" not in isolated().classifiers  # registries never share tables
    pb = compile_text(
        """
rules:
  - id: calm
    on: message.posted
    if: "score(event.data.text, 'shouty', 'caps') > 0.5"
    do: [{reply: {text: calm down}}]
""",
        reg,
    )
    got = actions_of(
        Engine(pb),
        event("message.posted", "u1", text="HEY"),
        event("message.posted", "u1", text="hey"),
    )
    assert [(a["type"], a["params"]["text"]) for a in got] == [("reply", "calm down")]


# -- engage-rules plugins --------------------------------------------------------------------


def test_plugins_command_lists_what_each_plugin_registers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reg = isolated(("kudos", Kudos()), ("shout", Shout()), ("pins", Pins()), ("hello", Hello()))
    assert main(["plugins"], registry=reg) == 0
    out = capsys.readouterr().out
    assert "builtin (engage_rules.plugins.builtin)\n  features (20): segments, points," in out
    assert "  stores (4): memory, sqlite, postgresql, postgres\n" in out
    assert (
        "builtin-adapters (engage_rules.plugins.builtin_adapters)\n"
        "  adapters (3): console, jsonl, webhook\n" in out
    )
    assert "kudos (Kudos)\n  actions (1): kudos.high_five\n" in out
    assert "shout (Shout)\n  functions (1): shout\n" in out
    assert "pins (Pins)\n  event types (1): chat.pinned\n" in out
    assert "hello (Hello)\n  commands (1): hello\n" in out

    assert main(["plugins", "-v"], registry=reg) == 0
    out = capsys.readouterr().out
    assert "    kudos.high_five  a high five\n" in out
    assert "    shout  upper-case, with !\n" in out

    assert main(["plugins", "--json"], registry=reg) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert list(listed) == [
        "builtin",
        "builtin-adapters",
        "builtin-commands",
        "kudos",
        "shout",
        "pins",
        "hello",
    ]
    assert listed["kudos"]["actions"] == ["kudos.high_five"]
    assert {k for k, v in listed["kudos"].items() if v and k not in ("name", "source")} == {
        "actions"
    }
    assert "member.silent" in listed["builtin"]["event_types"]
    assert "validate" in listed["builtin-commands"]["commands"]


def test_a_hook_with_wrong_arguments_is_named() -> None:
    class Typo:
        @hookimpl
        def register_actions(self, registr: Any) -> None:
            raise AssertionError("never called")

    with pytest.raises(plugins.PluginError, match=r"(?s)plugin 'typo': .*'registr'"):
        isolated(("typo", Typo()))


def test_an_optional_unknown_hook_is_allowed() -> None:
    class Future:
        @hookimpl(optionalhook=True)
        def register_widgets(self, register: Any) -> None:
            raise AssertionError("never called")

    assert "future" in isolated(("future", Future())).by_plugin


def test_plugin_actions_are_in_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"], registry=isolated(("kudos", Kudos()))) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "kudos.high_five" in json.dumps(schema)
    assert main(["schema"], registry=isolated()) == 0
    assert "kudos.high_five" not in capsys.readouterr().out
