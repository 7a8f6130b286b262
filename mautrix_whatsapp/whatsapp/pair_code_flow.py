"""Linking by pairing code at the node level (whatsmeow's ``pair-code.go``).

``companion_hello`` asks the server to let the phone number's owner type our code; the phone's
answer arrives as a ``link_code_companion_reg`` notification (``primary_hello``), which we answer
with ``companion_finish``. The phone then sends the usual ``pair-success`` (:mod:`.pair_flow`).
The cryptography is in :mod:`.pair_code`, shared with the test simulator's phone.

A wrong code typed on the phone makes the server refuse ``companion_finish``: that becomes a
:class:`~.events.PairError` instead of a wait that never ends, and the QR codes still on show
keep working, because the ADV secret they carry is put back.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from . import pair_code
from .binary import BinaryError
from .binary.jid import JID
from .binary.node import Node
from .connection import AlreadyPairedError, NotConnectedError
from .events import PairError, PairingCode
from .pair import PairClientType
from .request import IQError
from .socket.errors import SocketError

if TYPE_CHECKING:
    from .client import Client


class CodePairing:
    """One client's pending pairing-code attempt (at most one at a time)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.hello: pair_code.CompanionHello | None = None
        self.ref: bytes | None = None

    def clear(self) -> None:
        self.hello = None
        self.ref = None

    async def start(
        self,
        phone: str,
        *,
        show_push_notification: bool,
        client_type: PairClientType,
        client_display_name: str,
    ) -> str:
        """``companion_hello``; returns the ``XXXX-XXXX`` code (see :meth:`Client.pair_phone`)."""
        client = self.client
        digits = pair_code.validate_phone_number(phone)
        if client.device.is_paired:
            raise AlreadyPairedError("the device is already linked")
        try:
            async with asyncio.timeout(client.timing.pair_device_wait):
                await client._pair.pair_device_seen.wait()
        except TimeoutError:
            raise NotConnectedError("the server has not offered pairing") from None
        hello = await asyncio.to_thread(pair_code.CompanionHello.start, digits)
        reg = Node(
            "link_code_companion_reg",
            {
                "jid": JID(digits, "s.whatsapp.net"),
                "stage": "companion_hello",
                "should_show_push_notification": "true" if show_push_notification else "false",
            },
            [
                Node(
                    "link_code_pairing_wrapped_companion_ephemeral_pub",
                    {},
                    hello.wrapped_ephemeral,
                ),
                Node("companion_server_auth_key_pub", {}, client.device.noise_key.public),
                Node("companion_platform_id", {}, client_type.value),
                Node("companion_platform_display", {}, client_display_name),
                Node("link_code_pairing_nonce", {}, b"\x00"),
            ],
        )
        response = await client.send_iq("md", "set", [reg])
        try:
            ref_node = response.get_child_by_tag(
                "link_code_companion_reg", "link_code_pairing_ref"
            )
            ref = ref_node.content_bytes()
        except BinaryError as e:
            raise pair_code.InvalidPairingDataError(f"companion_hello answer: {e}") from e
        self.hello, self.ref = hello, ref
        await client.dispatch(PairingCode(code=hello.display_code, phone=digits))
        return hello.display_code

    async def handle_notification(self, node: Node) -> None:
        """The phone's ``primary_hello``: answer with ``companion_finish``."""
        client = self.client
        hello, ref = self.hello, self.ref
        reg = node.get_optional_child_by_tag("link_code_companion_reg")
        if reg is None or hello is None or ref is None:
            client.log.warning("Got a code-pairing notification without a pending code pairing")
            return
        try:
            ref_node = reg.get_child_by_tag("link_code_pairing_ref")
            if ref_node.content_bytes() != ref:
                client.log.warning("Code-pairing notification for another ref")
                return
            wrapped = reg.get_child_by_tag("link_code_pairing_wrapped_primary_ephemeral_pub")
            primary_identity = reg.get_child_by_tag("primary_identity_pub").content_bytes()
            finish = await asyncio.to_thread(
                pair_code.companion_finish,
                hello,
                client.device.identity_key,
                wrapped.content_bytes(),
                primary_identity,
            )
        except (BinaryError, pair_code.PairCodeError) as e:
            client.log.warning("Malformed primary_hello: %s", e)
            await client.dispatch(PairError(error=e))
            return
        # The QR codes on show carry the old secret; keep it if the phone refuses the code.
        previous_secret, client.device.adv_secret = client.device.adv_secret, finish.adv_secret
        finish_node = Node(
            "link_code_companion_reg",
            {"jid": JID(hello.phone, "s.whatsapp.net"), "stage": "companion_finish"},
            [
                Node("link_code_pairing_wrapped_key_bundle", {}, finish.wrapped_key_bundle),
                Node("companion_identity_public", {}, client.device.identity_key.public),
                Node("link_code_pairing_ref", {}, ref),
            ],
        )
        try:
            await client.send_iq("md", "set", [finish_node])
        except IQError as e:
            # Typically a wrong code typed on the phone: report it instead of waiting forever.
            client.log.warning("companion_finish refused: %s", e)
            self.clear()
            client.device.adv_secret = previous_secret
            await client.dispatch(PairError(error=e))
        except (NotConnectedError, SocketError) as e:
            client.log.debug("Connection ended during companion_finish: %s", e)
            client.device.adv_secret = previous_secret
