"""Generate examples/rewards-events.jsonl, the sample month for rules/points-community/.

Deterministic (seeded): running it again writes the same file.  April 2026 (Asia/Shanghai)
in a small English-learning community.  A cast of five scripted members, whose story
rules/points-community/README.md tells, and fifteen background members acting at random:

- u1 小林 checks in every day and hands in one homework a day;
- u2 阿华 is the keenest member for twelve days (check-in, two homeworks and chat every
  day), then goes silent from 13 April;
- u3 小美 checks in most days and reacts to others' posts a lot;
- u4 Tom checks in for ten days and tries to redeem rewards;
- u5 Ada joins mid-month and checks in from then on.

    python examples/make_rewards_events.py > examples/rewards-events.jsonl
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

TZ = timezone(timedelta(hours=8))
START = datetime(2026, 4, 1, tzinfo=TZ)
DAYS = 30
rng = random.Random(20260401)

NAMES = {"u1": "小林", "u2": "阿华", "u3": "小美", "u4": "Tom", "u5": "Ada"}
HOMEWORK = [
    "Today I learned the difference between 'affect' and 'effect': affect is a verb.",
    "My homework: I wrote five sentences with the present perfect tense, please check.",
    "Translation practice: 学而不思则罔，思而不学则殆 — learning without thought is labour lost.",
    "Listening notes from today's podcast about city life and public transport in London.",
]
CHAT = ["早上好", "打卡！", "今天好难", "加油", "thanks!", "明天见"]

lines: list[str] = []
seq = 0
msg = 0


def emit(
    type_: str, at: datetime, member: str, data: dict | None = None, channel: str = "general"
) -> None:
    global seq
    seq += 1
    event: dict = {
        "id": f"rw-{seq:05d}",
        "type": type_,
        "at": at.isoformat(),
        "community": "english",
        "platform": "telegram",
        "channel": channel,
        "member": {
            "id": member,
            "name": NAMES.get(member, f"学员{member[1:]}"),
            "created_at": "2025-09-01T00:00:00Z",
        },
    }
    if data:
        event["data"] = data
    lines.append(json.dumps(event, ensure_ascii=False))


def post(at: datetime, member: str, homework: bool) -> str:
    global msg
    msg += 1
    mid = f"m-{msg}"
    if homework:
        emit(
            "message.posted",
            at,
            member,
            {"text": rng.choice(HOMEWORK), "message_id": mid},
            channel="homework",
        )
    else:
        emit("message.posted", at, member, {"text": rng.choice(CHAT), "message_id": mid})
    return mid


def day(n: int, hour: int, minute: int = 0) -> datetime:
    return START + timedelta(days=n, hours=hour, minutes=minute)


cast = ["u1", "u2", "u3", "u4"]
background = [f"u{i}" for i in range(6, 21)]
for i, m in enumerate(cast + background):
    emit("member.joined", day(0, 7, i), m)

recent_posts: list[tuple[str, str]] = []  # (author, message id)
for n in range(DAYS):
    # 小林: every day, check-in at 07:30, one homework at 21:00.
    emit("checkin", day(n, 7, 30), "u1")
    recent_posts.append(("u1", post(day(n, 21), "u1", homework=True)))
    # 阿华: the keenest for twelve days, then silent.
    if n < 12:
        emit("checkin", day(n, 6, 50), "u2")
        recent_posts.append(("u2", post(day(n, 12), "u2", homework=True)))
        recent_posts.append(("u2", post(day(n, 19), "u2", homework=True)))
        for k in range(3):
            post(day(n, 20, 10 * k), "u2", homework=False)
    # 小美: checks in on most days and reacts to recent posts.
    if n % 6 != 5:
        emit("checkin", day(n, 8, 15), "u3")
    for k in range(2):
        author, mid = recent_posts[-1 - k] if len(recent_posts) > k else ("u1", "m-1")
        if author != "u3":
            emit(
                "reaction.added",
                day(n, 22, k),
                "u3",
                {"emoji": "👍", "to_member": author, "message_id": mid},
            )
    # Tom: ten days of check-ins, and a shopping trip.
    if n < 10:
        emit("checkin", day(n, 9), "u4")
    if n == 7:
        emit("redeem.requested", day(n, 10), "u4", {"item": "书签"})  # 10 coins: short
        emit("redeem.requested", day(n, 10, 5), "u4", {"item": "贴纸"})  # affordable
    if n == 8:
        emit("redeem.requested", day(n, 10), "u4", {"item": "咖啡杯"})  # not in the shop
    # Ada joins on 15 April and checks in every day after.
    if n == 14:
        emit("member.joined", day(n, 9), "u5")
    if n >= 14:
        emit("checkin", day(n, 9, 30), "u5")
    # Background members: a little random activity.
    for m in background:
        if rng.random() < 0.35:
            emit("checkin", day(n, rng.randint(7, 22), rng.randint(0, 59)), m)
        if rng.random() < 0.25:
            recent_posts.append(
                (
                    m,
                    post(
                        day(n, rng.randint(8, 23), rng.randint(0, 59)),
                        m,
                        homework=rng.random() < 0.3,
                    ),
                )
            )
        if rng.random() < 0.2 and recent_posts:
            author, mid = rng.choice(recent_posts[-20:])
            if author != m:
                emit(
                    "reaction.added",
                    day(n, rng.randint(8, 23), rng.randint(0, 59)),
                    m,
                    {"emoji": "❤️", "to_member": author, "message_id": mid},
                )

lines.sort(key=lambda s: json.loads(s)["at"])
print("\n".join(lines))
