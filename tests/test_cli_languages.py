"""Every command speaks English and Chinese (docs/reference.md §7, "Language / 语言").

The commands are taken from the registry, so a new command — a plugin's included — is
covered as soon as it is registered:

* its ``--help`` (and its subcommands'): in zh_CN, every help text that is an English
  sentence is translated (it differs and holds Chinese), and ``--help`` prints Chinese;
* a run on a small real input — a playbook written by ``init``, its events, the SQLite
  store a traced replay of them wrote, plugin payload files — in both languages: the same
  exit code, the same machine-readable output (JSON, JSON Lines, actions), and more
  Chinese in the words printed in zh_CN than in English.  A command without a scenario
  here fails the test until one is added to :data:`SCENARIOS`.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engage_rules import i18n
from engage_rules._util.display import columns
from engage_rules.cli.main import build_parser, choose_language
from engage_rules.plugins.manager import default_registry
from engage_rules.testing import CliResult, event_line, run_cli
from test_i18n_validation import english_left

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DATA = {
    name: ROOT / "plugins" / f"engage-rules-{name}" / "tests" / "data"
    for name in ("telegram", "discord", "onebot")
}
CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]")
WORD = re.compile(r"[A-Za-z]{2,}")
LANGS = ("en", "zh_CN")
#: The starter playbook and its example events (bad lines and the messaging policy at work).
STARTER = (
    ROOT / "rules" / "starter" / "community.yaml",
    ROOT / "examples" / "starter-events.jsonl",
)


def cjk(text: str) -> int:
    """How many Chinese characters and full-width punctuation marks ``text`` holds."""
    return len(CJK.findall(text))


# -- help ---------------------------------------------------------------------------------


def help_texts(parser: argparse.ArgumentParser, path: str) -> dict[str, str]:
    """Every help text of ``parser`` and of its subcommands, by where it is written."""
    out: dict[str, str] = {}
    if parser.description:
        out[f"{path}: description"] = parser.description
    for action in parser._actions:
        name = "/".join(action.option_strings) or str(action.dest)
        if action.help and action.help is not argparse.SUPPRESS:
            out[f"{path}: {name}"] = action.help
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.help:
                    out[f"{path} {choice.dest}: summary"] = choice.help
            for sub_name, sub in action.choices.items():
                out.update(help_texts(sub, f"{path} {sub_name}"))
    return out


def parser_in(lang: str) -> argparse.ArgumentParser:
    """The command line's parser as ``engage-rules --lang LANG`` builds it."""
    previous = i18n.current_language()
    try:
        assert choose_language(["--lang", lang], {}) is None
        return build_parser(default_registry())
    finally:
        i18n.set_language(previous)


def command_helps(lang: str, command: str) -> dict[str, str]:
    """The help texts of one command: its one-line summary and its parser's texts."""
    texts = help_texts(parser_in(lang), "engage-rules")
    prefix = f"engage-rules {command}"
    return {k: v for k, v in texts.items() if k.startswith((f"{prefix}:", f"{prefix} "))}


COMMANDS = sorted(default_registry().commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_sentence_of_the_command_is_translated(command: str) -> None:
    english, chinese = command_helps("en", command), command_helps("zh_CN", command)
    assert english.keys() == chinese.keys()
    assert f"engage-rules {command}: summary" in english
    untranslated = [
        f"{where}: {text!r} → {chinese[where]!r}"
        for where, text in english.items()
        if len(WORD.findall(text)) >= 2 and (chinese[where] == text or not cjk(chinese[where]))
    ]
    assert untranslated == []


@pytest.mark.parametrize("command", COMMANDS)
def test_help_prints_chinese_in_chinese(command: str) -> None:
    english = run_cli(command, "--help")
    chinese = run_cli("--lang", "zh_CN", command, "--help")
    by_locale = run_cli(command, "--help", env={"LANG": "zh_CN.UTF-8"})
    assert english.returncode == chinese.returncode == by_locale.returncode == 0
    assert chinese.stdout == by_locale.stdout
    assert cjk(chinese.stdout) > cjk(english.stdout) + 10
    assert english.stdout.startswith("usage: ") and chinese.stdout.startswith("用法：")


def test_the_top_level_help_sentences_are_translated() -> None:
    english = help_texts(parser_in("en"), "engage-rules")
    chinese = help_texts(parser_in("zh_CN"), "engage-rules")
    own = [k for k in english if k.startswith("engage-rules:")]
    assert len(own) >= 4  # the description, --help, --version, --lang
    assert [k for k in own if chinese[k] == english[k] or not cjk(chinese[k])] == []


def test_the_top_level_help_lists_every_command_in_chinese() -> None:
    chinese = run_cli("--lang", "zh_CN", "--help", env={"COLUMNS": "80"})
    assert chinese.returncode == 0
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\b", chinese.stdout, re.M), command
    assert "[插件 telegram]" in chinese.stdout  # a plugin's command, its help translated
    assert "Telegram：" in chinese.stdout
    assert "\n选项：\n" in chinese.stdout and "\noptions:\n" in run_cli("--help").stdout
    widest = max(columns(line) for line in chinese.stdout.splitlines() if cjk(line))
    assert widest <= 80  # Chinese lines are wrapped by terminal columns (COLUMNS: 80)


# -- running each command ------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """The small real input every command runs on."""

    root: Path
    playbook: Path
    events: Path
    store: str
    bad_config: Path
    config: Path
    roles_config: Path
    payloads: dict[str, Path]
    #: Per language: a store whose review queue holds one item, and that item's id.
    flagged: dict[str, str]
    item: str
    #: A playbook test file whose cases fail.
    failing_test: Path
    #: The address of the module's in-process Dask scheduler (for backtest).
    dask: str

    def fresh(self, lang: str) -> Path:
        """A folder that does not exist yet, one per language."""
        return self.root / f"new-{lang}"


@dataclass(frozen=True)
class Scenario:
    """One run of a command: its arguments, and which output is data that must be the
    same in both languages (``"json"``: stdout parsed as JSON, ``"jsonl"``: as JSON Lines,
    ``"any-json"``: stdout is JSON in both, their words may differ, ``None``: no data),
    and the exit code.  The other streams are the words."""

    args: Callable[[World, str], list[str | Path]]
    data: str | None = None
    code: int = 0
    #: False for a command whose output is data only (``schema``): no words to compare.
    #: (A run that prints no English words at all has none to translate either.)
    words: bool = True


def strikes(w: World) -> Path:
    """Events that fail rules of rules/moderation: strikes sent by no moderator."""
    path = w.root / "strikes.jsonl"
    target = {"member": "u1"}
    lines = [
        event_line("moderation.strike", "troll", id="s1", data=target),
        event_line("moderation.strike", None, id="s2", data=target),
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


SCENARIOS: dict[str, list[Scenario]] = {
    "init": [Scenario(lambda w, lang: ["init", w.fresh(lang)])],
    "validate": [
        Scenario(lambda w, lang: ["validate", w.playbook]),
        Scenario(lambda w, lang: ["validate", w.playbook, "--platform", "nope"], code=2),
        Scenario(
            lambda w, lang: ["validate", ROOT / "rules" / "moderation", "--platform", "telegram"]
        ),
        # A runtime config's playbook (its secrets unset, its other settings unchecked).
        Scenario(lambda w, lang: ["validate", "--config", w.bad_config]),
        Scenario(lambda w, lang: ["validate"], code=2),
    ],
    "replay": [
        Scenario(lambda w, lang: ["replay", w.playbook, w.events], data="jsonl"),
        Scenario(lambda w, lang: ["replay", w.playbook, w.events, "--compare", w.playbook]),
        Scenario(
            lambda w, lang: ["replay", w.playbook, w.events, "--compare", w.playbook, "--json"],
            data="json",
        ),
        Scenario(lambda w, lang: ["replay", w.events, w.playbook], code=1),
        # Quarantined lines, deferred and suppressed messages in the summary.
        Scenario(
            lambda w, lang: ["replay", *STARTER, "--until", "2026-05-01T12:00+08:00"], "jsonl"
        ),
        # Rule errors in the summary: moderators' commands sent by others.
        Scenario(lambda w, lang: ["replay", ROOT / "rules" / "moderation", strikes(w)], "jsonl"),
    ],
    "backtest": [
        Scenario(lambda w, lang: ["backtest", w.playbook, w.events, "--scheduler", w.dask]),
        Scenario(
            lambda w, lang: ["backtest", w.playbook, w.events, "--json", "--scheduler", w.dask],
            data="json",
        ),
    ],
    "explain": [
        Scenario(lambda w, lang: ["explain", "--store", w.store, "--member", "小明"]),
        Scenario(lambda w, lang: ["explain", "--store", w.store, "--event", "e3"]),
        Scenario(
            lambda w, lang: ["explain", "--store", w.store, "--event", "e3", "--json"], "json"
        ),
        Scenario(lambda w, lang: ["explain", w.playbook, w.events, "--member", "小明"]),
    ],
    "review": [
        Scenario(lambda w, lang: ["review", "list", "--store", w.store]),
        Scenario(lambda w, lang: ["review", "list", "--store", w.flagged[lang], "--json"], "jsonl"),
        Scenario(lambda w, lang: ["review", "dismiss", w.item, "--store", w.flagged[lang]]),
        Scenario(lambda w, lang: ["review", "dismiss", w.item, "--store", w.flagged[lang]]),
        Scenario(lambda w, lang: ["review", "approve", w.item, "--store", w.flagged[lang]], code=1),
        Scenario(lambda w, lang: ["review", "approve", "--store", w.store], code=2),
    ],
    "audit": [Scenario(lambda w, lang: ["audit", "--store", w.store], data="jsonl")],
    "report": [
        Scenario(lambda w, lang: ["report", "--store", w.store, "--json"], data="json"),
        Scenario(lambda w, lang: ["report", "--store", w.store]),
        Scenario(lambda w, lang: ["report", "--store", "memory:"], code=2),
    ],
    "test": [
        Scenario(lambda w, lang: ["test", w.playbook]),
        Scenario(lambda w, lang: ["test", w.failing_test], code=1),  # the failures told
    ],
    "schema": [
        Scenario(lambda w, lang: ["schema"], data="any-json", words=False),
        Scenario(lambda w, lang: ["schema", "--strict"], code=2),
    ],
    "completion": [Scenario(lambda w, lang: ["completion", "fish"])],
    "plugins": [
        Scenario(lambda w, lang: ["plugins", "-v"]),  # the actions' descriptions too
        Scenario(lambda w, lang: ["plugins", "--json"], data="json"),
    ],
    "run": [
        Scenario(lambda w, lang: ["run", "--config", w.bad_config], code=1),
        Scenario(lambda w, lang: ["run", "--config", w.config], code=1),
    ],
    "ingest": [
        Scenario(lambda w, lang: ["ingest", "--config", w.bad_config], code=1),
        Scenario(lambda w, lang: ["ingest", "--config", w.roles_config], code=1),
    ],
    "worker": [
        Scenario(lambda w, lang: ["worker", "--config", w.bad_config], code=1),
        Scenario(lambda w, lang: ["worker", "--config", w.roles_config], code=1),
    ],
    "dispatch": [
        Scenario(lambda w, lang: ["dispatch", "--config", w.bad_config], code=1),
        Scenario(lambda w, lang: ["dispatch", "--config", w.roles_config], code=1),
    ],
    "telegram": [
        Scenario(
            lambda w, lang: ["telegram", "map", w.payloads["telegram"], "--chat=-1001=fans"],
            data="jsonl",
        ),
    ],
    "discord": [
        Scenario(lambda w, lang: ["discord", "map", w.payloads["discord"]], data="jsonl"),
    ],
    "onebot": [
        Scenario(lambda w, lang: ["onebot", "map", w.payloads["onebot"]], data="jsonl"),
        Scenario(lambda w, lang: ["onebot", "import", w.payloads["onebot"]], code=2),
    ],
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("languages")
    made = run_cli("init", root / "community")
    assert made.returncode == 0, made.stderr
    playbook, events = root / "community" / "playbook", root / "community" / "events.jsonl"
    store = f"sqlite:///{root / 'state.db'}"
    replayed = run_cli("replay", playbook, events, "--store", store, "--trace")
    assert replayed.returncode == 0, replayed.stderr
    bad_config = root / "run.yaml"
    bad_config.write_text(
        "playbook: community/playbook\n"
        "store: sqlite:///state.db\n"
        "sources: [{type: webhook, listen: 'nowhere', secret_env: NO_SUCH_VARIABLE},\n"
        "  {type: webhook, listen: '127.0.0.1:0', secret: short}, {type: jsonl, follow: maybe}]\n"
        "adapters: {out: {type: console}}\n"
        "dispatch: {default: elsewhere, workers: 0}\n"
        "max_batch: 1.5\n"
        "colour: blue\n",
        "utf-8",
    )
    # Valid configs that cannot start: the console adapter's stream is wrong (run); there
    # is no `kafka:` section (ingest, worker) or PostgreSQL store (dispatch).
    valid = (
        "playbook: community/playbook\n"
        "store: sqlite:///state.db\n"
        "sources: [{type: webhook, listen: '127.0.0.1:0', secret: 0123456789abcdef0123}]\n"
    )
    config, roles_config = root / "run-console.yaml", root / "roles.yaml"
    config.write_text(valid + "adapters: {out: {type: console, stream: nowhere}}\n", "utf-8")
    roles_config.write_text(valid + "adapters: {out: {type: console}}\n", "utf-8")
    payloads = {}
    for name, files in {
        "telegram": ["message_text_link", "pinned_service_message"],
        "discord": ["heartbeat_ack", "thread_create"],
        "onebot": ["group_message_array", "heartbeat"],
    }.items():
        lines = [
            json.dumps(json.loads((PLUGIN_DATA[name] / f"{f}.json").read_text())) for f in files
        ]
        payloads[name] = root / f"{name}.jsonl"
        payloads[name].write_text("\n".join([*lines, "{not json"]) + "\n", "utf-8")
    review = root / "review.yaml"
    review.write_text(
        "engage_rules: 1\nname: review\nrules:\n  - id: links\n    on: message.posted\n"
        "    if: \"'http' in event.data.text\"\n    do: [{flag_for_review: {reason: 可疑链接}}]\n",
        "utf-8",
    )
    flagged = {}
    for lang in LANGS:
        flagged[lang] = f"sqlite:///{root / f'review-{lang}.db'}"
        posted = event_line("message.posted", "u1", id="m1", text="see http://x.example")
        made = run_cli("replay", review, "-", "--store", flagged[lang], stdin=posted + "\n")
        assert made.returncode == 0, made.stderr
    item = json.loads(run_cli("review", "--store", flagged["en"], "--json").stdout)["id"]
    failing_test = root / "wrong.test.yaml"
    expected = (playbook / "points.test.yaml").read_text("utf-8")
    wrong = expected.replace("amount: 2}", "amount: 3}").replace(
        "playbook: .", "playbook: community/playbook"
    )
    failing_test.write_text(wrong, "utf-8")
    import distributed

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        yield World(
            root,
            playbook,
            events,
            store,
            bad_config,
            config,
            roles_config,
            payloads,
            flagged,
            item,
            failing_test,
            cluster.scheduler_address,
        )


def _data(result: CliResult, kind: str | None) -> object:
    if kind == "any-json":
        return type(json.loads(result.stdout))
    if kind == "json":
        return json.loads(result.stdout)
    if kind == "jsonl":
        return result.jsonl()
    return None


def _words(result: CliResult, kind: str | None) -> str:
    return result.stderr if kind is not None else result.stdout + result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_the_command_runs_alike_in_both_languages_with_chinese_words(
    command: str, world: World
) -> None:
    scenarios = SCENARIOS.get(command)
    if scenarios is None:
        pytest.fail(f"no scenario for the command {command!r}: add one to SCENARIOS")
    for scenario in scenarios:
        english = run_cli(*scenario.args(world, "en"), cwd=world.root)
        chinese = run_cli("--lang", "zh_CN", *scenario.args(world, "zh_CN"), cwd=world.root)
        shown = f"{english.args}\n--- en:\n{english.stderr}\n--- zh_CN:\n{chinese.stderr}"
        assert english.returncode == chinese.returncode == scenario.code, shown
        assert _data(english, scenario.data) == _data(chinese, scenario.data), shown
        en_words, zh_words = _words(english, scenario.data), _words(chinese, scenario.data)
        if scenario.words and WORD.search(en_words):  # words to say: said in Chinese
            assert cjk(zh_words) > cjk(en_words), shown


def test_the_state_and_the_store_are_the_same_in_both_languages(world: World) -> None:
    written = {}
    for lang in LANGS:
        state, store = world.root / f"state-{lang}.json", f"sqlite:///{world.root}/{lang}.db"
        args = ["replay", world.playbook, world.events, "--store", store, "--trace"]
        args += ["--state-out", state]
        replayed = run_cli("--lang", lang, *args)
        assert replayed.returncode == 0, replayed.stderr
        audit = run_cli("--lang", lang, "audit", "--store", store)
        explained = run_cli("--lang", lang, "explain", "--store", store, "--event", "e3", "--json")
        written[lang] = (state.read_bytes(), replayed.stdout, audit.stdout, explained.stdout)
    assert written["en"] == written["zh_CN"]
    assert json.loads(written["en"][3])[0]["rules"]  # the traces are there, the same


def test_the_plugins_listing_describes_the_actions_in_chinese() -> None:
    english = run_cli("plugins", "-v").stdout
    chinese = run_cli("--lang", "zh_CN", "plugins", "-v").stdout
    award = re.compile(r"^\s+award\s+(.*)$", re.M)
    found_en, found_zh = award.search(english), award.search(chinese)
    assert found_en is not None and found_zh is not None
    assert found_en.group(1) == "credit a currency" and cjk(found_zh.group(1)) >= 4


# -- no English sentence left in Chinese -----------------------------------------------------

#: What may stay as written in a Chinese line, taken out before looking for English:
#: paths and URLs (a slash in them), option names (``--store``), dotted names (event types,
#: YAML paths such as ``member.points``), ids and codes joined by ``_`` or ``-``, ISO times.
KEPT_AS_WRITTEN = re.compile(
    r"engage-rules [^（）()\n]*"  # a command line to type (in brackets, in Chinese ones too)
    r"|\S*[/\\]\S*"  # paths, URLs, sqlite:///...
    r"|(?<!\w)--?[A-Za-z][\w-]*"  # options
    r"|\b\w+(?:[._-]\w+)+\b"  # event types, ids, reason codes, times
)
#: Words that stay English in a Chinese line, each for a reason:
ALLOWED_ENGLISH = {
    # A JSON decoder's own words, inside a quarantine message or a payload's problem: the
    # library's (msgspec's, Python's json), as it says them.
    "Input data was truncated",
    "Expecting property name enclosed in double quotes",
    # The first line of `completion fish`: a comment of the shell script, code as the rest.
    "completion for fish",
    # A product's name, as its maker writes it (the telegram adapter's description).
    "Telegram Bot API",
}


def test_the_english_sentence_heuristic_finds_sentences_not_code() -> None:
    text = (
        "第 3 行：bad_time：`at` must carry an offset\n"
        "动作：1（award: 1）see the docs for more\n"
        "文件 /tmp/some long path/x.yaml、选项 --store sqlite:///a b c.db、事件 message.posted\n"
        "（engage-rules replay PLAYBOOK EVENTS）'quoted words stay here' \"and here too\"\n"
    )
    assert english_sentences(text) == ["must carry an offset", "see the docs for more"]


def english_sentences(text: str) -> list[str]:
    """The runs of three or more English words in ``text``, outside what stays as written
    (quoted, in backticks or brackets: the heuristic of test_i18n_validation; paths,
    options, dotted names, ids)."""
    found = []
    for line in text.splitlines():
        kept = KEPT_AS_WRITTEN.sub(" ", line)
        found += [run for run in english_left(kept) if run not in ALLOWED_ENGLISH]
    return found


@pytest.mark.parametrize("command", COMMANDS)
def test_no_english_sentence_is_left_in_chinese(command: str, world: World) -> None:
    leftovers = []
    for scenario in SCENARIOS.get(command, []):
        if not scenario.words:
            continue
        chinese = run_cli("--lang", "zh_CN", *scenario.args(world, "zh_CN"), cwd=world.root)
        for run in english_sentences(_words(chinese, scenario.data)):
            leftovers.append(f"{chinese.args}: {run!r}")
    assert leftovers == [], "\n".join(leftovers)
