"""Generate examples/starter-events.jsonl, the sample stream for rules/starter/.

Deterministic (seeded): running it again writes the same file.  The stream covers two
months (2026-03-02 to 2026-04-30) of a small Chinese-speaking photography community:
joins, posts short and long, check-ins, referrals, redemptions (affordable and not),
banned words (some disguised with spaces and punctuation), one flood, a moderator
deleting a post, a duplicate delivery and three malformed lines that the replay
quarantines.  Over the two months some members fall silent (three after three weeks, one
who comes back after five), night owls post after 22:00 (quiet hours), and five
newcomers join in April (one late at night, one who never posts) — so the weekly topics,
the monthly event, onboarding, win-back and the messaging policy all have work to do.
Replay it to 2026-05-01 12:00 to see the second monthly event.

    python examples/make_starter_events.py > examples/starter-events.jsonl
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

TZ = timezone(timedelta(hours=8))
START = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
rng = random.Random(20260302)

NAMES = [
    "阿明",
    "小红",
    "老王",
    "Lily",
    "阿杰",
    "小雨",
    "大卫",
    "晓峰",
    "Momo",
    "阿兰",
    "小周",
    "Kevin",
    "婷婷",
    "老李",
    "Ada",
    "阿飞",
    "小美",
    "Tom",
    "思思",
    "阿强",
]
SHORT = ["好看！", "赞", "+1", "哈哈", "学到了", "收藏了", "nice"]
LONG = [
    "今天去西湖拍了日出，分享一下参数：f/8，1/250s，ISO 100，大家觉得构图怎么样？",
    "新手求助：夜景拍摄总是有噪点，是不是应该用三脚架加长曝光？谢谢各位老师。",
    "分享一个后期小技巧：先调白平衡，再拉曲线，最后做局部的明暗，效果自然很多。",
    "周末有人一起去植物园扫街吗？我带 85mm 定焦，欢迎新手一起交流学习。",
    "这张逆光人像用了反光板补光，模特是我妹妹，大家帮忙看看肤色是否自然。",
    "Sharing my first long exposure attempt at the harbour, 30 seconds at f/11.",
]
SPAM = [
    "加微信领取免费教程",
    "代刷好评，私聊",
    "加 微 信 看更多",
    "兼职日结，轻松月入过万",
    "刷-单-返现，加我",
    "免费领取相机，先到先得",
]

lines: list[str] = []
seq = 0


def emit(type_: str, at: datetime, member: str, data: dict | None = None, **extra) -> str:
    global seq
    seq += 1
    event: dict = {
        "id": f"evt-{seq:05d}",
        "type": type_,
        "at": at.isoformat(),
        "community": "photo",
        "platform": "discord",
        "channel": extra.pop("channel", "general"),
        "member": {
            "id": member,
            "name": NAMES[int(member[1:]) % len(NAMES)],
            "roles": extra.pop("roles", ["member"]),
            "created_at": extra.pop("created_at", "2025-10-01T00:00:00Z"),
        },
    }
    if data:
        event["data"] = data
    line = json.dumps(event, ensure_ascii=False)
    lines.append(line)
    return line


t = START
members = [f"u{i}" for i in range(1, 21)]
emit("member.joined", t, "u99", roles=["admin"])
for i, m in enumerate(members):
    t += timedelta(minutes=rng.randint(5, 90))
    created = "2026-03-01T00:00:00Z" if i in (17, 18) else "2025-06-01T00:00:00Z"
    emit("member.joined", t, m, created_at=created)
    if i % 4 == 1:
        emit(
            "referral.completed",
            t + timedelta(seconds=5),
            m,
            {"referrer": members[i - 1]},
            created_at=created,
        )

DAYS = 60
#: Members who fall silent after three weeks, and one who is away from day 20 to day 55.
CHURNED = {"u6", "u11", "u16"}
AWAY = ("u7", 20, 55)
#: Members who also post late at night, in quiet hours.
NIGHT_OWLS = ("u9", "u14")
#: Newcomers of April: (member, day, hour); u24 never posts.
NEWCOMERS = [("u21", 31, 10), ("u22", 33, 23.5), ("u23", 36, 14), ("u24", 38, 9), ("u25", 40, 19)]


def active(m: str, day: int) -> bool:
    if m in CHURNED and day >= 21:
        return False
    if m == AWAY[0] and AWAY[1] <= day < AWAY[2]:
        return False
    return not any(m == who and day < joined for who, joined, _ in NEWCOMERS)


for who, day, hour in NEWCOMERS:
    emit("member.joined", START + timedelta(days=day, hours=hour - 9), who)
members += [who for who, _, _ in NEWCOMERS if who != "u24"]

msg = 0
for day in range(DAYS):
    base = START + timedelta(days=day, hours=8)
    for m in members:
        if not active(m, day):
            continue
        if m in NIGHT_OWLS and day >= 14 and rng.random() < 0.3:
            msg += 1
            at = base + timedelta(hours=15, minutes=rng.randint(0, 90))
            emit("message.posted", at, m, {"text": rng.choice(LONG), "message_id": f"m-{msg}"})
        if rng.random() < 0.55:
            at = base + timedelta(minutes=rng.randint(0, 600))
            emit("checkin", at, m)
        for _ in range(rng.randint(0, 3)):
            msg += 1
            at = base + timedelta(minutes=rng.randint(0, 780), seconds=rng.randint(0, 59))
            text = rng.choice(LONG) if rng.random() < 0.5 else rng.choice(SHORT)
            emit("message.posted", at, m, {"text": text, "message_id": f"m-{msg}"})
        if rng.random() < 0.15:
            at = base + timedelta(minutes=rng.randint(0, 700))
            other = rng.choice(members)
            emit("reaction.added", at, m, {"emoji": "👍", "to_member": other})
    if day in (3, 6, 9, 12):
        spammer = members[17 + day % 3]
        msg += 1
        emit(
            "message.posted",
            base + timedelta(hours=5),
            spammer,
            {"text": SPAM[day % len(SPAM)], "message_id": f"m-{msg}"},
        )
    if day in (5, 10, 13, 30, 45, 58):
        for item in ("sticker-pack", "print-voucher", "mystery-box"):
            who = rng.choice(members)
            emit("redeem.requested", base + timedelta(hours=9), who, {"item": item})

# A flood: 12 short posts in 20 seconds.
flood_at = START + timedelta(days=7, hours=15)
for k in range(12):
    msg += 1
    emit(
        "message.posted",
        flood_at + timedelta(seconds=k * 1.5),
        "u5",
        {"text": "顶顶顶", "message_id": f"m-{msg}"},
    )

# An admin's own post that contains a banned word: admins are exempt from moderation.
msg += 1
emit(
    "message.posted",
    START + timedelta(days=2, hours=10),
    "u99",
    {"text": "提醒：看到“加微信”之类的广告请举报", "message_id": f"m-{msg}"},
    roles=["admin"],
)

# A moderator deletes a long post: the points it earned are taken back.
msg += 1
line = emit(
    "message.posted",
    START + timedelta(days=8, hours=11),
    "u3",
    {"text": LONG[0], "message_id": f"m-{msg}"},
)
emit(
    "message.deleted",
    START + timedelta(days=8, hours=12),
    "u3",
    {"message_id": f"m-{msg}", "by": "u99"},
)
lines.append(line)  # the same event delivered twice: processed once

lines.sort(key=lambda s: json.loads(s)["at"])
# Three malformed lines, kept for the replay to quarantine.
lines.insert(40, '{"id": "bad-1", "type": "message.posted", "at": 1772413200}')
lines.insert(80, '{"id": "bad-2", "type": "checkin", "at": "2026-03-04T10:00:00"}')
lines.insert(120, '{"type": "message.posted", "at": "2026-03-05T10:00:00+08:00"')
print("\n".join(lines))
