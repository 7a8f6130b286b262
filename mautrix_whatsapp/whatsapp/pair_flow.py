"""Linking at the node level: the server's ``pair-device`` (QR refs) and ``pair-success``.

The checks and signatures are pure functions in :mod:`.pair`; this module sends and answers the
nodes and keeps the linking attempt's state (the QR rotation, whether the server has offered
pairing on this connection). Both QR and pairing-code linking end in the same ``pair-success``.

A refused ``pair-success`` (bad HMAC, bad signature, garbage) gets the error IQ whatsmeow sends,
a :class:`~.events.PairError` event, and the connection is closed with the device still unpaired
and untouched, so the same identity can try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from .binary import BinaryError
from .binary.jid import JID, SERVER_JID
from .binary.node import Node
from .connection import NotConnectedError
from .events import PairError, PairSuccess, QRTimeout
from .pair import PairedIdentity, make_qr_data, process_pair_success
from .pair import PairError as PairFailure
from .qrchan import rotate_qr_codes
from .signal.address import SignalAddress
from .socket.errors import SocketError

if TYPE_CHECKING:
    from .client import Client


class PairDataError(PairFailure):
    """``pair-success`` lacks a part or carries unusable JIDs (answered ``500 internal-error``)."""


def _user_jid(jid: JID, server: str, what: str) -> JID:
    """``jid`` if it is a device of a user on ``server``, else PairDataError."""
    if jid.server != server or not jid.user:
        raise PairDataError(f"pair-success {what} {jid} is not a {server} user")
    try:
        SignalAddress.from_jid_parts(jid.user, jid.device, jid.server)
    except ValueError as e:
        raise PairDataError(f"pair-success {what} {jid} has no Signal address: {e}") from e
    return jid


class PairFlow:
    """One client's QR linking: shows the refs, checks ``pair-success``, stores the result."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.qr_task: asyncio.Task[None] | None = None
        self.pair_device_seen = asyncio.Event()
        """Set once the server offered pairing on the current connection (pair_phone waits)."""

    def new_connection(self) -> None:
        self.pair_device_seen.clear()

    def stop_qr(self) -> None:
        if self.qr_task is not None:
            self.qr_task.cancel()
            self.qr_task = None

    async def handle_pair_device(self, node: Node, pair_device: Node) -> None:
        client = self.client
        await client._reply_result(node)
        if client.device.is_paired:
            client.log.warning("Server offered pairing, but the device is already paired")
            return
        refs: list[str] = []
        for child in pair_device.children:
            if child.tag != "ref":
                continue
            try:
                refs.append(child.content_str())
            except BinaryError as e:
                client.log.warning("Skipping a malformed pairing ref: %s", e)
        if not refs:
            client.log.warning("Server offered pairing without any usable ref")
            return
        device = client.device
        codes = [
            make_qr_data(
                ref,
                device.noise_key.public,
                device.identity_key.public,
                device.adv_secret,
                client.qr_platform,
            )
            for ref in refs
        ]
        self.pair_device_seen.set()
        self.stop_qr()
        self.qr_task = client._spawn(
            rotate_qr_codes(codes, client.timing.qr, client.dispatch, self._qr_timed_out)
        )

    async def _qr_timed_out(self) -> None:
        self.client.log.info("QR codes ran out before a phone linked us")
        self.client._expected_disconnect = True
        await self.client.dispatch(QRTimeout())
        await self.client._stop_connection()

    async def handle_pair_success(self, node: Node, success: Node) -> None:
        client = self.client
        request_id = str(node.attrs.get("id", ""))
        if client.device.is_paired:
            # Only an unpaired registration connection may be paired; never overwrite a link.
            client.log.warning("Refusing pair-success: the device is already paired")
            with contextlib.suppress(NotConnectedError, SocketError):
                await client._reply_error(request_id, 500, "internal-error")
            return
        t = node.attrs.get("t")
        if t is not None and str(t).isdigit():
            client.server_time_offset = int(str(t)) - time.time()
        try:
            jid, lid, paired, platform, business = self._parse(success)
        except PairFailure as e:
            client.log.warning("Refusing pair-success: %s", e)
            with contextlib.suppress(NotConnectedError, SocketError):
                await client._reply_error(request_id, e.code, e.text)
            await self._failed(e)
            return
        unpaired = client.device
        paired_device = unpaired.unpaired_copy()
        paired_device.jid = jid
        paired_device.lid = lid
        paired_device.account = paired.account
        paired_device.platform = platform
        paired_device.business_name = business
        try:
            await client.device_store.save_device(paired_device)
            if lid is not None:
                address = SignalAddress.from_jid_parts(lid.user, 0, lid.server)
                await client.signal_store.save_identity(address, paired.account_signature_key)
        except Exception as e:
            client.log.exception("Failed to save the paired device")
            with contextlib.suppress(NotConnectedError, SocketError):
                await client._reply_error(request_id, 500, "internal-error")
            with contextlib.suppress(Exception):
                await client.device_store.delete_device()
            await self._failed(e)
            return
        client.device = paired_device
        sign = Node(
            "pair-device-sign",
            {},
            [Node("device-identity", {"key-index": str(paired.key_index)}, paired.self_signed)],
        )
        await client.send_node(
            Node("iq", {"to": SERVER_JID, "type": "result", "id": request_id}, [sign])
        )
        client._code_pairing.clear()
        # Stop the QR rotation; the 515 that follows reconnects with the login payload.
        self.stop_qr()
        client.log.info("Paired as %s", jid)
        await client.dispatch(
            PairSuccess(jid=jid, lid=lid, platform=platform, business_name=business)
        )

    def _parse(self, success: Node) -> tuple[JID, JID | None, PairedIdentity, str, str]:
        """Everything ``pair-success`` carries, checked; PairError subclasses otherwise."""
        identity_node = success.get_optional_child_by_tag("device-identity")
        device_node = success.get_optional_child_by_tag("device")
        if identity_node is None or device_node is None:
            raise PairDataError("pair-success without device-identity or device")
        try:
            jid = _user_jid(device_node.attr_jid("jid"), "s.whatsapp.net", "JID")
            lid = device_node.attr_jid_opt("lid")
            if lid is not None:
                lid = _user_jid(lid, "lid", "LID")
            identity = identity_node.content_bytes()
            platform_node = success.get_optional_child_by_tag("platform")
            biz_node = success.get_optional_child_by_tag("biz")
            platform = (platform_node.attr_str_opt("name") if platform_node else None) or ""
            business = (biz_node.attr_str_opt("name") if biz_node else None) or ""
        except BinaryError as e:
            raise PairDataError(f"malformed pair-success: {e}") from e
        device = self.client.device
        paired = process_pair_success(identity, device.adv_secret, device.identity_key)
        return jid, lid, paired, platform, business

    async def _failed(self, error: Exception) -> None:
        """Like whatsmeow: report the error and drop the connection, still unpaired."""
        self.client._expected_disconnect = True
        await self.client.dispatch(PairError(error=error))
        await self.client._stop_connection()
