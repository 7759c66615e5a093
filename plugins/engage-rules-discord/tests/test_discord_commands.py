"""``engage-rules discord map`` and ``engage-rules discord import``, on good and bad files
(in process, through the installed plugin's ``register_commands``)."""

from __future__ import annotations

import json
from pathlib import Path

from engage_rules.testing import run_cli

DATA = Path(__file__).parent / "data"
GUILD = "81384788765712384"


def _line(name: str) -> str:
    return json.dumps(json.loads((DATA / f"{name}.json").read_text("utf-8")), ensure_ascii=False)


def test_map_prints_the_events_the_adapter_makes_and_says_why_others_make_none(
    tmp_path: Path,
) -> None:
    payloads = tmp_path / "gateway.jsonl"
    lines = [
        _line("thread_create"),
        _line("message_in_thread"),
        _line("heartbeat_ack"),
        "[oops",
        '{"op": 0, "t": "MESSAGE_CREATE", "d": {"id": "x"}}',
        _line("message_update_edit"),
        '{"t": "MESSAGE_CREATE", "d": '
        + json.dumps(json.loads(_line("message_sticker"))["d"])
        + "}",
    ]
    payloads.write_text("\n".join(lines) + "\n", "utf-8")
    got = run_cli(
        "discord", "map", payloads, f"--guild={GUILD}=fans", "--channel=1301000000000000001=general"
    )
    assert got.returncode == 0
    events = got.jsonl()
    assert [(e["type"], e["channel"]) for e in events] == [
        ("message.posted", "general"),
        ("message.edited", "general"),
        ("message.posted", "general"),
    ]
    assert events[0]["data"]["thread"] == "1478003100000000000"
    err = got.stderr.splitlines()
    assert f"{payloads}:1: no event: 1 thread(s) learned (messages in them get their parent)" in err
    assert f"{payloads}:3: no event: opcode 11: not a dispatch" in err
    assert any(line.startswith(f"{payloads}:4: not JSON:") for line in err)
    assert f"{payloads}:5: cannot read this payload: d.id: 'x' is not a snowflake id" in err
    assert err[-1] == f"{payloads}: 7 line(s), 3 event(s)"


def test_map_of_a_missing_file_fails(tmp_path: Path) -> None:
    got = run_cli("discord", "map", tmp_path / "nope.jsonl")
    assert got.returncode == 1
    assert "cannot read" in got.stderr


def test_map_rejects_a_bad_guild_option(tmp_path: Path) -> None:
    payloads = tmp_path / "g.jsonl"
    payloads.write_text("", "utf-8")
    assert run_cli("discord", "map", payloads, "--guild", "fans").returncode == 2


def test_import_a_discordchatexporter_export(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    got = run_cli("discord", "import", DATA / "discord_export.json", "-o", out)
    assert got.returncode == 0, got.stderr
    events = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [(e["id"], e["type"]) for e in events] == [
        (f"discord:{GUILD}:joined:1112223334445556667:1772452800000", "member.joined"),
        ("discord:1478002685239230471", "message.posted"),
        ("discord:1478002685239230471:reaction:1112223334445556667:🔥", "reaction.added"),
        ("discord:1478002938294173705", "message.posted"),
    ]
    assert {e["community"] for e in events} == {"Fans 粉丝服"}
    posted, reaction, reply = events[1:]
    assert posted["member"]["name"] == "阿明"
    assert posted["member"]["roles"] == ["member"]
    assert posted["data"] == {
        "text": "大家好！今天分享一个教程 https://example.com",
        "message_id": "1478002685239230471",
        "links": ["https://example.com"],
        "attachments": 1,
        "edited_at": "2026-03-02T12:20:05.500000+00:00",
    }
    assert reaction["data"]["to_member"] == "1067468743521075230"
    assert reply["data"]["reply_to_member"] == "1067468743521075230"
    assert reply["data"]["sticker"] == {"id": "749054660769218631", "name": "Wave"}
    assert "messages[5]: left out: messages[5].id: 'not-a-snowflake' is not a snowflake id" in (
        got.stderr
    )


def test_import_names_the_community() -> None:
    got = run_cli("discord", "import", DATA / "discord_export.json", "--community", "摄影服")
    assert {e["community"] for e in got.jsonl()} == {"摄影服"}


def test_import_of_what_is_not_an_export_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"guild": {"id": "1"}, "channel": {"id": "2"}}', "utf-8")
    got = run_cli("discord", "import", bad)
    assert got.returncode == 1
    assert "not a DiscordChatExporter JSON export: export.messages" in got.stderr
    bad.write_text("{", "utf-8")
    assert run_cli("discord", "import", bad).returncode == 1
    assert run_cli("discord", "import", tmp_path / "missing.json").returncode == 1
