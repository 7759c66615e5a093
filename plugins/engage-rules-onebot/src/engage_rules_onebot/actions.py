"""Playbook actions only QQ has: ``onebot.set_card`` sets a member's group card (群名片,
the name the group shows for them; ``set_group_card``).

::

    do:
      - onebot.set_card: "【新人】{{ member.name }}"           # the event's member
      - onebot.set_card: {card: "", to: "{{ event.data.inviter }}"}   # back to the nickname

The engine decides (this executor only resolves the card and emits the action, with its
deterministic key); the ``onebot`` adapter delivers it (:mod:`.client`).  A playbook
using it needs an ``onebot`` adapter configured: the runtime checks the adapters'
capabilities when it starts.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from engage_rules.plugin_api import ActionError, ActionScope, ActionSpec, CompiledAction

from .i18n import _

SET_CARD = "onebot.set_card"
#: QQ keeps a group card of at most 60 bytes; longer ones are refused by the platform.
MAX_CARD_BYTES = 60


class SetCardParams(BaseModel):
    """``onebot.set_card: {card: TEXT, to: MEMBER, reason: TEXT}`` (short form: the card)."""

    model_config = ConfigDict(extra="forbid")

    card: str = Field(
        max_length=MAX_CARD_BYTES,
        title=_.N_("Group card"),
        description=_.N_(
            "The member's group card, the name the group shows for them (may use a "
            "template); empty: back to their QQ nickname"
        ),
    )
    to: str | None = Field(
        default=None,
        title=_.N_("Member"),
        description=_.N_("Another member (default: the event's member)"),
    )
    reason: str | None = Field(
        default=None, title=_.N_("Reason"), description=_.N_("Why (may use a template)")
    )


def do_set_card(run: ActionScope, action: CompiledAction) -> None:
    """Resolve the card and emit the action for the member (the event's, or ``to:``)."""
    member = run.require_target(action)
    card = run.text(action, "card").strip()
    if len(card.encode()) > MAX_CARD_BYTES:
        raise ActionError(
            _("a QQ group card has at most {n} bytes, not {got}").format(
                n=MAX_CARD_BYTES, got=len(card.encode())
            )
        )
    params: dict[str, str] = {"card": card}
    reason = run.text(action, "reason")
    if reason:
        params["reason"] = reason
    run.emit(action, member.id, params)


SPEC = ActionSpec(
    SET_CARD,
    SetCardParams,
    "card",
    _.N_("set the member's QQ group card (the name the group shows); empty: their nickname"),
    title=_.N_("Set group card"),
)

__all__ = ["MAX_CARD_BYTES", "SET_CARD", "SPEC", "SetCardParams", "do_set_card"]
