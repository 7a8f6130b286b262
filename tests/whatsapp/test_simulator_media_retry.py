"""The phone sending media through the admin API, and answering a companion's media-retry
request (``<receipt type="server-error">``) by uploading expired media again, seen from a raw
companion: the request is sealed and the answer opened here with AES-GCM and hand-written
protobuf, not with the simulator's code.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.crypto.hkdf import hkdf_sha256
from tests.simulator.media_crypto import decrypt_media
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.raw_device import RawDevice, linked_raw_device
from tests.whatsapp.test_client_helpers import admin

ME, FRIEND = "15550007101", "15550007202"
TIMEOUT = aiohttp.ClientTimeout(total=60)


def _key(media_key: bytes) -> AESGCM:
    return AESGCM(hkdf_sha256(media_key, b"", b"WhatsApp Media Retry Notification", 32))


def _fields(data: bytes) -> dict[int, bytes | int]:
    """A flat protobuf message: field number → value (length-delimited or varint)."""
    fields: dict[int, bytes | int] = {}
    at = 0

    def varint() -> int:
        nonlocal at
        value, shift = 0, 0
        while True:
            byte = data[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while at < len(data):
        tag = varint()
        if tag & 7 == 2:
            size = varint()
            fields[tag >> 3] = data[at : at + size]
            at += size
        else:
            fields[tag >> 3] = varint()
    return fields


def _request(message_id: str, media_key: bytes, rmr: dict[str, str | JID]) -> Node:
    stanza = message_id.encode()
    plaintext = b"\x0a" + bytes([len(stanza)]) + stanza  # ServerErrorReceipt{stanzaID}
    iv = os.urandom(12)
    sealed = _key(media_key).encrypt(iv, plaintext, stanza)
    encrypt = Node("encrypt", {}, [Node("enc_p", {}, sealed), Node("enc_iv", {}, iv)])
    attrs: dict[str, str | JID] = {
        "id": message_id,
        "to": JID(ME, "s.whatsapp.net"),
        "type": "server-error",
    }
    return Node("receipt", attrs, [encrypt, Node("rmr", rmr)])


async def _retry(raw: RawDevice, request: Node) -> Node:
    assert raw.client is not None
    await raw.client.send(request)
    while True:
        node = await raw.next("notification")
        if node.attrs.get("type") == "mediaretry":
            return node


async def _friend_sends_image(info: SimulatorInfo, data: bytes) -> tuple[str, dict[str, Any]]:
    await admin(info, "POST", "/accounts", {"phone": FRIEND, "push_name": "Fran"})
    media = {"type": "image", "data": base64.b64encode(data).decode(), "caption": "look"}
    _, sent = await admin(info, "POST", f"/accounts/{FRIEND}/send", {"to": ME, "media": media})
    _, got = await admin(info, "GET", f"/accounts/{ME}/received?id={sent['id']}&timeout=20")
    [message] = got["messages"]
    return str(sent["id"]), dict(message["message"]["imageMessage"])


async def test_phone_media_send_expiry_and_media_retry(simulator: SimulatorInfo) -> None:  # noqa: F811
    raw = await linked_raw_device(simulator, ME)
    data = os.urandom(3000)
    try:
        message_id, image = await _friend_sends_image(simulator, data)
        assert image["caption"] == "look" and image["mimetype"] == "image/jpeg"
        assert int(image["fileLength"]) == len(data)
        media_key = base64.b64decode(image["mediaKey"])
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            async with http.get(image["URL"]) as response:
                assert response.status == 200
                blob = await response.read()
            assert decrypt_media(blob, "image", media_key) == data
            await admin(simulator, "POST", "/media/expire", {"account": ME, "id": message_id})
            async with http.get(image["URL"]) as response:
                assert response.status == 410

            rmr: dict[str, str | JID] = {"jid": JID(FRIEND, "s.whatsapp.net"), "from_me": "false"}
            answer = await _retry(raw, _request(message_id, media_key, rmr))
            assert answer.attrs["id"] == message_id
            assert str(answer.attrs["from"]) == f"{ME}@s.whatsapp.net"
            assert str(answer.get_child_by_tag("rmr").attrs["jid"]) == f"{FRIEND}@s.whatsapp.net"
            encrypt = answer.get_child_by_tag("encrypt")
            plaintext = _key(media_key).decrypt(
                encrypt.get_child_by_tag("enc_iv").content_bytes(),
                encrypt.get_child_by_tag("enc_p").content_bytes(),
                message_id.encode(),
            )
            fields = _fields(plaintext)
            assert fields[1] == message_id.encode() and fields[3] == 1  # SUCCESS
            path_field = fields[2]
            assert isinstance(path_field, bytes)
            new_path = path_field.decode()
            assert new_path != image["directPath"]
            base = image["URL"].split("/v/", 1)[0]
            async with http.get(f"{base}{new_path}&mms-type=image") as response:
                assert response.status == 200
                assert decrypt_media(await response.read(), "image", media_key) == data

        unknown = await _retry(raw, _request("3EB0000000000000DEAD", media_key, rmr))
        assert unknown.get_child_by_tag("error").attrs["code"] == "2"
        assert unknown.get_optional_child_by_tag("encrypt") is None
        wrong = await _retry(raw, _request(message_id, os.urandom(32), rmr))
        assert wrong.get_child_by_tag("error").attrs["code"] == "3"
    finally:
        await raw.close()


@pytest.mark.simulator_protocol_errors("malformed media-retry receipt")
async def test_malformed_media_retry_request_is_recorded_and_the_session_goes_on(
    simulator: SimulatorInfo,  # noqa: F811
) -> None:
    raw = await linked_raw_device(simulator, ME)
    try:
        assert raw.client is not None
        attrs: dict[str, str | JID] = {
            "id": "3EB0000000000000BEEF",
            "to": JID(ME, "s.whatsapp.net"),
        }
        await raw.client.send(Node("receipt", {**attrs, "type": "server-error"}))
        ack = await raw.next("ack")
        assert ack.attrs["id"] == attrs["id"]
        nodes = await raw.quiet()
        assert not [n for n in nodes if n.tag == "notification"]
        _, status = await admin(simulator, "GET", "/status")
        assert len(status["protocol_errors"]) == 1
        assert not status["internal_errors"]
    finally:
        await raw.close()
