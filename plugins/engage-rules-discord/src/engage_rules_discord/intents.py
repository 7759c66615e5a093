"""Gateway intents: which dispatches Discord sends, chosen from what the playbook uses.

The source asks only for the intents the playbook's event types need, so a playbook that
never reads messages does not need the privileged Message Content intent.

=========================  ==========================================================
Event type                 Intents (bit)
=========================  ==========================================================
(always)                   ``GUILDS`` (1 << 0): guild availability, channels, roles
``member.*``               ``GUILD_MEMBERS`` (1 << 1, privileged): joins and leaves
``message.*``              ``GUILD_MESSAGES`` (1 << 9) and ``MESSAGE_CONTENT``
                           (1 << 15, privileged): without it ``content`` is empty
``message.deleted``        ``GUILD_MESSAGES`` only (a deletion carries no content)
``reaction.*``             ``GUILD_MESSAGE_REACTIONS`` (1 << 10)
=========================  ==========================================================

Event types the Discord adapter never produces (``checkin``, ``purchase``, the engine's
own ``badge.granted``...) need no intent.  Bits from
https://discord.com/developers/docs/events/gateway#gateway-intents
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .i18n import _

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
MESSAGE_CONTENT = 1 << 15

#: Intent bit → its name in Discord's documentation.
NAMES: Mapping[int, str] = {
    GUILDS: "GUILDS",
    GUILD_MEMBERS: "GUILD_MEMBERS",
    GUILD_MESSAGES: "GUILD_MESSAGES",
    GUILD_MESSAGE_REACTIONS: "GUILD_MESSAGE_REACTIONS",
    MESSAGE_CONTENT: "MESSAGE_CONTENT",
}

#: Privileged intents → the switch that enables them in the developer portal
#: (Applications → the bot's application → Bot → Privileged Gateway Intents).
PRIVILEGED: Mapping[int, str] = {
    GUILD_MEMBERS: "Server Members Intent",
    MESSAGE_CONTENT: "Message Content Intent",
}

#: Event types that need exactly these intents (checked before the prefixes below).
_EXACT: Mapping[str, int] = {"message.deleted": GUILD_MESSAGES}
#: Event type prefix → intents.
_PREFIXES: Mapping[str, int] = {
    "member.": GUILD_MEMBERS,
    "message.": GUILD_MESSAGES | MESSAGE_CONTENT,
    "reaction.": GUILD_MESSAGE_REACTIONS,
}
#: The engine's own member events: raised by the engine, never received from Discord.
_INTERNAL = frozenset(
    {"member.level_changed", "member.silent", "member.opted_out", "member.opted_in"}
)


@dataclass(frozen=True, slots=True)
class Intents:
    """The intents of a playbook, and why each privileged one is asked for."""

    value: int
    #: privileged intent bit → the event types that need it (sorted).
    reasons: Mapping[int, tuple[str, ...]]

    def names(self) -> list[str]:
        return [name for bit, name in NAMES.items() if self.value & bit]

    def privileged(self) -> str:
        """The privileged intents asked for, with their portal switch and the event types
        that need them (for the error when Discord refuses them)."""
        parts = [
            _("{intent} ({switch}, for {event_types})").format(
                intent=NAMES[bit], switch=PRIVILEGED[bit], event_types=", ".join(types)
            )
            for bit, types in self.reasons.items()
        ]
        return "; ".join(parts) or _("none")


def intents_for(event_types: Iterable[str]) -> Intents:
    """The intents that deliver the dispatches behind ``event_types``."""
    value = GUILDS
    reasons: dict[int, set[str]] = {}
    for event_type in event_types:
        if event_type in _INTERNAL:
            continue
        bits = _EXACT.get(event_type)
        if bits is None:
            bits = next((b for p, b in _PREFIXES.items() if event_type.startswith(p)), 0)
        value |= bits
        for bit in PRIVILEGED:
            if bits & bit:
                reasons.setdefault(bit, set()).add(event_type)
    return Intents(
        value, {bit: tuple(sorted(reasons[bit])) for bit in PRIVILEGED if bit in reasons}
    )


__all__ = [
    "GUILDS",
    "GUILD_MEMBERS",
    "GUILD_MESSAGES",
    "GUILD_MESSAGE_REACTIONS",
    "MESSAGE_CONTENT",
    "NAMES",
    "PRIVILEGED",
    "Intents",
    "intents_for",
]
