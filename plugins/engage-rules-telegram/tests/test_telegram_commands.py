"""``engage-rules telegram map`` and ``engage-rules telegram import``, on good and bad
files (in process, through the installed plugin's ``register_commands``)."""

from __future__ import annotations

import json
from pathlib import Path

from engage_rules.testing import run_cli

DATA = Path(__file__).parent / "data"
CHAT = -1001234567890


def _line(name: str) -> str:
    return json.dumps(json.loads((DATA / f"{name}.json").read_text("utf-8")), ensure_ascii=False)


def test_map_prints_the_events_the_adapter_makes_and_says_why_others_make_none(
    tmp_path: Path,
) -> None:
    payloads = tmp_path / "updates.jsonl"
    lines = [
        _line("message_text_link"),
        "",
        _line("pinned_service_message"),
        "{not json",
        '{"update_id": "7"}',
        _line("album_1"),
        _line("album_2"),
        _line("edited_message_ad"),
    ]
    payloads.write_text("\n".join(lines) + "\n", "utf-8")
    got = run_cli("telegram", "map", payloads, f"--chat={CHAT}=fans")
    assert got.returncode == 0
    events = got.jsonl()
    assert [(e["type"], e["data"]["message_id"]) for e in events] == [
        ("message.posted", "4530"),
        ("message.posted", "4540"),
        ("message.edited", "4532"),
    ]
    assert events[0]["community"] == "fans"
    assert events[0]["data"]["links"] == ["https://bit.ly/3xYzAbc", "https://cheap-lens.shop/free"]
    err = got.stderr.splitlines()
    assert f"{payloads}:3: no event: a service message" in err
    assert any(line.startswith(f"{payloads}:4: not JSON:") for line in err)
    assert (
        f"{payloads}:5: cannot read this payload: update_id: expected an integer, got a string"
        in err
    )
    album = "a later item of the album 13962448765432101 (not a post of its own)"
    assert f"{payloads}:7: no event: {album}" in err
    assert err[-1] == f"{payloads}: 8 line(s), 3 event(s)"


def test_map_of_a_missing_file_fails(tmp_path: Path) -> None:
    got = run_cli("telegram", "map", tmp_path / "nope.jsonl")
    assert got.returncode == 1
    assert "cannot read" in got.stderr
    assert got.stdout == ""


def test_map_rejects_a_bad_chat_option(tmp_path: Path) -> None:
    payloads = tmp_path / "u.jsonl"
    payloads.write_text("", "utf-8")
    assert run_cli("telegram", "map", payloads, "--chat", "fans").returncode == 2


def test_import_a_desktop_export(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    got = run_cli("telegram", "import", DATA / "telegram_export.json", "-o", out)
    assert got.returncode == 0, got.stderr
    events = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [(e["id"], e["type"]) for e in events] == [
        (f"telegram:{CHAT}:1:joined:6333333333", "member.joined"),
        (f"telegram:{CHAT}:2", "message.posted"),
        (f"telegram:{CHAT}:2:reaction:6098765432:🔥", "reaction.added"),
        (f"telegram:{CHAT}:3", "message.posted"),
        (f"telegram:{CHAT}:4", "message.posted"),
        (f"telegram:{CHAT}:5", "message.posted"),
        (f"telegram:{CHAT}:8:left:6098765432", "member.left"),
    ]
    assert {e["community"] for e in events} == {"Fans 粉丝群"}
    posted, reaction, reply, sticker, forward = events[1:6]
    assert posted["data"]["links"] == ["https://example.com"]
    assert reaction["data"] == {"message_id": "2", "emoji": "🔥", "to_member": "5012345678"}
    assert reaction["at"] == "2026-03-02T12:02:00+00:00"
    assert reply["data"] == {
        "text": "Step 3 worked, 原图",
        "message_id": "3",
        "kind": "text",
        "links": ["https://bit.ly/3xYzAbc"],
        "edited_at": "2026-03-02T12:04:00+00:00",
        "reply_to": "2",
        "reply_to_member": "5012345678",
    }
    assert sticker["data"]["sticker"] == {"emoji": "👍"}
    assert forward["data"]["forwarded"] is True
    assert forward["data"]["kind"] == "photo"
    assert events[-1]["data"] == {"reason": "kicked"}
    assert "messages[6]: left out 'Wei': no single sender of that name" in got.stderr
    assert "messages[9]: left out: messages[9].date_unixtime" in got.stderr


def test_imported_history_replays_through_the_moderation_playbook(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    assert run_cli("telegram", "import", DATA / "telegram_export.json", "-o", out).returncode == 0
    moderation = Path(__file__).resolve().parents[3] / "rules" / "moderation"
    got = run_cli("replay", moderation, out)
    assert got.returncode == 0, got.stderr
    deleted = [a for a in got.jsonl() if a["type"] == "delete_message"]
    assert [(a["member"], a["rule"]) for a in deleted] == [("6098765432", "hidden-links")]


def test_import_names_the_community(tmp_path: Path) -> None:
    got = run_cli("telegram", "import", DATA / "telegram_export.json", "--community", "摄影群")
    assert {e["community"] for e in got.jsonl()} == {"摄影群"}


def test_import_of_what_is_not_an_export_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x"}', "utf-8")
    got = run_cli("telegram", "import", bad)
    assert got.returncode == 1
    assert "not a Telegram Desktop chat export: export.messages" in got.stderr
    bad.write_text("[1, 2", "utf-8")
    assert run_cli("telegram", "import", bad).returncode == 1
    assert run_cli("telegram", "import", tmp_path / "missing.json").returncode == 1
