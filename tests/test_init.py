"""`engage-rules init`: every template writes a playbook whose tests pass and whose
sample events replay without a rule error, and nothing is ever overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engage_rules.cli import main
from engage_rules.cli.init import TEMPLATES


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
