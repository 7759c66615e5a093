"""`engage-rules init`: every template writes a playbook whose tests pass and whose
sample events replay without a rule error, and nothing is ever overwritten."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engage_rules.cli import main
from engage_rules.cli.init import TEMPLATES
from engage_rules.testing import run_cli


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_passes_its_tests_and_replays(
    template: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "我的读书会"
    assert main(["init", str(root), "--template", template, "--community", "读书会"]) == 0
    out = capsys.readouterr().out
    assert f"engage-rules test {root / 'playbook'}" in out
    folder = root / "playbook"
    parts = TEMPLATES[template]
    assert {p.name for p in folder.iterdir()} == {
        "community.yaml",
        *(f"{p}.yaml" for p in parts),
        *(f"{p}.test.yaml" for p in parts),
    }
    assert "community: {name: 读书会, timezone: Asia/Shanghai}" in (
        folder / "community.yaml"
    ).read_text(encoding="utf-8")
    json.loads((root / "playbook.schema.json").read_text(encoding="utf-8"))
    assert main(["validate", str(folder)]) == 0
    assert main(["test", str(folder)]) == 0
    assert capsys.readouterr().out.endswith(" passed, 0 failed\n")
    assert main(["replay", str(folder), str(root / "events.jsonl")]) == 0
    summary = capsys.readouterr().err
    assert "rule errors: 0" in summary and "0 quarantined" in summary


def test_init_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path), "--template", "points"]) == 0
    (tmp_path / "playbook" / "points.yaml").write_text("# mine\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["init", str(tmp_path), "--template", "full"]) == 1
    err = capsys.readouterr().err
    assert "points.yaml exists; init never overwrites a file" in err
    assert (tmp_path / "playbook" / "points.yaml").read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "playbook" / "moderation.yaml").exists()


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_in_chinese_init_writes_the_same_playbook_told_in_chinese(
    template: str, tmp_path: Path
) -> None:
    english, chinese = tmp_path / "en" / "club", tmp_path / "zh" / "club"  # one name
    assert run_cli("init", english, "--template", template).returncode == 0
    made = run_cli("--lang", "zh_CN", "init", chinese, "--template", template)
    assert made.returncode == 0 and "下一步：" in made.stdout
    for path in sorted((chinese / "playbook").iterdir()):
        text = path.read_text(encoding="utf-8")
        assert text != (english / "playbook" / path.name).read_text(encoding="utf-8")
        told = [
            line
            for line in text.splitlines()
            if line.lstrip().startswith(("#", "description:", "- name:"))
            and "engage-rules " not in line
            and "yaml-language-server" not in line
            and line.strip() != "#"
        ]
        assert told and all(re.search(r"[\u4e00-\u9fff]", line) for line in told), path
    tested = run_cli("--lang", "zh_CN", "test", chinese / "playbook")
    assert tested.returncode == 0 and tested.stdout.endswith(" 个通过，0 个失败\n")
    replays = [
        run_cli("replay", root / "playbook", root / "events.jsonl") for root in (english, chinese)
    ]
    assert replays[0].returncode == replays[1].returncode == 0
    assert replays[0].jsonl() == replays[1].jsonl() != []
