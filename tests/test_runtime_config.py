"""The runtime config: secrets from the environment, defaults, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from engage_rules.runtime.config import (
    ConfigError,
    JsonlSource,
    WebhookSource,
    load_config,
)

ENV = {"HOOK_SECRET": "0123456789abcdef-hook", "API_TOKEN": "tok-123"}

GOOD = """\
playbook: rules/community.yaml
store: sqlite:///state/live.db
sources:
  - type: webhook
    listen: 127.0.0.1:0
    secret_env: HOOK_SECRET
    window: 2m
  - type: jsonl
    path: events.jsonl
adapters:
  platform:
    type: webhook
    base_url: http://127.0.0.1:9000/${API_TOKEN}
    secret_env: API_TOKEN
    rate_limit: {rate: 30, burst: 30}
  console: {}
dispatch:
  default: platform
  communities: {fans: console}
  retry: {base: 2s, max_delay: 1m}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "live.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_config_reads_secrets_from_the_environment(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), ENV)
    hook, jsonl = config.sources
    assert isinstance(hook, WebhookSource) and isinstance(jsonl, JsonlSource)
    assert hook.secret == ENV["HOOK_SECRET"] and hook.window == 120.0
    assert hook.address() == ("127.0.0.1", 0)
    platform = config.adapters["platform"]
    assert platform.settings("platform") == {
        "base_url": "http://127.0.0.1:9000/tok-123",
        "secret": "tok-123",
        "platform": "platform",
    }
    assert platform.rate_limit is not None and platform.rate_limit.rate == 30
    assert config.adapter_type("console") == "console"
    assert config.playbook_path() == (tmp_path / "rules" / "community.yaml").resolve()
    assert config.dispatch.retry.base == 2.0 and config.dispatch.retry.max_delay == 60.0
    assert config.dispatch.workers == 4  # a default


def test_missing_environment_variables_are_located_errors(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    lines = [str(p) for p in info.value.problems]
    assert lines == [
        f"{path}:6:17: environment variable HOOK_SECRET is not set (needed by secret_env)",
        f"{path}:13:15: environment variable API_TOKEN is not set",
        f"{path}:14:17: environment variable API_TOKEN is not set (needed by secret_env)",
    ]


def test_unknown_settings_bad_values_and_dangling_references_are_located(tmp_path: Path) -> None:
    text = (
        GOOD.replace("    window: 2m\n", "    window: soon\n    colour: red\n")
        .replace("  default: platform", "  default: platfrom")
        .replace("listen: 127.0.0.1:0", "listen: nowhere")
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, ENV)
    lines = [str(p) for p in info.value.problems]
    assert any(
        line.startswith(f"{path}:7:13: sources.0.window: ") and "duration" in line for line in lines
    ), lines
    assert f"{path}:8:5: unknown setting `colour`" in lines


def test_cross_references_are_checked(tmp_path: Path) -> None:
    text = GOOD.replace("  default: platform", "  default: platfrom").replace(
        "listen: 127.0.0.1:0", "listen: nowhere"
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, ENV)
    lines = [str(p) for p in info.value.problems]
    assert f"{path}:5:13: listen 'nowhere' must be HOST:PORT" in lines
    assert any(
        line.startswith(f"{path}:18:12: dispatch.default names no configured adapter: 'platfrom'")
        for line in lines
    ), lines


def test_required_sections_and_short_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, "playbook: p.yaml\nsources:\n  - type: webhook\n    secret: short\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ENV)
    lines = [str(p) for p in info.value.problems]
    assert f"{path}:1:1: missing required setting `adapters`" in lines
    assert any(line.startswith(f"{path}:4:13: sources.0.secret: ") for line in lines), lines


def test_yaml_syntax_errors_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "playbook: [\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ENV)
    assert str(info.value.problems[0]).startswith(f"{path}:")


def test_run_reports_config_and_setup_problems_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engage_rules.cli import main

    path = write(tmp_path, GOOD)
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    monkeypatch.setenv("API_TOKEN", "t")
    assert main(["run", "--config", str(path)]) == 1
    assert f"{path}:6:17: environment variable HOOK_SECRET is not set" in capsys.readouterr().err

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "community.yaml").write_text(
        "engage_rules: 1\nname: t\ncommunity: {name: x, timezone: UTC}\nrules:\n"
        "  - id: r\n    on: message.posted\n    do:\n      - kick: {}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HOOK_SECRET", ENV["HOOK_SECRET"])
    path.write_text(
        GOOD.replace("  console: {}\n", "")
        .replace("  communities: {fans: console}\n", "")
        .replace(
            "    secret_env: API_TOKEN\n", "    secret_env: API_TOKEN\n    capabilities: [send]\n"
        )
    )
    assert main(["run", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'rules' / 'community.yaml'}:8:9: action `kick` is not supported" in err
