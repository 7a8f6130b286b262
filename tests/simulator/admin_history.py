"""Admin endpoints to give a phone a past, and to read its memory back.

- ``POST /admin/accounts/{phone}/history``: bulk import of chats into the phone's memory (see the
  README, "The phone's memory"). Messages are stored as the phone would have them, without any
  encryption (only media is encrypted and put in the media store, as an upload would), so
  1,000 chats x 100 messages import in seconds.
- ``GET /admin/accounts/{phone}/chats``: the memory as JSON (``?messages=0`` omits messages).
- ``GET /admin/accounts/{phone}/history-sent``: per linked device, how many history chunks the
  phone sent it and when the last one went (see :mod:`.history_sent`).
- ``POST /admin/accounts/{phone}/history-silent`` ``{"silent": bool}``: a silent phone sends no
  history syncs to new companions.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from google.protobuf import json_format

from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2

from .accounts import Account
from .admin_phone import _body
from .core import json_response
from .groups import Group, Participant, get_groups
from .history_sent import get_history_sent
from .phone import get_world
from .phone_media import media_message
from .phone_memory import (
    STATUS_DELIVERY_ACK,
    STATUS_READ,
    Chat,
    PhoneMemory,
    Reaction,
    StoredMessage,
    get_memories,
)
from .phone_send import new_message_id
from .state import AdminError, ServerState


class Importer:
    """One import request into one account's memory."""

    def __init__(self, state: ServerState, account: Account) -> None:
        self.state = state
        self.world = get_world(state)
        self.account = account
        self.memory: PhoneMemory = get_memories(state).of(account)
        self.imported = 0

    def other(self, phone: Any) -> Account:
        """The account of a number named in the import (created when new, like a contact who
        is on WhatsApp)."""
        if not isinstance(phone, str | int) or not str(phone).lstrip("+").isdigit():
            raise AdminError(400, f"not a phone number: {phone!r}")
        return self.world.accounts.create(str(phone))

    def chat_of(self, data: dict[str, Any]) -> Chat:
        if "group" in data:
            group = data["group"]
            if not isinstance(group, dict) or not isinstance(group.get("subject"), str):
                raise AdminError(400, "'group' needs a 'subject'")
            members = [self.other(m) for m in group.get("members", [])]
            registry = get_groups(self.state)
            made = Group(registry.new_id(), group["subject"], self.account.phone)
            for member in [self.account, *members]:
                made.participants[member.phone] = Participant(
                    member.phone, member.lid, "superadmin" if member is self.account else ""
                )
            registry.add(made)
            chat = self.memory.chat(made.jid)
            chat.name = made.subject
            return chat
        if "with" in data:
            return self.memory.chat(self.other(data["with"]).jid)
        jid = data.get("jid")
        if not isinstance(jid, str) or "@" not in jid:
            raise AdminError(400, "a chat needs 'jid', 'with' or 'group'")
        if jid.endswith("@s.whatsapp.net"):
            jid = self.other(jid.split("@", 1)[0]).jid
        return self.memory.chat(jid)

    def add_chat(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise AdminError(400, "each chat is an object")
        chat = self.chat_of(data)
        if isinstance(data.get("name"), str):
            chat.name = data["name"]
        messages = data.get("messages", [])
        if not isinstance(messages, list):
            raise AdminError(400, "'messages' must be a list")
        ids = [self.add_message(chat, m) for m in messages]
        unread = data.get("unread")
        if isinstance(unread, int) and not isinstance(unread, bool):
            chat.unread_count = unread
        else:
            chat.unread_count += sum(
                1 for m in messages if isinstance(m, dict) and m.get("unread")
            )
        pinned = data.get("pinned")
        if pinned:
            chat.pinned = int(time.time()) if pinned is True else int(pinned)
        chat.archived = bool(data.get("archived", chat.archived))
        chat.marked_unread = bool(data.get("marked_unread", chat.marked_unread))
        muted = data.get("muted_until")
        if isinstance(muted, int):
            chat.mute_end = muted
        return {"jid": chat.jid, "ids": ids}

    def add_message(self, chat: Chat, data: Any) -> str:
        if not isinstance(data, dict):
            raise AdminError(400, "each message is an object")
        sender = data.get("from", "me")
        author = self.account if sender == "me" else self.other(sender)
        from_me = author is self.account
        timestamp = data.get("t", int(time.time()))
        if not isinstance(timestamp, int):
            raise AdminError(400, "'t' is unix seconds")
        message = self.content(chat, data)
        stored = StoredMessage(
            id=str(data.get("id") or new_message_id()),
            chat=chat.jid,
            sender=author.jid,
            from_me=from_me,
            timestamp=timestamp,
            message=message,
            push_name=author.push_name,
            status=STATUS_READ if from_me or not data.get("unread") else STATUS_DELIVERY_ACK,
            participant=author.jid if chat.jid.endswith("@g.us") else "",
        )
        if not self.memory.add_message(stored):
            raise AdminError(409, f"message {stored.id} is already in {chat.jid}")
        if not from_me and author.push_name:
            self.memory.push_names[author.jid] = author.push_name
        for reaction in data.get("reactions", []):
            reactor = (
                self.account if reaction.get("from") == "me" else self.other(reaction.get("from"))
            )
            stored.reactions.append(
                Reaction(reactor.jid, str(reaction.get("emoji", "")), timestamp)
            )
        edits = data.get("edits") or []
        if edits:
            stored.message = wa_e2e_pb2.Message(conversation=str(edits[-1]))
            stored.edited = True
            edited_at = data.get("edited_at", timestamp + 60)
            if not isinstance(edited_at, int):
                raise AdminError(400, "'edited_at' is unix seconds")
            stored.edited_at_ms = edited_at * 1000
        self.imported += 1
        return stored.id

    def content(self, chat: Chat, data: dict[str, Any]) -> wa_e2e_pb2.Message:
        message = wa_e2e_pb2.Message()
        context: wa_e2e_pb2.ContextInfo | None = None
        reply_to = data.get("reply_to")
        if reply_to:
            quoted = self.memory.find(chat.jid, str(reply_to))
            if quoted is None:
                raise AdminError(400, f"reply_to {reply_to}: no such message in {chat.jid}")
            context = wa_e2e_pb2.ContextInfo(stanzaID=quoted.id, participant=quoted.sender)
            context.quotedMessage.CopyFrom(quoted.message)
        if "media" in data:
            self.media(message, data["media"], context)
        elif isinstance(data.get("text"), str):
            if context is None:
                message.conversation = data["text"]
            else:
                message.extendedTextMessage.text = data["text"]
                message.extendedTextMessage.contextInfo.CopyFrom(context)
        else:
            raise AdminError(400, "a message needs 'text' or 'media'")
        return message

    def media(
        self, message: wa_e2e_pb2.Message, data: Any, context: wa_e2e_pb2.ContextInfo | None
    ) -> None:
        """The same media object and message as the phone's own media sends (``phone_media``)."""
        if not isinstance(data, dict):
            raise AdminError(400, "'media' is an object")
        message.MergeFrom(media_message(self.state, data, context))


def stored_json(stored: StoredMessage) -> dict[str, Any]:
    message = stored.message
    text = message.conversation or message.extendedTextMessage.text
    return {
        "id": stored.id,
        "from": stored.sender,
        "from_me": stored.from_me,
        "t": stored.timestamp,
        "push_name": stored.push_name,
        "status": stored.status,
        "text": text,
        "edited": stored.edited,
        "revoked": stored.revoked,
        "reactions": [{"from": r.sender, "emoji": r.emoji} for r in stored.reactions],
        "message": json_format.MessageToDict(message),
    }


def chat_json(chat: Chat, with_messages: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "jid": chat.jid,
        "name": chat.name,
        "unread": chat.unread_count,
        "pinned": chat.pinned,
        "archived": chat.archived,
        "marked_unread": chat.marked_unread,
        "muted_until": chat.mute_end,
        "message_count": len(chat.messages),
        "last_t": chat.last_timestamp,
    }
    if with_messages:
        data["messages"] = [stored_json(m) for m in chat.messages]
    return data


def install(state: ServerState) -> None:
    world = get_world(state)

    def account_of(params: dict[str, str]) -> Account:
        if (account := world.accounts.find(params["phone"])) is None:
            raise AdminError(404, "no such account")
        return account

    async def import_history(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        importer = Importer(state, account_of(params))
        chats = (await _body(request)).get("chats")
        if not isinstance(chats, list):
            raise AdminError(400, "'chats' must be a list")
        started = time.monotonic()
        added = [importer.add_chat(chat) for chat in chats]
        took = time.monotonic() - started
        return json_response({"chats": added, "messages": importer.imported, "seconds": took})

    async def read_chats(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        memory = get_memories(state).of(account_of(params))
        with_messages = request.query.get("messages", "1") != "0"
        return json_response(
            {
                "chats": [chat_json(c, with_messages) for c in memory.recent_chats()],
                "push_names": memory.push_names,
                "silent": memory.silent,
            }
        )

    async def silence(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        silent = (await _body(request)).get("silent", True)
        if not isinstance(silent, bool):
            raise AdminError(400, "'silent' is true or false")
        get_memories(state).of(account_of(params)).silent = silent
        return json_response({"silent": silent})

    async def history_sent(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account = account_of(params)
        return json_response({"devices": get_history_sent(state).of(account.phone)})

    state.admin_routes.add("POST", "/accounts/{phone}/history", import_history)
    state.admin_routes.add("GET", "/accounts/{phone}/history-sent", history_sent)
    state.admin_routes.add("GET", "/accounts/{phone}/chats", read_chats)
    state.admin_routes.add("POST", "/accounts/{phone}/history-silent", silence)
