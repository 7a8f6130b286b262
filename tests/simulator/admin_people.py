"""Admin endpoints for the phone as a person: send, read, type, and see what it received.

Documented in ``tests/simulator/README.md`` ("The phone as a person").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidTag

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.crypto.keys import KeyPair
from mautrix_whatsapp.whatsapp.proto import wa_common_pb2, wa_e2e_pb2

from . import phone_media, phone_send
from .accounts import Account
from .admin_phone import _body
from .core import json_response
from .notify import notify_identity_change
from .people import Person, ReceivedMessage, get_people
from .phone import get_world
from .relay import route_chatstate, route_receipt
from .routing import GROUP_SERVER, PN_SERVER, Sender
from .state import AdminError, ServerState

MAX_WAIT = 30.0
CHAT_STATES = ("composing", "paused", "recording")


def _jid(value: Any, what: str) -> JID:
    """A JID from a full JID or a bare phone number."""
    if not isinstance(value, str | int) or not str(value):
        raise AdminError(400, f"{what!r} is required")
    text = str(value).lstrip("+")
    try:
        return JID.parse(text) if "@" in text else JID(text, PN_SERVER)
    except ValueError as e:
        raise AdminError(400, f"{what!r} is not a JID: {e}") from e


def _dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data[key]
    if not isinstance(value, dict):
        raise AdminError(400, f"{key!r} must be an object")
    return value


def _original(person: Person, message_id: str) -> tuple[bool, JID | None, ReceivedMessage | None]:
    """(from me, author, what was received) of a message the phone sent or received."""
    if message_id in person.sent:
        return True, JID(person.account.phone, PN_SERVER), None
    for received in reversed(person.received):
        if received.id == message_id:
            sender = JID.parse(received.sender)
            return False, JID(sender.user, sender.server), received
    return False, None, None


def _key(person: Person, chat: JID, spec: dict[str, Any]) -> wa_common_pb2.MessageKey:
    """The key of the message ``spec`` names (``id``, optionally ``sender``)."""
    message_id = str(spec.get("id") or "")
    if not message_id:
        raise AdminError(400, "a message reference needs an 'id'")
    from_me, author, _ = _original(person, message_id)
    if spec.get("sender"):
        author = _jid(spec["sender"], "sender")
        from_me = author.user == person.account.phone
    if author is None:
        raise AdminError(404, f"unknown message {message_id}; give its 'sender'")
    participant = author if chat.server == GROUP_SERVER and not from_me else None
    return phone_send.message_key(chat, message_id, from_me, participant)


def build_message(person: Person, chat: JID, data: dict[str, Any]) -> wa_e2e_pb2.Message:
    """The ``waE2E.Message`` an admin send request describes (see the README)."""
    me = JID(person.account.phone, PN_SERVER)
    if "reaction" in data:
        spec = _dict(data, "reaction")
        return phone_send.reaction_message(_key(person, chat, spec), str(spec.get("emoji", "")))
    if "edit" in data:
        spec = _dict(data, "edit")
        return phone_send.edit_message(_key(person, chat, spec), str(spec.get("text", "")))
    if "revoke" in data:
        return phone_send.revoke_message(_key(person, chat, _dict(data, "revoke")))
    if "poll" in data:
        spec = _dict(data, "poll")
        options = spec.get("options")
        if not isinstance(options, list) or len(options) < 2:
            raise AdminError(400, "a poll needs at least two 'options'")
        return phone_send.poll_message(
            str(spec.get("name", "")), [str(o) for o in options], int(spec.get("selectable", 1))
        )
    if "vote" in data:
        return _vote(person, chat, me, _dict(data, "vote"))
    if "location" in data:
        spec = _dict(data, "location")
        try:
            latitude, longitude = float(spec["latitude"]), float(spec["longitude"])
        except (KeyError, TypeError, ValueError) as e:
            raise AdminError(400, f"a location needs latitude and longitude: {e}") from e
        return phone_send.location_message(
            latitude, longitude, str(spec.get("name", "")), str(spec.get("address", ""))
        )
    if "contact" in data:
        spec = _dict(data, "contact")
        return phone_send.contact_message(str(spec.get("name", "")), str(spec.get("vcard", "")))
    if "text" not in data:
        raise AdminError(400, "say what to send: text, reaction, edit, revoke, poll, vote, …")
    mentions = [str(_jid(m, "mentions")) for m in data.get("mentions") or []]
    context = None
    if "reply_to" in data:
        spec = _dict(data, "reply_to")
        key = _key(person, chat, spec)
        _, _, original = _original(person, key.ID)
        quoted_sender = JID.parse(key.participant) if key.participant else None
        if quoted_sender is None:
            quoted_sender = me if key.fromMe else JID(chat.user, chat.server)
        quoted = original.message if original is not None else None
        if quoted is None and key.ID in person.sent:
            quoted = person.sent[key.ID].message
        context = phone_send.reply_context(key.ID, quoted_sender, quoted, chat)
    return phone_send.text_message(str(data["text"]), mentions, context)


def _vote(person: Person, chat: JID, me: JID, spec: dict[str, Any]) -> wa_e2e_pb2.Message:
    key = _key(person, chat, spec)
    _, author, original = _original(person, key.ID)
    if key.ID in person.sent:
        poll = person.sent[key.ID].message
    elif original is not None:
        poll = original.message
    else:
        raise AdminError(404, "the phone never saw that poll")
    secret = poll.messageContextInfo.messageSecret
    if not secret:
        raise AdminError(409, "that poll has no messageSecret")
    options = spec.get("options")
    if not isinstance(options, list):
        raise AdminError(400, "a vote needs 'options' (a list of option names)")
    poll_sender = author or me
    return phone_send.vote_message(key, poll_sender, me, secret, [str(o) for o in options])


def message_json(person: Person, received: ReceivedMessage) -> dict[str, Any]:
    """A received message as JSON; a poll vote on a poll the phone knows also decrypted:
    ``poll_vote`` = ``{"options": [names chosen]}`` (or ``{"error"}``)."""
    data = received.to_json()
    if received.message.HasField("pollUpdateMessage"):
        data["poll_vote"] = _vote_json(person, received)
    return data


def _vote_json(person: Person, received: ReceivedMessage) -> dict[str, Any]:
    update = received.message.pollUpdateMessage
    poll_id = update.pollCreationMessageKey.ID
    from_me, author, original = _original(person, poll_id)
    if from_me:
        poll = person.sent[poll_id].message
    elif original is not None:
        poll = original.message
    else:
        return {"error": "unknown poll"}
    voter = JID.parse(received.sender)
    try:
        vote = phone_send.decrypt_vote(
            update,
            author or JID(person.account.phone, PN_SERVER),
            JID(voter.user, voter.server),
            poll.messageContextInfo.messageSecret,
        )
    except (InvalidTag, ValueError) as e:
        return {"error": f"cannot decrypt the vote: {e!r}"}
    names = [
        option.optionName
        for creation in (
            poll.pollCreationMessage,
            poll.pollCreationMessageV2,
            poll.pollCreationMessageV3,
        )
        for option in creation.options
    ]
    by_hash = {hashlib.sha256(name.encode()).digest(): name for name in names}
    return {"options": [by_hash.get(h, h.hex()) for h in vote.selectedOptions]}


def install(state: ServerState) -> None:
    world = get_world(state)
    people = get_people(state)

    def account_of(params: dict[str, str]) -> Account:
        account = world.accounts.find(params["phone"])
        if account is None:
            raise AdminError(404, "no such account")
        return account

    async def send(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account = account_of(params)
        data = await _body(request)
        chat = _jid(data.get("to"), "to")
        if "media" in data:  # an image, video, voice note… (README, "Media")
            message = phone_media.media_message(state, _dict(data, "media"))
        else:
            message = build_message(people.of(account), chat, data)
        try:
            message_id, t = await phone_send.send(
                state, account, chat, message, str(data["id"]) if data.get("id") else None
            )
        except phone_send.SendError as e:
            raise AdminError(404, str(e)) from e
        return json_response({"id": message_id, "t": t, "chat": str(chat)})

    async def read(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account = account_of(params)
        data = await _body(request)
        chat = _jid(data.get("chat"), "chat")
        ids = data.get("ids")
        if not isinstance(ids, list) or not ids:
            raise AdminError(400, "'ids' must be a non-empty list of message ids")
        receipt_type = str(data.get("type", "read"))
        attrs: dict[str, str | JID] = {"id": str(ids[0]), "to": chat}
        if receipt_type:
            attrs["type"] = receipt_type
        if chat.server == GROUP_SERVER:
            attrs["participant"] = _jid(data.get("sender"), "sender")
        content = None
        if len(ids) > 1:
            content = [Node("list", {}, [Node("item", {"id": str(i)}) for i in ids[1:]])]
        node = Node("receipt", attrs, content)
        route_receipt(state, Sender(account, 0), node, int(time.time()))
        return json_response({"sent": True})

    async def typing(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account = account_of(params)
        data = await _body(request)
        chat = _jid(data.get("chat"), "chat")
        chat_state = str(data.get("state", "composing"))
        if chat_state not in CHAT_STATES:
            raise AdminError(400, f"'state' is one of {', '.join(CHAT_STATES)}")
        child = (
            Node("composing", {"media": "audio"})
            if chat_state == "recording"
            else Node(chat_state, {})
        )
        route_chatstate(state, Sender(account, 0), Node("chatstate", {"to": chat}, [child]))
        return json_response({"sent": True})

    async def received(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        account = account_of(params)
        person = people.of(account)
        wanted = request.query.get("id")
        try:
            timeout = min(float(request.query.get("timeout", "0")), MAX_WAIT)
        except ValueError as e:
            raise AdminError(400, f"bad timeout: {e}") from e
        if wanted and timeout > 0 and not any(m.id == wanted for m in person.received):
            future: asyncio.Future[ReceivedMessage] = asyncio.get_running_loop().create_future()
            waiter = (lambda m: m.id == wanted, future)
            person.waiters.append(waiter)
            try:
                async with asyncio.timeout(timeout):
                    await future
            except TimeoutError:
                raise AdminError(408, f"message {wanted} did not arrive") from None
            finally:
                with contextlib.suppress(ValueError):
                    person.waiters.remove(waiter)
        messages = [m for m in person.received if not wanted or m.id == wanted]
        return json_response(
            {
                "messages": [message_json(person, m) for m in messages],
                "receipts": [r.to_json() for r in person.receipts],
                "failures": list(person.failures),
            }
        )

    async def reset_identity(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        data = await _body(request)
        notify = data.get("notify", True)
        if not isinstance(notify, bool):
            raise AdminError(400, "'notify' is true or false")
        account = account_of(params)
        account.identity = KeyPair.generate()
        people.reset(account)
        # Without the notification (lost, or not yet sent) companions keep their old sessions,
        # so only the phone's retry receipts can tell them: what retry tests need.
        notified = notify_identity_change(state, account) if notify else 0
        identity = account.identity.public.hex()
        return json_response({"identity_public": identity, "notified": notified})

    routes = state.admin_routes
    routes.add("POST", "/accounts/{phone}/send", send)
    routes.add("POST", "/accounts/{phone}/read", read)
    routes.add("POST", "/accounts/{phone}/typing", typing)
    routes.add("GET", "/accounts/{phone}/received", received)
    routes.add("POST", "/accounts/{phone}/reset-identity", reset_identity)
