"""Editor support, checked in the editor's own language server (docs/editors.md).

yaml-language-server — the server VS Code's YAML extension runs, pinned by
tests/editor/package-lock.json — is driven over stdio by tests/editor/driver.mjs, as an
editor drives it: every example playbook under rules/ (through its modeline) must get no
diagnostics; a broken playbook (associated through the ``yaml.schemas`` setting that
docs/editors.md shows) must get the right ones, each naming the key or action at fault;
completion offers each action once; hover shows a key's title and description.

Needs node and npm: ``npm ci`` runs once (in tests/editor when CI installed it there with
``npm ci --prefix tests/editor``, else in a cache directory keyed by the lockfile).
Skipped when npm is missing or the install fails, unless ENGAGE_RULES_EDITOR_TESTS=required
(as in CI).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import pytest

from engage_rules.plugins import default_registry

ROOT = Path(__file__).resolve().parents[1]
EDITOR = ROOT / "tests" / "editor"
SCHEMA = ROOT / "docs" / "playbook.schema.json"
MODELINE = "# yaml-language-server: $schema=../../docs/playbook.schema.json"
PROJECT_FILES = ("package.json", "package-lock.json", "driver.mjs")
SERVER_PACKAGE = Path("node_modules", "yaml-language-server", "package.json")

BROKEN = """\
engage_rules: 1
rules:
  - id: welcome
    on: member.joined
    priorty: 3
    do:
      - awrd: {points: 5}
  - id: nothing-to-do
    on: checkin
    if: member.points > 3
  - id: capped
    on: checkin
    cooldown: 10m
    do:
      - award: {points: 5, bogus: 1}
      - mute: {for: 1 hour}
"""
#: Lines (0-based) of BROKEN's mistakes.
PRIORTY, AWRD, NO_DO, BOGUS, NOT_A_DURATION = 4, 6, 7, 14, 15

COMPLETE = """\
engage_rules: 1
rules:
  - id: r
    on: checkin
    cooldown: 10m
    do:
"""
COMPLETE += "      - \n"  # completion asked after `- `: which action?


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("ENGAGE_RULES_EDITOR_TESTS") == "required":
        pytest.fail(f"{reason} (ENGAGE_RULES_EDITOR_TESTS=required)")
    pytest.skip(f"{reason} (set ENGAGE_RULES_EDITOR_TESTS=required to fail instead)")


def installed(project: Path) -> bool:
    """Whether ``project`` has the yaml-language-server its lockfile pins."""
    lock = json.loads((EDITOR / "package-lock.json").read_text(encoding="utf-8"))
    pinned = lock["packages"]["node_modules/yaml-language-server"]["version"]
    package = project / SERVER_PACKAGE
    return package.is_file() and json.loads(package.read_text())["version"] == pinned


def node_project() -> Path:
    """A directory with the driver and an ``npm ci`` of the lockfile."""
    if shutil.which("node") is None:
        unavailable("node is needed to run yaml-language-server")
    if installed(EDITOR):
        return EDITOR
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is needed to install yaml-language-server")
    digest = hashlib.sha256()
    for name in PROJECT_FILES:
        digest.update((EDITOR / name).read_bytes())
    project = Path(tempfile.gettempdir()) / f"engage-rules-editor-{digest.hexdigest()[:16]}"
    if not installed(project):
        project.mkdir(exist_ok=True)
        for name in PROJECT_FILES:
            shutil.copy(EDITOR / name, project / name)
        done = subprocess.run(
            [str(npm), "ci", "--no-audit", "--no-fund"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not installed(project):
            unavailable(f"npm ci failed: {done.stderr.strip()[-500:]}")
    return project


def run_driver(project: Path, workspace: Path, job: dict[str, Any]) -> dict[str, Any]:
    job_file = workspace / "job.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    done = subprocess.run(
        [shutil.which("node") or "node", str(project / "driver.mjs"), str(job_file)],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def documented_settings() -> dict[str, Any]:
    """The VS Code settings docs/editors.md shows, as `yaml` settings of the server."""
    text = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    block = re.search(r"```json\n(\{.*?\})\n```", text, re.DOTALL)
    assert block, "docs/editors.md shows the VS Code settings in a ```json block"
    settings = json.loads(block.group(1))
    return {
        key.removeprefix("yaml."): value
        for key, value in settings.items()
        if key.startswith("yaml.")
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the server over every document the tests look at."""
    project = node_project()
    workspace = tmp_path_factory.mktemp("workspace")
    # A team's repository as docs/editors.md lays it out: the schema in docs/, playbooks
    # under rules/, the VS Code settings mapping rules/*/community.yaml to the schema.
    (workspace / "docs").mkdir()
    shutil.copy(SCHEMA, workspace / "docs" / "playbook.schema.json")
    for name, text in (("broken", BROKEN), ("complete", COMPLETE)):
        (workspace / "rules" / name).mkdir(parents=True)
        (workspace / "rules" / name / "community.yaml").write_text(text, encoding="utf-8")
    broken = workspace / "rules" / "broken" / "community.yaml"
    complete = workspace / "rules" / "complete" / "community.yaml"
    examples = sorted(ROOT.glob("rules/*/community.yaml"))
    settings = {
        "validate": True,
        "hover": True,
        "completion": True,
        "schemaStore": {"enable": False},
        **documented_settings(),
    }
    job = {
        "settings": settings,
        "documents": [str(p) for p in (*examples, broken, complete)],
        "completions": [{"path": str(complete), "line": 6, "character": 8}],
        "hovers": [
            {"path": str(complete), "line": 4, "character": 6},
            {"path": str(broken), "line": BOGUS, "character": 8},
        ],
    }
    result = run_driver(project, workspace, job)
    result["examples"] = examples
    result["broken"] = result["diagnostics"][str(broken)]
    return result


def test_every_example_playbook_has_no_diagnostics(server: dict[str, Any]) -> None:
    examples: list[Path] = server["examples"]
    assert len(examples) >= 6
    for path in examples:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == MODELINE, f"{path} starts with the modeline"
        assert server["diagnostics"][str(path)] == [], path


def test_a_broken_playbook_gets_the_right_diagnostics(server: dict[str, Any]) -> None:
    found = {(d["line"], d["message"]) for d in server["broken"]}
    assert (PRIORTY, "Property priorty is not allowed.") in found
    assert (AWRD, "Property awrd is not allowed.") in found
    assert (NO_DO, 'Missing property "do".') in found
    assert (BOGUS, "Property bogus is not allowed.") in found
    assert any(line == NOT_A_DURATION and "pattern" in m for line, m in found), found
    assert {line for line, _message in found} == {PRIORTY, AWRD, NO_DO, BOGUS, NOT_A_DURATION}


def test_diagnostics_name_the_action_written_not_every_other_one(server: dict[str, Any]) -> None:
    bogus = [d for d in server["broken"] if d["line"] == BOGUS]
    assert bogus and all("Award" in d["source"] for d in bogus), bogus
    others = set(default_registry().actions) - {"award"}
    for d in server["broken"]:
        text = f"{d['message']} {d['source']}"
        assert "Best Match" not in text and "multiple schemas" not in text, d
        assert not any(re.search(rf"\b{name}\b", d["message"]) for name in others), d


def test_completion_offers_each_action_once(server: dict[str, Any]) -> None:
    (labels,) = server["completions"]
    assert sorted(labels) == sorted(default_registry().actions)
    assert len(labels) == len(set(labels))


def test_hover_shows_the_title_and_description_in_both_languages(
    server: dict[str, Any],
) -> None:
    cooldown, award = server["hovers"]
    assert "Cooldown / 冷却时间" in cooldown
    assert "it waits this long before it runs again" in cooldown
    assert "规则运行后，要等这么久才会再次运行" in cooldown
    assert "Award / 发放" in award and "给成员增加一种货币" in award
    # The title once, not once per alternative of an optional key (`Cooldown || Cooldown`).
    assert cooldown.startswith("#### Cooldown / 冷却时间\n"), cooldown
    assert "||" not in cooldown + award
