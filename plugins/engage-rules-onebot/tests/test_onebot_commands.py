"""``engage-rules onebot map`` and ``engage-rules onebot import``, run as the CLI runs
them (the command is registered by the plugin's ``register_commands`` hook)."""

from __future__ import annotations

import json
from pathlib import Path

from engage_rules.testing import run_cli

DATA = Path(__file__).parent / "data"


def line(name: str) -> str:
    return json.dumps(json.loads((DATA / f"{name}.json").read_text("utf-8")), ensure_ascii=False)


def test_map_prints_events_notes_and_bad_lines(tmp_path: Path) -> None:
    payloads = tmp_path / "payloads.jsonl"
    payloads.write_text(
        "\n".join(
            [
                line("group_message_array"),
                line("heartbeat"),
                "{broken",
                "",
                json.dumps({"post_type": "notice", "time": 1, "self_id": 1, "notice_type": 5}),
                line("group_recall"),
            ]
        )
        + "\n",
        "utf-8",
    )
    result = run_cli("onebot", "map", payloads, "--group", "123456=fans")
    assert result.returncode == 0, result.stderr
    events = result.jsonl()
    assert [(e["id"], e["type"], e["community"]) for e in events] == [
        ("onebot:123456:-2147480000", "message.posted", "fans"),
        ("onebot:123456:42:recalled", "message.deleted", "fans"),
    ]
    notes = result.stderr.splitlines()
    assert notes[0] == f"{payloads}:2: maps to no event (meta_event payload)"
    assert notes[1].startswith(f"{payloads}:3: not JSON")
    assert notes[2].startswith(f"{payloads}:5: ") and "notice_type" in notes[2]
    assert len(notes) == 3


def test_map_output_replays(tmp_path: Path) -> None:
    payloads = tmp_path / "p.jsonl"
    payloads.write_text(line("group_increase_invite") + "\n", "utf-8")
    result = run_cli("onebot", "map", payloads)
    event = result.jsonl()[0]
    assert event["member"] == {"id": "40004000"}
    assert event["data"] == {"how": "invite", "inviter": "30003000"}


def test_map_of_a_missing_file_fails(tmp_path: Path) -> None:
    result = run_cli("onebot", "map", tmp_path / "nope.jsonl")
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_map_refuses_a_bad_group_option(tmp_path: Path) -> None:
    payloads = tmp_path / "p.jsonl"
    payloads.write_text("", "utf-8")
    result = run_cli("onebot", "map", payloads, "--group", "fans")
    assert result.returncode == 2
    assert "NUMBER=COMMUNITY" in result.stderr


def history(*names: str) -> dict[str, object]:
    messages = [json.loads((DATA / f"{n}.json").read_text("utf-8")) for n in names]
    return {"status": "ok", "retcode": 0, "data": {"messages": messages}}


def test_import_a_message_history(tmp_path: Path) -> None:
    export = tmp_path / "history.json"
    export.write_text(
        json.dumps(history("group_message_array", "group_message_cq_string")), "utf-8"
    )
    result = run_cli("onebot", "import", export)
    assert result.returncode == 0, result.stderr
    assert [e["id"] for e in result.jsonl()] == [
        "onebot:123456:-2147480000",
        "onebot:123456:42",
    ]
    pages = tmp_path / "pages.json"
    pages.write_text(
        json.dumps([history("group_message_array"), history("group_message_anonymous")]), "utf-8"
    )
    result = run_cli("onebot", "import", pages)
    assert [e["id"] for e in result.jsonl()] == ["onebot:123456:-2147480000"]
    assert "message 2: maps to no event" in result.stderr


def test_import_a_history_as_go_cqhttp_answers_it(tmp_path: Path) -> None:
    export = DATA / "history_gocqhttp.json"  # cites its source in `_source`
    result = run_cli("onebot", "import", export, "--group", "123456=fans")
    assert result.returncode == 0, result.stderr
    [event] = result.jsonl()
    assert event == {
        "id": "onebot:123456:-1933705727",
        "type": "message.posted",
        "at": "2023-11-14T22:15:00+00:00",
        "community": "fans",
        "platform": "onebot",
        "channel": "123456",
        "member": {"id": "20002000", "name": "王同学", "roles": ["admin"]},
        "data": {
            "text": "同意，资料在 https://docs.example.cn/qq 里",
            "message_id": "-1933705727",
            "kind": "text",
            "reply_to": "-1048576",
            "links": ["https://docs.example.cn/qq"],
        },
    }
    # The bot's own message and the anonymous one map to nothing, each with a note.
    notes = result.stderr.splitlines()
    assert notes == [
        f"{export}: message 2: maps to no event (message_sent payload)",
        f"{export}: message 3: maps to no event (message payload)",
    ]


def test_import_refuses_what_is_not_a_history(tmp_path: Path) -> None:
    export = tmp_path / "x.json"
    export.write_text(json.dumps({"data": {"msgs": []}}), "utf-8")
    result = run_cli("onebot", "import", export)
    assert result.returncode == 2
    assert "data.messages" in result.stderr
    export.write_text("[{", "utf-8")
    assert run_cli("onebot", "import", export).returncode == 2
