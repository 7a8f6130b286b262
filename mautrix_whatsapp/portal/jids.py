"""Portal keys from JIDs (strings, as the session seam gives them)."""

from __future__ import annotations

GROUP_SERVER = "g.us"


def user_jid(jid: str) -> str:
    """``1555:3@s.whatsapp.net`` → ``1555@s.whatsapp.net`` (the account, not the device)."""
    user, sep, server = jid.partition("@")
    return f"{user.split(':', 1)[0]}{sep}{server}"


def portal_key(chat: str, receiver_jid: str) -> tuple[str, str]:
    """The ``(jid, receiver)`` of the portal for ``chat`` as seen by the user ``receiver_jid``."""
    chat = user_jid(chat)
    if chat.endswith("@" + GROUP_SERVER):
        return chat, ""
    return chat, user_jid(receiver_jid)
