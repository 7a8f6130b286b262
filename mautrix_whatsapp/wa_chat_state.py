"""The phone's chat settings (app-state pin, archive, mute, mark read/unread) in the bridge's
vocabulary: :class:`~mautrix_whatsapp.session.ChatStateChanged`.

A chat named by LID is named by its phone number when the LID map knows it, as the bridge keys
its DM portals by number.
"""

from __future__ import annotations

from dataclasses import replace

from . import session as s
from .whatsapp.appstate import events as app_events
from .whatsapp.binary.jid import HIDDEN_USER_SERVER, JID
from .whatsapp.client import Client


def _mute_end(event: app_events.Mute) -> float:
    if not event.muted or event.muted_until is None:
        return 0.0
    if event.muted_until == app_events.MUTED_FOREVER:
        return -1.0
    return event.muted_until.timestamp()


async def _chat(client: Client, jid: JID) -> str:
    jid = jid.to_non_ad()
    if jid.server == HIDDEN_USER_SERVER:
        pn = await client.lids.get_pn(jid)
        if pn is not None:
            return str(pn.to_non_ad())
    return str(jid)


async def translate_chat_state_event(client: Client, event: object) -> s.ChatStateChanged | None:
    """The chat-state change an app-state event stands for (None for any other event)."""
    match event:
        case app_events.Pin(jid=jid, pinned=pinned):
            change = s.ChatStateChanged("", 0.0, pinned=pinned)
        case app_events.Archive(jid=jid, archived=archived):
            change = s.ChatStateChanged("", 0.0, archived=archived)
        case app_events.Mute(jid=jid):
            change = s.ChatStateChanged("", 0.0, mute_end=_mute_end(event))
        case app_events.MarkChatAsRead(jid=jid, read=read):
            change = s.ChatStateChanged("", 0.0, read=read)
        case _:
            return None
    return replace(
        change,
        chat=await _chat(client, jid),
        timestamp=event.timestamp.timestamp(),
        from_full_sync=event.from_full_sync,
    )
