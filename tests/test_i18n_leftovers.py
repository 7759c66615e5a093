"""The last English words of the Chinese command line (issue 18), each told in Chinese
where it is printed, while the data it comes from stays English, byte for byte
(docs/reference.md §7, "Language"): why an event was quarantined, what the messaging
policy did in a replay's summary, explain's combinators, a runtime config's problems."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.errors import EventError
from engage_rules.i18n import _, current_language, set_language, use_language
from engage_rules.model import event_problems
from engage_rules.model.event_problems import TEMPLATES, in_words
from engage_rules.model.events import parse_event
from engage_rules.runtime.config import ConfigError, load_config
from engage_rules.testing import run_cli
from test_i18n_validation import english_left

ROOT = Path(__file__).resolve().parents[1]
STARTER = (
    ROOT / "rules" / "starter" / "community.yaml",
    ROOT / "examples" / "starter-events.jsonl",
)
CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]")
PLACEHOLDER = re.compile(r"\{(\w+)\}")

# -- quarantine messages --------------------------------------------------------------------

#: Values a message may be made with: one token, so the message has one reading.
VALUE = st.text("abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=12)


@settings(max_examples=50, deadline=None)
@given(template=st.sampled_from(TEMPLATES), values=st.lists(VALUE, min_size=5, max_size=5))
def test_a_message_made_from_a_template_is_told_in_chinese_with_its_values(
    template: str, values: list[str]
) -> None:
    names = PLACEHOLDER.findall(template)
    params = dict(zip(names, values, strict=False))
    message = template.format(**params)
    with use_language("en"):
        assert in_words(message) == message  # English: the stored message itself
    with use_language("zh_CN"):
        told = in_words(message)
        assert told == _(template).format(**params)
        assert CJK.search(told) and not english_left(told), told
        assert all(v in told for v in params.values())


@pytest.mark.parametrize(
    ("line", "english"),
    [
        (
            '{"id":"a","type":"x.y","at":"yesterday"}',
            "`at` must be an ISO 8601 time with an offset",
        ),
        ('{"id":"a","type":"x.y","at":"2026-01-01T00:00:00"}', "`at` must carry a UTC offset"),
        ('{"id":"a","type":"X","at":"2026-01-01T00:00:00Z"}', "`type` 'X' is not a dotted"),
        ('{"id":"a","at":"2026-01-01T00:00:00Z"}', "missing required field `type`"),
        ("[1, 2]", "an event must be a JSON object"),
        ('{"id":"a","type":"x.y","at":"1900-01-01T00:00:00Z"}', "is outside the years 1970"),
        ('{"id":"a","type":"x.y","at":"2026-01-01T00:00:00Z","data":{"n":1e400}}', "too large"),
        ('{"id":"a","type":"x.y","at":"2026-01-01T00:00:00Z","data":{"n":[1e30000000000]}}', ""),
        (
            '{"id":"a","type":"x.y","at":"2026-01-01T00:00:00Z","data":{"n":{"m":' + "9" * 30,
            "invalid JSON",
        ),
        (
            '{"id":"a","type":"x.y","at":"2026-01-01T00:00:00Z","data":{"n":[' + "9" * 30 + "]}}",
            "`data.n[0]` 999999999999999999999999999999 is outside the signed 64-bit",
        ),
        ('{"id":"a","type":"x.y","at":"2026-01-01T00:00:00Z","d":"' + "x" * 70000 + '"}', "bytes"),
    ],
)
def test_real_quarantine_messages_stay_english_and_are_told_in_chinese(
    line: str, english: str
) -> None:
    for lang in ("en", "zh_CN"):  # the message is the same whatever the language
        with use_language(lang), pytest.raises(EventError) as info:
            parse_event(line)
        if lang == "en":
            message = info.value.message
            assert english in message and not CJK.search(message)
        assert info.value.message == message
    with use_language("zh_CN"):
        told = in_words(message)
    assert CJK.search(told) and told != message, told


def test_a_message_made_otherwise_is_shown_as_it_is() -> None:
    with use_language("zh_CN"):
        assert in_words("the adapter said no") == "the adapter said no"
        assert in_words("") == ""


def test_the_dedup_window_message_is_told_in_chinese() -> None:
    from engage_rules.store.records import dedup_message

    message = dedup_message("e1", "2026-01-01T00:00:00+00:00", 1_800_000_000.0)
    assert message.startswith("event 'e1' is dated 2026-01-01T00:00:00+00:00, before 2027-")
    with use_language("zh_CN"):
        told = in_words(message)
    assert told.startswith("事件 'e1' 的时间是 2026-01-01T00:00:00+00:00，早于 2027-")
    assert event_problems.BEYOND_DEDUP_WINDOW in event_problems.TEMPLATES


# -- a replay's summary ----------------------------------------------------------------------


def test_the_replay_summary_tells_quarantine_and_the_messaging_policy_in_chinese() -> None:
    args = ["replay", *STARTER, "--until", "2026-05-01T12:00:00+08:00"]
    english, chinese = run_cli(*args), run_cli("--lang", "zh_CN", *args)
    assert english.returncode == chinese.returncode == 0
    assert english.stdout == chinese.stdout  # the actions: data
    assert (
        "  line 41: bad_time: `at` must be an ISO 8601 time with an offset (Z or ±HH:MM)\n"
        in english.stderr
    )
    assert "\nmessages: deferred: 29, suppressed: capped: 1\n" in english.stderr
    assert (
        "  第 41 行：bad_time：`at` 必须是带时区偏移（Z 或 ±HH:MM）的 ISO 8601 时间\n"
        in chinese.stderr
    )
    assert "  第 81 行：bad_time：`at` 必须带 UTC 偏移（Z 或 ±HH:MM）\n" in chinese.stderr
    # A JSON decoder's own words stay as the library says them.
    assert "  第 121 行：bad_json：不是合法的 JSON：Input data was truncated\n" in chinese.stderr
    assert "\n消息：延后 29 条、压下 1 条（capped：超出消息上限）\n" in chinese.stderr
    assert "  quarantined bad_time: 2 (lines 41, 81)\n" in english.stderr
    assert "  隔离 bad_time：2 个（第 41、81 行）\n" in chinese.stderr


# -- explain ---------------------------------------------------------------------------------

COMBINED = """\
engage_rules: 1
name: combined
rules:
  - id: combos
    on: message.posted
    if:
      - "event.data.n > 1"
      - any:
          - "event.data.text == 'x'"
          - not: "1 / event.data.n > 0"
    do: [{award: {points: 1}}]
"""


def test_explain_tells_the_combinators_of_a_condition_in_chinese(tmp_path: Path) -> None:
    playbook, events = tmp_path / "combined.yaml", tmp_path / "events.jsonl"
    playbook.write_text(COMBINED, "utf-8")
    line = '{"id":"a1","type":"message.posted","at":"2026-01-01T00:00:00Z","member":{"id":"u1"}'
    events.write_text(line + ',"data":{"n":0,"text":"y"}}\n', "utf-8")
    args = ["explain", playbook, events, "--event", "a1"]
    english, chinese = run_cli(*args), run_cli("--lang", "zh_CN", *args)
    assert english.returncode == chinese.returncode == 0
    assert "all of  →  error: a part failed" in english.stdout
    assert "any of  →  error: a part failed" in english.stdout
    assert "not  →  error: a part failed" in english.stdout
    assert "以下全部成立（all）  →  错误：其中一部分出错了" in chinese.stdout
    assert "以下任一成立（any）  →  错误：其中一部分出错了" in chinese.stdout
    assert "以下不成立（not）  →  错误：其中一部分出错了" in chinese.stdout
    assert "event.data.n > 1  →  false" in chinese.stdout  # the expressions as written
    en_json, zh_json = (run_cli(*lang, *args, "--json") for lang in ([], ["--lang", "zh_CN"]))
    assert json.loads(en_json.stdout) == json.loads(zh_json.stdout)
    assert '"text": "all of"' in zh_json.stdout and '"error": "a part failed"' in zh_json.stdout


# -- a runtime config's problems -------------------------------------------------------------

BAD_CONFIG = """\
playbook: p.yaml
sources:
  - {type: webhook, listen: '127.0.0.1:0', secret: short, max_body: 10}
  - {type: carrier}
adapters: {}
dispatch: {workers: many, batch: 0}
max_batch: 1.5
"""


def config_problems(path: Path, lang: str) -> list[str]:
    with use_language(lang), pytest.raises(ConfigError) as info:
        load_config(path, {})
    return [str(p) for p in info.value.problems]


def test_a_runtime_configs_problems_are_worded_in_both_languages(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(BAD_CONFIG, "utf-8")
    english, chinese = config_problems(path, "en"), config_problems(path, "zh_CN")
    assert english == [
        f"{path}:3:52: sources.0.secret: must be at least 16 characters long, not 5",
        f"{path}:3:69: sources.0.max_body: must be at least 1024, got 10",
        f"{path}:4:5: sources.1: unknown type 'carrier' (expected 'webhook', 'jsonl')",
        f"{path}:5:11: adapters: needs at least 1 entry, not 0",
        f"{path}:6:21: dispatch.workers: expected a whole number, got the string 'many'",
        f"{path}:6:34: dispatch.batch: must be at least 1, got 0",
        f"{path}:7:12: max_batch: expected a whole number, got the number 1.5",
    ]
    assert [p.split(": ")[0] for p in chinese] == [p.split(": ")[0] for p in english]
    assert chinese[0] == f"{path}:3:52: sources.0.secret: 至少要 16 个字符，这里只有 5 个"
    assert chinese[4] == f"{path}:6:21: dispatch.workers: 应为整数，实际是字符串 'many'"
    for problem in chinese:
        message = problem.split(": ", 2)[2]
        assert CJK.search(message) and not english_left(message), problem
    assert not any("short" in p for p in english + chinese)  # a secret is never echoed


# -- plugins -v --------------------------------------------------------------------------------


def test_the_feature_summaries_are_the_first_paragraphs_of_the_docstrings() -> None:
    import inspect

    from engage_rules.plugins.builtin import FEATURE_SUMMARIES
    from engage_rules.plugins.manager import default_registry

    registry = default_registry()
    builtin = next(p for p in registry.describe() if p["name"] == "builtin")["features"]
    assert sorted(FEATURE_SUMMARIES) == sorted(builtin)
    for name, summary in FEATURE_SUMMARIES.items():
        doc = inspect.cleandoc(type(registry.feature(name)).__doc__ or "")
        assert " ".join(doc.split("\n\n")[0].split()) == summary, name


def test_plugins_describes_the_builtin_features_functions_and_events_in_chinese() -> None:
    english = run_cli("plugins", "-v").stdout
    chinese = run_cli("--lang", "zh_CN", "plugins", "-v").stdout
    assert (
        "    points        Currencies: `award`, `spend`, `revoke`, and the expiry of credits.\n"
        in english
    )
    assert "    points        货币：`award`、`spend`、`revoke`，以及入账的过期。\n" in chinese
    # A feature's summary is its docstring's whole first paragraph, not its first line.
    assert "and the `messaging:` policy: quiet hours and caps." in english
    assert "    days          n 天的时长\n" in chinese
    assert re.search(r"^    member\.joined +成员加入了社群$", chinese, re.M)
    assert re.search(r"^    console +把每个动作作为一行 JSON 输出到标准输出$", chinese, re.M)
    assert (
        run_cli("plugins", "--json").stdout
        == run_cli("--lang", "zh_CN", "plugins", "--json").stdout
    )


def test_the_jsonl_source_logs_a_quarantined_line_in_the_operators_language(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from engage_rules.runtime.config import JsonlSource
    from engage_rules.runtime.jsonl_source import JsonlReader

    events = tmp_path / "events.jsonl"
    events.write_text('{"id":"a","type":"x.y","at":"2026-01-01T00:00:00"}\n', "utf-8")
    logged = {}
    previous = current_language()
    for lang in ("en", "zh_CN"):
        caplog.clear()
        set_language(lang)  # the process's language: the reader speaks on its own thread
        try:
            with caplog.at_level("WARNING", "engage_rules.runtime.jsonl"):
                source = JsonlSource(type="jsonl", path=str(events))
                reader = JsonlReader(source, intake=None)  # type: ignore[arg-type]
                reader.start()
                assert reader._thread is not None
                reader._thread.join(timeout=30)  # the file read to its end (follow: false)
        finally:
            set_language(previous)
        assert reader.quarantined == {"bad_time": 1}
        logged[lang] = [r.getMessage() for r in caplog.records]
    assert logged["en"] == [
        "jsonl source: line 1 quarantined: bad_time: `at` must carry a UTC offset (Z or ±HH:MM)"
    ]
    assert len(logged["zh_CN"]) == 1 and "`at` 必须带 UTC 偏移（Z 或 ±HH:MM）" in logged["zh_CN"][0]


@pytest.mark.e2e
def test_the_webhook_logs_a_quarantined_delivery_in_chinese_and_answers_in_english(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from engage_rules.testing import RecordingPlatform, live_service
    from runtime_helpers import ENV, PLATFORM_SECRET, write_setup

    previous = current_language()
    with RecordingPlatform(secret=PLATFORM_SECRET) as platform:
        set_language("zh_CN")  # the process's: the server answers on its own threads
        try:
            with (
                caplog.at_level("WARNING", "engage_rules"),
                live_service(write_setup(tmp_path, platform.url), env=ENV) as live,
            ):
                event = {**live.event_obj("message.posted", id="e9"), "at": "2026-03-02T10:00:00"}
                status, body = live.post(event)
        finally:
            set_language(previous)
    english = "`at` must carry a UTC offset (Z or ±HH:MM)"
    assert (status, body) == (
        400,
        {"status": "quarantined", "reason": "bad_time", "message": english},
    )
    logged = [r.getMessage() for r in caplog.records if "bad_time" in r.getMessage()]
    assert len(logged) == 1 and "`at` 必须带 UTC 偏移（Z 或 ±HH:MM）" in logged[0], logged


def test_a_plugin_describes_its_adapters_and_event_types_in_the_current_language() -> None:
    from engage_rules.plugin_api import hookimpl
    from engage_rules.plugins import build_registry

    def words(english: str, chinese: str) -> Callable[[], str]:
        return lambda: chinese if current_language() == "zh_CN" else english

    def adapters(self: object, register: Callable[..., None]) -> None:
        register("pager", lambda settings: None, words("pages people", "呼叫大家"))

    def event_types(self: object, register: Callable[..., None]) -> None:
        register("pager.paged", words("someone was paged", "有人被呼叫了"))
        register("pager.plain", "a member joined the community")  # the core's catalog

    plugin = type(
        "Pager",
        (),
        {"register_adapters": hookimpl(adapters), "register_event_types": hookimpl(event_types)},
    )()
    registry = build_registry([("pager", plugin)], installed=False)
    told = {}
    for lang in ("en", "zh_CN"):
        with use_language(lang):
            told[lang] = [
                registry.adapters["pager"].description_text(),
                registry.event_types["pager.paged"].description_text(),
                registry.event_types["pager.plain"].description_text(),
            ]
    assert told["en"] == ["pages people", "someone was paged", "a member joined the community"]
    assert told["zh_CN"] == ["呼叫大家", "有人被呼叫了", "成员加入了社群"]
    listed = run_cli("--lang", "zh_CN", "plugins", "-v", registry=registry).stdout
    assert re.search(r"^    pager\.paged +有人被呼叫了$", listed, re.M)


def test_the_platform_plugins_describe_their_adapters_and_events_in_chinese() -> None:
    chinese = run_cli("--lang", "zh_CN", "plugins", "-v").stdout
    english = run_cli("plugins", "-v").stdout
    assert re.search(r"^    telegram +Telegram Bot API：接收群消息", chinese, re.M)
    assert re.search(r"^    discord +Discord：从网关接收消息", chinese, re.M)
    assert re.search(r"^    onebot\.poke +成员在 QQ 群里戳了另一位成员（戳一戳）", chinese, re.M)
    assert re.search(r"^    onebot\.poke +a member poked another in a QQ group", english, re.M)
