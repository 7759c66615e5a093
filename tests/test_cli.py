"""The ``engage-rules`` command line (docs/reference.md §6, §7): validate, schema and replay."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from engage_rules.cli import main
from engage_rules.testing import CliResult, run_cli

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "rules" / "starter" / "community.yaml"
SAMPLE = ROOT / "examples" / "starter-events.jsonl"
PROBLEM_RE = re.compile(r"^.+:\d+:\d+: .+$")
ACTION_FIELDS = {"key", "type", "member", "rule", "cause", "at", "params", "community"}
MEMBER_FIELDS = {
    "balances",
    "level",
    "level_name",
    "badges",
    "titles",
    "tags",
    "strikes",
    "status",
    "opted_out",
    "flows",
    "attrs",
}

BROKEN = """\
engage_rules: 1
name: broken
community: {name: t, timezone: Asia/Shanghai}
rules:
  - id: post
    on: message.posted
    priorty: 5
    cooldown: 60 seconds
    do:
      - awrd: {points: 5, reason: x}
"""


def cli(*args: str, stdin: bytes | None = None, cwd: Path = ROOT) -> CliResult:
    """``engage-rules ARGS`` run in this process (the kit's run_cli)."""
    return run_cli(*args, stdin=stdin, cwd=cwd)


def jsonl(text: str) -> list[dict[str, Any]]:
    assert text == "" or text.endswith("\n")
    return [json.loads(x) for x in text.splitlines()]


@pytest.fixture(scope="module")
def sample_replay() -> CliResult:
    return cli("replay", str(STARTER), str(SAMPLE))


def write_events(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text(
        "\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8"
    )
    return path


# -- validate -------------------------------------------------------------------------


def test_validate_valid_playbook_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(STARTER)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert not any(PROBLEM_RE.match(x) for x in captured.err.splitlines())


def test_validate_quiet_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-q", str(STARTER)]) == 0
    assert capsys.readouterr() == ("", "")


def test_validate_broken_playbook_reports_each_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    proc = cli("validate", str(path))
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 3, proc.stderr
    for x in lines:
        assert PROBLEM_RE.match(x), x
        assert x.startswith(f"{path}:")
    located = {int(x[len(str(path)) + 1 :].split(":")[0]): x for x in lines}
    assert sorted(located) == [7, 8, 10]
    assert "priorty" in located[7] and "priority" in located[7]  # did-you-mean
    assert "60 seconds" in located[8] and "duration" in located[8]
    assert "awrd" in located[10] and "award" in located[10]
    # Columns point at the offending node.
    assert located[7].startswith(f"{path}:7:5: ")
    assert located[10].startswith(f"{path}:10:9: ")


def test_validate_several_paths_reports_only_the_broken_one(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    proc = cli("validate", str(STARTER), str(path))
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 3 and all(x.startswith(f"{path}:") for x in lines)


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["validate", str(missing)]) == 1
    err = capsys.readouterr().err.strip()
    assert str(missing) in err
    assert re.search(r"no such file|not found|cannot read", err, re.IGNORECASE), err
    assert "Traceback" not in err


# -- schema ---------------------------------------------------------------------------


def test_schema_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert isinstance(schema, dict)
    assert "json-schema.org" in schema["$schema"]
    assert schema.get("type") == "object" or "properties" in schema


@pytest.mark.slow
@pytest.mark.subprocess
def test_the_installed_console_script_runs_the_cli() -> None:
    """The ``engage-rules`` script the package installs (the other tests call ``main``
    in this process): its output, and its exit code on a usage error."""
    script = Path(sys.executable).with_name("engage-rules")
    assert script.exists(), f"no console script beside {sys.executable}"
    proc = subprocess.run(
        [str(script), "schema"], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "$schema" in json.loads(proc.stdout)
    bad = subprocess.run(
        [str(script), "no-such-command"], capture_output=True, text=True, check=False, timeout=120
    )
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


# -- replay of the sample -------------------------------------------------------------


def test_replay_sample_outputs_design_shaped_actions(
    sample_replay: CliResult,
) -> None:
    assert sample_replay.returncode == 0, sample_replay.stderr
    actions = jsonl(sample_replay.stdout)
    assert actions
    for a in actions:
        assert set(a) == ACTION_FIELDS, a
        assert isinstance(a["key"], str) and a["key"]
        assert isinstance(a["params"], dict)
        assert a["community"] == "photo"
        assert a["at"][-6:] in ("+08:00", "+00:00") or a["at"].endswith("Z")
    assert len({a["key"] for a in actions}) == len(actions)  # keys are unique
    seen = Counter(a["type"] for a in actions)
    for t in (
        "send",
        "tag",
        "award",
        "delete_message",
        "strike",
        "warn",
        "mute",
        "ban",
        "spend",
        "reply",
        "revoke",
        "untag",
        "unmute",
    ):
        assert seen[t] >= 1, t


def test_replay_sample_summary_counts(sample_replay: CliResult) -> None:
    err = sample_replay.stderr
    total_lines = sum(1 for x in SAMPLE.read_text(encoding="utf-8").splitlines() if x.strip())
    m = re.search(r"(\d+) read, (\d+) processed, (\d+) duplicate, (\d+) quarantined", err)
    assert m, err
    read, processed, duplicate, quarantined = map(int, m.groups())
    assert quarantined == 3
    assert duplicate == 1
    assert read == total_lines
    assert processed == total_lines - quarantined - duplicate
    # The three malformed lines, by reason and line number (the generator inserts them
    # at indexes 40, 80 and 120).
    assert re.search(r"bad_time: 2 \(lines 41, 81\)", err), err
    assert re.search(r"bad_json: 1 \(lines 121\)", err), err
    # Actions by type agree with stdout.
    actions = jsonl(sample_replay.stdout)
    m = re.search(r"^actions: (\d+) \((.*)\)$", err, re.MULTILINE)
    assert m, err
    assert int(m.group(1)) == len(actions)
    by_type = dict(part.split(": ") for part in m.group(2).split(", "))
    assert {k: int(v) for k, v in by_type.items()} == Counter(a["type"] for a in actions)


def test_replay_is_deterministic(sample_replay: CliResult) -> None:
    again = cli("replay", str(STARTER), str(SAMPLE))
    assert again.returncode == 0
    assert again.stdout == sample_replay.stdout


def test_replay_stdin_matches_file(sample_replay: CliResult) -> None:
    proc = cli("replay", str(STARTER), "-", stdin=SAMPLE.read_bytes())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == sample_replay.stdout
    assert re.search(r"\b1 duplicate, 3 quarantined", proc.stderr)


def test_replay_actions_out_and_state_out(tmp_path: Path, sample_replay: CliResult) -> None:
    actions_out = tmp_path / "actions.jsonl"
    state_out = tmp_path / "state.json"
    proc = cli(
        "replay",
        str(STARTER),
        str(SAMPLE),
        "--actions-out",
        str(actions_out),
        "--state-out",
        str(state_out),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert actions_out.read_text(encoding="utf-8") == sample_replay.stdout
    state = json.loads(state_out.read_text(encoding="utf-8"))
    assert set(state) == {"members", "community"}
    members = state["members"]
    assert {f"u{i}" for i in range(1, 21)} | {"u99"} <= set(members)
    for mid, m in members.items():
        assert set(m) >= MEMBER_FIELDS, mid
        assert isinstance(m["balances"], dict)
        assert isinstance(m["badges"], list) and isinstance(m["tags"], list)
        assert isinstance(m["strikes"], int)
        assert m["status"] in ("active", "muted", "banned", "left")
        assert isinstance(m["opted_out"], bool)
    # The flooder got a strike (expired since: strikes last 30 days); someone got banned
    # by the ladder; an admin was not touched.
    assert any(
        a["rule"] == "flood" and a["member"] == "u5" and a["type"] == "strike"
        for a in jsonl(sample_replay.stdout)
    )
    assert any(m["status"] == "banned" for m in members.values())
    assert members["u99"]["strikes"] == 0 and members["u99"]["status"] == "active"


def test_replay_until_fires_tag_expiry(tmp_path: Path) -> None:
    events = write_events(
        tmp_path / "join.jsonl",
        [
            {
                "id": "j1",
                "type": "member.joined",
                "at": "2026-03-02T10:00:00+08:00",
                "member": {"id": "u1"},
            },
        ],
    )
    early = cli("replay", str(STARTER), str(events), "--until", "2026-03-08T10:00:00+08:00")
    late = cli(
        "replay",
        str(STARTER),
        str(events),
        "--until",
        "2026-03-09T10:00:01+08:00",
        "--state-out",
        str(tmp_path / "s.json"),
    )
    assert early.returncode == late.returncode == 0

    # (the welcome rule's own actions, and what follows from them: not the onboarding
    # flow's or the schedules')
    def welcome(out: str) -> list[dict[str, Any]]:
        return [a for a in jsonl(out) if a["rule"] == "welcome" or a["type"] == "untag"]

    assert [a["type"] for a in welcome(early.stdout)] == ["send", "tag", "start_flow"]
    late_actions = welcome(late.stdout)
    assert [a["type"] for a in late_actions] == ["send", "tag", "start_flow", "untag"]
    untag = late_actions[3]
    assert untag["member"] == "u1" and untag["params"]["name"] == "newcomer"
    assert untag["at"] == "2026-03-09T10:00:00+08:00"
    state = json.loads((tmp_path / "s.json").read_text())
    assert "newcomer" not in state["members"]["u1"]["tags"]


def test_replay_until_needs_an_offset(tmp_path: Path) -> None:
    events = write_events(tmp_path / "e.jsonl", [])
    proc = cli("replay", str(STARTER), str(events), "--until", "2026-03-09T10:00:00")
    assert proc.returncode != 0
    assert "offset" in proc.stderr


def test_replay_unmute_after_until(tmp_path: Path) -> None:
    posts = [
        {
            "id": f"p{i}",
            "type": "message.posted",
            "at": f"2026-03-02T10:0{i}:00+08:00",
            "member": {"id": "u1"},
            "data": {"text": "加微信", "message_id": f"m{i}"},
        }
        for i in range(2)
    ]
    events = write_events(tmp_path / "spam.jsonl", posts)
    state_out = tmp_path / "s.json"
    muted = cli("replay", str(STARTER), str(events), "--state-out", str(state_out))
    assert [a["type"] for a in jsonl(muted.stdout)].count("unmute") == 0
    assert json.loads(state_out.read_text())["members"]["u1"]["status"] == "muted"
    freed = cli(
        "replay",
        str(STARTER),
        str(events),
        "--until",
        "2026-03-02T12:00:00+08:00",
        "--state-out",
        str(state_out),
    )
    types = [a["type"] for a in jsonl(freed.stdout)]
    assert types[-1] == "unmute"
    assert json.loads(state_out.read_text())["members"]["u1"]["status"] == "active"


def test_replay_invalid_playbook_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    proc = cli("replay", str(path), str(SAMPLE))
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 3
    assert all(PROBLEM_RE.match(x) and x.startswith(f"{path}:") for x in lines)


def test_replay_missing_playbook_exits_1(tmp_path: Path) -> None:
    proc = cli("replay", str(tmp_path / "nope.yaml"), str(SAMPLE))
    assert proc.returncode == 1
    assert "nope.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_replay_sqlite_store_is_idempotent(tmp_path: Path, sample_replay: CliResult) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    assert url.startswith("sqlite:////")
    first = cli(
        "replay",
        str(STARTER),
        str(SAMPLE),
        "--store",
        url,
        "--state-out",
        str(tmp_path / "s1.json"),
    )
    second = cli(
        "replay",
        str(STARTER),
        str(SAMPLE),
        "--store",
        url,
        "--state-out",
        str(tmp_path / "s2.json"),
    )
    assert first.returncode == second.returncode == 0, second.stderr
    assert first.stdout == sample_replay.stdout  # same actions as the memory store
    # Nothing is applied twice, and the replay's output is the same (printed from the
    # store: see replay_output.py).
    assert second.stdout == first.stdout
    assert "were printed again" in second.stderr
    lines = sum(1 for x in SAMPLE.read_text(encoding="utf-8").splitlines() if x.strip())
    assert re.search(rf"\b0 processed, {lines - 3} duplicate, 3 quarantined", second.stderr), (
        second.stderr
    )
    s1 = json.loads((tmp_path / "s1.json").read_text())
    s2 = json.loads((tmp_path / "s2.json").read_text())
    assert s1 == s2
    assert s1["members"]["u1"]["balances"]


@pytest.mark.parametrize("url", ["bogus://x", "nonsense", "state.db"])
def test_replay_bad_store_url(tmp_path: Path, url: str) -> None:
    proc = cli("replay", str(STARTER), str(SAMPLE), "--store", url, cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert "store" in proc.stderr.lower() and "sqlite" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_replay_missing_events_file(tmp_path: Path) -> None:
    proc = cli("replay", str(STARTER), str(tmp_path / "none.jsonl"))
    assert proc.returncode != 0
    assert "none.jsonl" in proc.stderr or "No such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_replay_quarantined_only_stream_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('not json\n{"id": "a"}\n\n[]\n', encoding="utf-8")
    proc = cli("replay", str(STARTER), str(path))
    assert proc.returncode == 0
    assert proc.stdout == ""
    assert re.search(r"\b3 read, 0 processed, 0 duplicate, 3 quarantined", proc.stderr), proc.stderr
    assert re.search(r"line 4: not_object", proc.stderr)


def test_action_keys_do_not_depend_on_the_playbook_path(
    tmp_path: Path, sample_replay: CliResult
) -> None:
    elsewhere = tmp_path / "deep" / "renamed.yaml"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(STARTER.read_bytes())
    proc = cli("replay", str(elsewhere), str(SAMPLE), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == sample_replay.stdout


def test_state_out_with_several_communities(tmp_path: Path) -> None:
    events = write_events(
        tmp_path / "two.jsonl",
        [
            {
                "id": "a",
                "type": "member.joined",
                "at": "2026-03-02T10:00:00Z",
                "community": "c1",
                "member": {"id": "u1"},
            },
            {
                "id": "b",
                "type": "checkin",
                "at": "2026-03-02T10:00:01Z",
                "community": "c2",
                "member": {"id": "u1"},
            },
        ],
    )
    state_out = tmp_path / "s.json"
    proc = cli("replay", str(STARTER), str(events), "--state-out", str(state_out))
    assert proc.returncode == 0, proc.stderr
    assert [
        (a["community"], a["type"])
        for a in jsonl(proc.stdout)
        if a["rule"] in ("welcome", "daily-checkin")
    ] == [("c1", "send"), ("c1", "tag"), ("c1", "start_flow"), ("c2", "award")]
    state = json.loads(state_out.read_text())
    assert set(state) == {"communities"}
    c1, c2 = state["communities"]["c1"], state["communities"]["c2"]
    assert set(c1) == set(c2) == {"members", "community"}
    assert c1["members"]["u1"]["tags"] == ["newcomer"] and c1["members"]["u1"]["balances"] == {}
    assert c2["members"]["u1"]["tags"] == [] and c2["members"]["u1"]["balances"] == {"points": 2}


def test_empty_stream(tmp_path: Path) -> None:
    events = tmp_path / "empty.jsonl"
    events.write_text("\n\n", encoding="utf-8")
    state_out = tmp_path / "s.json"
    proc = cli("replay", str(STARTER), str(events), "--state-out", str(state_out))
    assert proc.returncode == 0 and proc.stdout == ""
    assert re.search(r"\b0 read, 0 processed, 0 duplicate, 0 quarantined", proc.stderr)
    assert json.loads(state_out.read_text()) == {"members": {}, "community": {}}


def test_replay_batch_size_option(tmp_path: Path) -> None:
    bad = cli("replay", str(STARTER), str(SAMPLE), "--batch-size", "0")
    assert bad.returncode == 2 and "--batch-size" in bad.stderr
    db = tmp_path / "b.db"
    small = cli(
        "replay", str(STARTER), str(SAMPLE), "--store", f"sqlite:///{db}", "--batch-size", "7"
    )
    default = cli("replay", str(STARTER), str(SAMPLE))
    assert small.returncode == 0 and small.stdout == default.stdout
