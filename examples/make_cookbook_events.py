"""Generate the sample events of the cookbook's playbooks (docs/cookbook.md).

Deterministic (seeded): running it again writes the same files.  One file per playbook,
in Asia/Shanghai time:

- ``checkin-referral``: April 2026 in 晨跑打卡群 (rules/checkin-referral/). u1 阿杰 checks
  in every day; u2 小林 misses 7 April and is reminded at 21:00; u9 老王 adds four friends,
  three of whom check in three days in a row (effective referrals), u8 阿梅 adds one;
  twelve background members check in at random.
- ``content-rhythm``: April 2026 in 手绘插画社 (rules/content-rhythm/). Members post on
  each week's topic, except in the week of 13 April, which stays quiet until Wednesday;
  u1 and u2 post every day (regulars, invited to May's exhibition); members attend the
  live class on 11 April and the exhibition on 25 April.
- ``community-health``: 1 April to 10 May 2026 in 新手爸妈交流群 (rules/community-health/).
  u3 posts daily, goes quiet for a week and comes back; u4 posts on 1 April, goes silent for a month
  and returns on 5 May; a burst of complaints on the evening of 10 April; u6 posts three
  unhappy messages within an hour on the night of 17 April; twelve advertising accounts
  join within six minutes on 21 April and most leave within the hour.

    cd examples
    python make_cookbook_events.py checkin-referral > checkin-referral-events.jsonl
    python make_cookbook_events.py content-rhythm > content-rhythm-events.jsonl
    python make_cookbook_events.py community-health > community-health-events.jsonl
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

TZ = timezone(timedelta(hours=8))
START = datetime(2026, 4, 1, tzinfo=TZ)


class Log:
    """The events of one file, numbered in the order written, sorted by time at the end."""

    def __init__(self, prefix: str, community: str, names: dict[str, str]) -> None:
        self.prefix, self.community, self.names = prefix, community, names
        self.events: list[dict[str, Any]] = []

    def add(
        self,
        type_: str,
        at: datetime,
        member: str,
        data: dict[str, Any] | None = None,
        channel: str = "general",
    ) -> None:
        event: dict[str, Any] = {
            "id": f"{self.prefix}-{len(self.events) + 1:05d}",
            "type": type_,
            "at": at.isoformat(),
            "community": self.community,
            "platform": "telegram",
            "channel": channel,
            "member": {"id": member, "name": self.names.get(member, f"成员{member[1:]}")},
        }
        if data:
            event["data"] = data
        self.events.append(event)

    def lines(self) -> list[str]:
        ordered = sorted(self.events, key=lambda e: (e["at"], e["id"]))
        return [json.dumps(e, ensure_ascii=False) for e in ordered]


def day(n: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return START + timedelta(days=n, hours=hour, minutes=minute, seconds=second)


def checkin_referral() -> list[str]:
    rng = random.Random(20260401)
    log = Log("cr", "running", {"u1": "阿杰", "u2": "小林", "u8": "阿梅", "u9": "老王"})
    background = [f"u{i}" for i in range(20, 32)]
    for i, m in enumerate(["u1", "u2", "u8", "u9", *background]):
        log.add("member.joined", day(0, 6, i), m)
    # u9 adds four friends (days 2, 5, 9, 15), u8 one (day 10): data.inviter, as the
    # Telegram and OneBot adapters give it.
    invites = {
        "f1": ("u9", 2),
        "f2": ("u9", 5),
        "f3": ("u9", 9),
        "f4": ("u9", 15),
        "f5": ("u8", 10),
    }
    for friend, (inviter, n) in invites.items():
        log.add("member.joined", day(n, 12), friend, {"inviter": inviter})
    for n in range(30):
        log.add("checkin", day(n, 6, 30), "u1")
        if n != 6:  # 小林 misses 7 April: reminded at 21:00, the streak starts again
            log.add("checkin", day(n, 7, 10), "u2")
        if n % 2 == 0:
            log.add("checkin", day(n, 7, 40), "u9")
        for friend, (_, joined) in invites.items():
            # f4 checks in once only: not an effective referral.
            days_in = n - joined
            if days_in >= 0 and (friend != "f4" or days_in == 0) and days_in < 12:
                log.add("checkin", day(n, 8, 5), friend)
        for m in background:
            if rng.random() < 0.6:
                log.add("checkin", day(n, rng.randint(6, 9), rng.randint(0, 59)), m)
    return log.lines()


TOPIC_TEXTS = [
    "这周的作品来啦，先用铅笔起稿再上水彩",
    "试了新的配色方案，大家看看怎么样",
    "线稿用针管笔，阴影用马克笔叠了两层",
    "画得有点赶，但很喜欢这个主题",
]
CHAT_TEXTS = ["早上好", "今天画了一小时", "求推荐速写本", "好看！", "学到了", "晚安"]


def content_rhythm() -> list[str]:
    rng = random.Random(20260402)
    log = Log("rh", "illustration", {"u1": "小鹿", "u2": "阿布", "u3": "木木"})
    members = [f"u{i}" for i in range(1, 13)]
    for i, m in enumerate(members):
        log.add("member.joined", day(0, 8, i), m)
    msg = 0
    for n in range(30):
        when = day(n, 0)
        for m in ("u1", "u2"):  # the regulars: a post every day
            msg += 1
            log.add(
                "message.posted",
                day(n, 9, 30 if m == "u1" else 45),
                m,
                {"text": rng.choice(CHAT_TEXTS), "message_id": f"m-{msg}"},
            )
        # Topic posts on Mondays and Tuesdays (from the Monday topic on 6 April), except
        # in the week of 13 April, which has one until Wednesday's nudge.
        if when.weekday() in (0, 1) and n >= 5:
            posters = ["u3"] if 12 <= n <= 13 else rng.sample(members[2:], 3)
            for k, m in enumerate(posters):
                if 12 <= n <= 13 and when.weekday() == 1:
                    continue
                msg += 1
                log.add(
                    "message.posted",
                    day(n, 14 + k, rng.randint(0, 59)),
                    m,
                    {"text": rng.choice(TOPIC_TEXTS), "message_id": f"m-{msg}"},
                    channel="topic",
                )
        if n == 14:  # after the nudge, the quiet week picks up
            for k, m in enumerate(members[3:6]):
                msg += 1
                log.add(
                    "message.posted",
                    day(n, 12, 10 * k),
                    m,
                    {"text": rng.choice(TOPIC_TEXTS), "message_id": f"m-{msg}"},
                    channel="topic",
                )
        for m in members[2:]:
            if rng.random() < 0.2:
                msg += 1
                log.add(
                    "message.posted",
                    day(n, rng.randint(10, 21), rng.randint(0, 59)),
                    m,
                    {"text": rng.choice(CHAT_TEXTS), "message_id": f"m-{msg}"},
                )
    for m in members[:3]:
        log.add("activity.attended", day(10, 20), m, {"activity": "水彩直播课"})
    for m in members[:5]:
        log.add("activity.attended", day(24, 15), m, {"activity": "4月线上画展"})
    return log.lines()


HAPPY = ["宝宝今天会翻身了！", "分享一个哄睡小技巧", "辅食做了南瓜泥", "早安各位", "谢谢大家的建议"]
UNHAPPY = ["这个奶粉太失望了", "客服态度很差劲", "今天好崩溃", "真的很生气", "想退款", "太糟糕了"]


def community_health() -> list[str]:
    rng = random.Random(20260403)
    log = Log("hl", "parents", {"u3": "朵朵妈", "u4": "乐乐爸", "u6": "小雨妈"})
    members = [f"u{i}" for i in range(1, 21)]
    for i, m in enumerate(members):
        log.add("member.joined", day(0, 7, 3 * i), m)
    msg = 0

    def post(at: datetime, m: str, text: str) -> None:
        nonlocal msg
        msg += 1
        log.add("message.posted", at, m, {"text": text, "message_id": f"m-{msg}"})

    post(day(0, 8), "u4", "大家好，我是乐乐爸")
    for n in range(40):
        for m in members:
            if m == "u4" or (m == "u3" and 5 <= n < 12):
                continue
            if m == "u3" or rng.random() < 0.6:
                post(day(n, rng.randint(8, 21), rng.randint(0, 59)), m, rng.choice(HAPPY))
    for k, m in enumerate(["u7", "u8", "u9", "u7", "u10", "u8"]):  # complaints, 10 April
        post(day(9, 20, 3 * k), m, UNHAPPY[k])
    for k, text in enumerate(["又失眠了，好崩溃", "宝宝一直哭，我好难过", "真的太失望了"]):
        post(day(16, 23, 20 * k), "u6", text)  # 17 April, late at night
    for k in range(12):  # advertising accounts, 21 April
        log.add("member.joined", day(20, 3, k // 2, 30 * (k % 2)), f"a{k + 1}")
    for k in range(8):
        log.add("member.left", day(20, 3, 10 + 5 * k), f"a{k + 1}")
    post(day(34, 9), "u4", "我回来啦，乐乐满周岁了")
    return log.lines()


FILES: dict[str, Callable[[], list[str]]] = {
    "checkin-referral": checkin_referral,
    "content-rhythm": content_rhythm,
    "community-health": community_health,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in FILES:
        sys.exit(f"usage: make_cookbook_events.py {{{'|'.join(FILES)}}}")
    print("\n".join(FILES[sys.argv[1]]()))
