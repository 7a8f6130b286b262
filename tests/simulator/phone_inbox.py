"""What a simulated phone does with stanzas routed to it, as a WhatsApp client would.

- A ``<message>``: decrypt every ``<enc>`` for device 0 (``pkmsg``/``msg``/``skmsg``), process
  sender-key distribution, unwrap a ``deviceSentMessage``, remember it; then answer with a
  receipt (whatsmeow ``sendMessageReceipt``): ``to`` = the stanza's ``from``, with its
  ``participant``/``recipient``, ``type`` = ``sender`` for our own devices' messages, ``peer_msg``
  for peer messages, none (delivered) otherwise. When nothing could be decrypted: a retry
  receipt (``<retry count id t v="1"/>``, ``<registration>``, and from the second attempt
  ``<keys>`` with a fresh one-time pre-key), at most 4 times per message.
- A ``<receipt>`` for its own message: remembered; a retry receipt makes the phone send that
  message again to the device that asked (a new session from the receipt's ``<keys>`` when it
  has some, else from the device's published keys), with the ``count`` on the ``<enc>``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.errors import BinaryError
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from mautrix_whatsapp.whatsapp.signal.builder import SessionBuilder
from mautrix_whatsapp.whatsapp.signal.errors import SignalError
from mautrix_whatsapp.whatsapp.signal.keys import PreKeyBundle

from .accounts import Account
from .history_sync import peer_request
from .people import (
    Person,
    ReceivedMessage,
    ReceivedReceipt,
    UndecryptableError,
    account_of,
    address_of,
    get_people,
    parse_message,
)
from .phone import get_world
from .phone_hooks import own_device_hooks
from .phone_record import record_receipt, record_received
from .phone_send import resend
from .relay import route_receipt
from .routing import Sender
from .state import ServerState

log = logging.getLogger("simulator.phone_inbox")

MAX_RETRIES = 4

ReceiptHook = Callable[[ServerState, Account, Node], None]
"""What a phone does with one type of receipt (``media_retry`` hooks ``server-error``)."""


def receipt_hooks(state: ServerState) -> dict[str, ReceiptHook]:
    """Handlers of receipts reaching a phone, by receipt ``type``, for feature modules."""
    hooks = state.extra.get("phone_receipt_hooks")
    if not isinstance(hooks, dict):
        hooks = state.extra["phone_receipt_hooks"] = {}
    return hooks


async def receive(state: ServerState, account: Account, node: Node) -> None:
    """A ``<message>`` routed to ``account``'s phone (its ``<enc>`` children for device 0)."""
    world = get_world(state)
    person = get_people(state).of(account)
    attrs = node.attrs
    from_jid = node.attr_jid("from")
    group = from_jid if from_jid.server in ("g.us", "broadcast") else None  # statuses too
    author = node.attr_jid("participant") if group is not None else from_jid
    sender = address_of(world, author)
    sender_account = account_of(world, author)
    if sender is None or sender_account is None:
        person.failures.append(f"{attrs.get('id')}: unknown sender {author}")
        return
    if group is not None:
        chat = str(group)
    elif "recipient" in attrs:
        chat = str(attrs["recipient"])
    else:
        chat = sender_account.jid
    message: wa_e2e_pb2.Message | None = None
    decrypted = failed = 0
    for enc in node.children_by_tag("enc"):
        enc_type = str(enc.attrs.get("type", ""))
        try:
            if enc_type in ("pkmsg", "msg"):
                plaintext = await person.decrypt(sender, enc_type, enc.content_bytes())
            elif enc_type == "skmsg" and group is not None:
                plaintext = await person.decrypt_group(str(group), sender, enc.content_bytes())
            else:
                raise UndecryptableError(f"unexpected enc type {enc_type!r}")
            decoded = await person.process_message(sender, parse_message(plaintext))
        except (SignalError, UndecryptableError, ValueError) as e:
            log.info("%r could not read %s from %s: %r", person, attrs.get("id"), author, e)
            person.failures.append(f"{attrs.get('id')} ({enc_type}) from {author}: {e!r}")
            failed += 1
            continue
        decrypted += 1
        if _has_content(decoded):
            message = decoded
    from_me = sender_account is account
    if decrypted == 0 and failed:
        await _ask_again(state, person, node)
        return
    if message is not None:
        record_received(
            state,
            account,
            str(attrs.get("id", "")),
            chat,
            sender_account,
            int(str(attrs.get("t", "0")) or 0) or int(time.time()),
            message,
        )
        if from_me and attrs.get("category") == "peer":
            peer_request(state, account, author, str(attrs.get("id", "")), message)
        person.remember(
            ReceivedMessage(
                id=str(attrs.get("id", "")),
                sender=str(JID(sender_account.phone, "s.whatsapp.net", author.device)),
                chat=chat,
                type=str(attrs.get("type", "")),
                category=str(attrs.get("category", "")),
                edit=str(attrs.get("edit", "")),
                t=int(str(attrs.get("t", "0")) or 0) or int(time.time()),
                message=message,
            )
        )
    if message is not None and from_me and author.device != 0:
        for hook in own_device_hooks(state):
            state.spawn(hook(state, account, author.device, message), name="own device hook")
    receipt_type = ""
    if from_me:
        receipt_type = "peer_msg" if attrs.get("category") == "peer" else "sender"
    _reply(state, account, node, receipt_type)


def _has_content(message: wa_e2e_pb2.Message) -> bool:
    """False for a bare sender-key distribution message (it only carries keys)."""
    fields = {f.name for f, _ in message.ListFields()}
    return bool(fields - {"senderKeyDistributionMessage", "messageContextInfo"})


def _reply(
    state: ServerState,
    account: Account,
    node: Node,
    receipt_type: str,
    content: list[Node] | None = None,
) -> None:
    attrs: dict[str, str | JID] = {"id": node.attr_str("id"), "to": node.attr_jid("from")}
    for key in ("participant", "recipient"):
        if key in node.attrs:
            attrs[key] = node.attr_jid(key)
    if receipt_type:
        attrs["type"] = receipt_type
    route_receipt(state, Sender(account, 0), Node("receipt", attrs, content), int(time.time()))


async def _ask_again(state: ServerState, person: Person, node: Node) -> None:
    """A retry receipt for a message the phone could not decrypt."""
    message_id = node.attr_str("id")
    count = person.retries.get(message_id, 0) + 1
    if count > MAX_RETRIES:
        return
    person.retries[message_id] = count
    account = person.account
    content = [
        Node(
            "retry",
            {"count": str(count), "id": message_id, "t": str(node.attrs.get("t", "0")), "v": "1"},
        ),
        Node("registration", {}, account.registration_id.to_bytes(4, "big")),
    ]
    if count > 1:
        pre_key = await person.fresh_pre_key()
        signed = person.signed_pre_key
        content.append(
            Node(
                "keys",
                {},
                [
                    Node("type", {}, b"\x05"),
                    Node("identity", {}, account.identity.public),
                    Node(
                        "key",
                        {},
                        [
                            Node("id", {}, pre_key.key_id.to_bytes(3, "big")),
                            Node("value", {}, pre_key.key_pair.public),
                        ],
                    ),
                    Node(
                        "skey",
                        {},
                        [
                            Node("id", {}, signed.key_id.to_bytes(3, "big")),
                            Node("value", {}, signed.key_pair.public),
                            Node("signature", {}, signed.signature),
                        ],
                    ),
                ],
            )
        )
    _reply(state, account, node, "retry", content)


def phone_gets(state: ServerState, account: Account, node: Node) -> None:
    """A non-message stanza for a phone: it keeps receipts and answers retry receipts."""
    if node.tag != "receipt":
        return
    items = [str(node.attrs.get("id", ""))]
    listed = node.get_optional_child_by_tag("list")
    if listed is not None:
        items += [str(i.attrs.get("id", "")) for i in listed.children_by_tag("item")]
    author = node.attrs.get("participant") or node.attrs.get("from")
    receipt_type = str(node.attrs.get("type", ""))
    person = get_people(state).of(account)
    record_receipt(state, account, items, receipt_type, node.attr_jid_opt("recipient"))
    person.receipts.append(
        ReceivedReceipt(
            ids=items, sender=str(author), type=receipt_type, t=int(str(node.attrs.get("t", "0")))
        )
    )
    if receipt_type == "retry" and isinstance(author, JID):
        state.spawn(_answer_retry(state, account, author, node), name="phone resends")
    hook = receipt_hooks(state).get(receipt_type)
    if hook is not None:
        hook(state, account, node)


async def _answer_retry(state: ServerState, account: Account, requester: JID, node: Node) -> None:
    person = get_people(state).of(account)
    retry = node.get_optional_child_by_tag("retry")
    count = retry.attrs.get("count", "1") if retry is not None else "1"
    bundle = None
    keys = node.get_optional_child_by_tag("keys")
    registration = node.get_optional_child_by_tag("registration")
    try:
        if keys is not None and registration is not None:
            bundle = _bundle_from_keys(requester.device, registration, keys)
    except (BinaryError, SignalError, ValueError) as e:
        person.failures.append(f"retry receipt {node.attrs.get('id')} with bad keys: {e!r}")
        return
    target = address_of(get_world(state), requester)
    if target is None:
        return
    async with person.lock:
        if bundle is not None:
            await SessionBuilder(person.store, target).process_bundle(bundle)
        else:
            await person.store.delete_session(target)
    await resend(state, account, requester, str(node.attrs.get("id", "")), str(count))


def _bundle_from_keys(device: int, registration: Node, keys: Node) -> PreKeyBundle:
    skey = keys.get_child_by_tag("skey")
    key = keys.get_optional_child_by_tag("key")
    return PreKeyBundle(
        registration_id=int.from_bytes(registration.content_bytes(), "big"),
        device_id=device,
        identity_key=keys.get_child_by_tag("identity").content_bytes(),
        signed_pre_key_id=int.from_bytes(skey.get_child_by_tag("id").content_bytes(), "big"),
        signed_pre_key=skey.get_child_by_tag("value").content_bytes(),
        signed_pre_key_signature=skey.get_child_by_tag("signature").content_bytes(),
        pre_key_id=(
            int.from_bytes(key.get_child_by_tag("id").content_bytes(), "big") if key else None
        ),
        pre_key=key.get_child_by_tag("value").content_bytes() if key else None,
    )
