"""The simulated phones: accounts, linking companions by QR or pairing code, unlinking them.

:class:`PhoneWorld` lives in ``state.extra["phone"]`` (see :func:`get_world`); other simulator
modules use it to find accounts, devices and the live connection of a device.

Linking (both flows) ends in :meth:`PhoneWorld.link_device`: the phone signs the companion's
identity, the server sends ``pair-success``, the companion answers ``pair-device-sign`` (checked:
``06 01`` device signature), and the server sends ``<stream:error code="515"/>``. The device
counts as linked from the moment pair-success is sent (the phone has signed it), so a companion
that saved it and lost the connection before answering can still log in.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mautrix_whatsapp.whatsapp import pair_code
from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID

from .accounts import Account, AccountRegistry, LinkedDevice
from .connection import SERVER, Connection, ConnectionClosedError, IQErrorResponse, new_stanza_id
from .pairing import (
    DeviceSignatureError,
    PendingCodePairing,
    Tamper,
    check_device_signature,
    details_of,
    finish_code_pairing,
    primary_hello,
    sign_device_identity,
)
from .qr import ScannedQR
from .state import AdminError, DeviceRecord, PendingRegistration, ServerState

log = logging.getLogger("simulator.phone")

PAIR_REPLY_TIMEOUT = 15.0
CODE_FINISH_TIMEOUT = 20.0
DEFAULT_PHONE = "15550000001"


@dataclass
class RefLifetimes:
    """How long refs stay scannable (WhatsApp: 60 s, then 20 s each); admin-settable."""

    first: float = 60.0
    next: float = 20.0

    def deadline(self, created_at: float, index: int) -> float:
        return created_at + self.first + self.next * index


@dataclass(frozen=True)
class LoginFailure:
    """A ``<failure>`` the next login(s) of a device (or any device) get."""

    reason: int
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class LinkResult:
    account: Account
    device: LinkedDevice | None
    error: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"phone": self.account.phone, "linked": self.error is None}
        if self.device is not None:
            data["jid"] = self.account.device_jid(self.device.device_id)
            data["lid"] = self.account.device_lid(self.device.device_id)
            data["device"] = self.device.device_id
        if self.error is not None:
            data["error"] = self.error
        return data


class PhoneWorld:
    """Accounts and their phones' behaviour for one simulator."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.accounts = AccountRegistry()
        self.ref_lifetimes = RefLifetimes()
        self.pending_codes: dict[str, PendingCodePairing] = {}
        """By pairing ref."""
        self.code_results: dict[str, asyncio.Future[LinkResult]] = {}
        self.login_failures: dict[str, list[LoginFailure]] = {}
        """By device JID text, or ``"*"`` for any device."""
        self.sessions: dict[tuple[str, int], Connection] = {}
        """Logged-in connections by (phone, device)."""
        self.next_tamper = Tamper()
        self.scan_phone: str | None = None
        """Whose phone scans QR codes posted to scan-qr (None: the first account)."""
        self.offline_queues: dict[tuple[str, int], list[Node]] = {}
        """Stanzas for logged-out companions, delivered at their next login."""
        self.acks: dict[str, deque[Node]] = {}
        """The ``<ack>`` stanzas each companion sent, by device JID (newest last)."""
        self.device_hooks: list[Callable[[Account, LinkedDevice, str], None]] = []
        """Called with ``"add"`` when a companion is confirmed, ``"remove"`` when one that was
        confirmed is unlinked (e.g. to send ``devices`` notifications)."""

    # --- accounts ---

    def account(self, phone: str | None) -> Account:
        """The named account (created on first use), or the default phone's."""
        if phone:
            return self.accounts.create(phone)
        existing = next(iter(self.accounts), None)
        return existing or self.accounts.create(DEFAULT_PHONE)

    def scanning_account(self, registration: PendingRegistration) -> Account:
        """Whose phone scans a QR: the default account if one is marked, else the person the
        registration's push name stands for (each Baileys e2e client is its own person), else
        the first account."""
        if self.scan_phone is None:
            conn = registration.connection
            push_name = conn.payload.pushName if conn is not None and conn.payload else ""
            if push_name:
                return self.accounts.create(phone_for_push_name(push_name), push_name=push_name)
        return self.account(self.scan_phone)

    def device_of(self, jid_text: str) -> tuple[Account, LinkedDevice]:
        """Find a linked device by ``phone:device@s.whatsapp.net`` (or its LID form)."""
        try:
            jid = JID.parse(jid_text)
        except ValueError as e:
            raise AdminError(400, f"not a JID: {jid_text}") from e
        account = (
            self.accounts.find_by_lid(jid.user)
            if jid.server == "lid"
            else self.accounts.find(jid.user)
        )
        if account is None or jid.device not in account.devices:
            raise AdminError(404, f"no linked device {jid_text}")
        return account, account.devices[jid.device]

    def connection_of(self, account: Account, device_id: int) -> Connection | None:
        conn = self.sessions.get((account.phone, device_id))
        return conn if conn is not None and not conn.closed.is_set() else None

    # --- linking ---

    async def link_device(
        self,
        account: Account,
        registration: PendingRegistration,
        adv_secret: bytes,
        platform: str,
    ) -> LinkResult:
        """Sign the companion, send pair-success, check pair-device-sign, then 515."""
        conn = registration.connection
        if conn is None or conn.closed.is_set():
            raise AdminError(409, "the companion is no longer connected")
        # A re-registering noise key unlinks its earlier incarnation (a stale, orphaned device).
        stale = self.accounts.find_device(registration.noise_public)
        if stale is not None:
            self.unlink(*stale, notify=False)
        device_id, key_index = account.allocate_device()
        tamper, self.next_tamper = self.next_tamper, Tamper()
        container, account_signature = sign_device_identity(
            account, registration.identity_public, adv_secret, device_id, key_index, tamper=tamper
        )
        device = LinkedDevice(
            device_id=device_id,
            noise_public=registration.noise_public,
            identity_public=registration.identity_public,
            registration_id=registration.registration_id,
            key_index=key_index,
            platform=platform,
            signed_pre_key_id=registration.signed_prekey_id,
            signed_pre_key_public=registration.signed_prekey_public,
            signed_pre_key_signature=registration.signed_prekey_signature,
            account_signature=account_signature,
            device_props=registration.device_props,
        )
        account.devices[device_id] = device
        self.state.add_device(
            DeviceRecord(
                user=account.phone,
                device=device_id,
                noise_public=registration.noise_public,
                identity_public=registration.identity_public,
                lid_user=account.lid,
            )
        )
        self.state.drop_pending_registration(registration)
        pair_success = Node(
            "iq",
            {"type": "set", "from": SERVER, "id": new_stanza_id(), "t": str(int(time.time()))},
            [
                Node(
                    "pair-success",
                    {},
                    [
                        Node("device-identity", {}, container),
                        Node("platform", {"name": "android"}),
                        Node(
                            "device",
                            {
                                "jid": JID.parse(account.device_jid(device_id)),
                                "lid": JID.parse(account.device_lid(device_id)),
                            },
                        ),
                    ],
                )
            ],
        )
        try:
            reply = await conn.send_iq(pair_success, PAIR_REPLY_TIMEOUT)
        except IQErrorResponse as e:
            error = e.node.get_optional_child_by_tag("error")
            info = {k: str(v) for k, v in (error.attrs if error is not None else {}).items()}
            log.info("companion refused pair-success: %s", info)
            self.unlink(account, device, notify=False)
            await conn.close()
            return LinkResult(account, device, info or {"text": "error"})
        except (ConnectionClosedError, TimeoutError):
            log.info("companion went away before answering pair-success")
            return LinkResult(account, device, {"text": "no-answer"})
        sign = reply.get_optional_child_by_tag("pair-device-sign", "device-identity")
        try:
            if sign is None:
                raise DeviceSignatureError("no pair-device-sign in the answer")
            device.device_signature = check_device_signature(
                sign.content_bytes(), registration.identity_public, account, details_of(container)
            )
        except DeviceSignatureError as e:
            self.state.record_protocol_error(f"{conn!r}: {e}")
            self.unlink(account, device, notify=False)
            await conn.send_stream_error("401")
            return LinkResult(account, device, {"text": "bad-device-signature"})
        device.confirmed = True
        for hook in self.device_hooks:
            hook(account, device, "add")
        await end_stream(conn, "515")
        return LinkResult(account, device)

    def ref_expired(self, registration: PendingRegistration, ref: str) -> bool:
        try:
            index = registration.refs.index(ref)
        except ValueError:
            return True
        return time.time() > self.ref_lifetimes.deadline(registration.created_at, index)

    async def scan_qr(
        self, scanned: ScannedQR, registration: PendingRegistration
    ) -> dict[str, Any]:
        """The phone scanned a valid QR: link the companion that shows it."""
        if self.ref_expired(registration, scanned.ref):
            raise AdminError(410, "QR ref expired")
        account = self.scanning_account(registration)
        result = await self.link_device(
            account, registration, scanned.adv_secret, scanned.platform or ""
        )
        return result.to_json()

    # --- pairing code ---

    def companion_hello(self, conn: Connection, reg: Node) -> tuple[str, PendingCodePairing]:
        jid = reg.attr_jid("jid")
        phone = pair_code.validate_phone_number(jid.user)
        wrapped = reg.get_child_by_tag("link_code_pairing_wrapped_companion_ephemeral_pub")
        noise = reg.get_child_by_tag("companion_server_auth_key_pub").content_bytes()
        if len(wrapped.content_bytes()) != pair_code.WRAPPED_KEY_SIZE:
            raise ValueError("wrapped companion ephemeral key is not 80 bytes")
        if noise != conn.client_static:
            raise ValueError("companion_server_auth_key_pub is not this connection's noise key")
        platform_id = reg.get_child_by_tag("companion_platform_id").content_str()
        display = reg.get_child_by_tag("companion_platform_display").content_str()
        if " (" not in display or not display.endswith(")"):
            raise ValueError("companion_platform_display must look like 'Browser (OS)'")
        self.accounts.create(phone)
        ref = self.state.new_ref()
        pending = PendingCodePairing(
            ref=ref,
            phone=phone,
            wrapped_companion_ephemeral=wrapped.content_bytes(),
            noise_public=noise,
            platform_id=platform_id,
            platform_display=display,
            connection_id=conn.id,
        )
        for old_ref, old in list(self.pending_codes.items()):
            if old.phone == phone:
                del self.pending_codes[old_ref]
        self.pending_codes[ref] = pending
        return ref, pending

    def _pending_for_phone(self, phone: str) -> PendingCodePairing:
        for pending in reversed(list(self.pending_codes.values())):
            if pending.phone == phone:
                return pending
        raise AdminError(404, f"no companion waits for a pairing code for {phone}")

    def _connection(self, connection_id: int) -> Connection:
        for conn in self.state.connections:
            if conn.id == connection_id and not conn.closed.is_set():
                return conn
        raise AdminError(409, "the companion is no longer connected")

    async def enter_code(self, phone: str, code: str) -> LinkResult:
        """The user types ``code`` on ``phone``: send primary_hello, await the outcome."""
        pending = self._pending_for_phone(phone.lstrip("+"))
        conn = self._connection(pending.connection_id)
        account = self.accounts.get(pending.phone)
        wrapped = await asyncio.to_thread(primary_hello, pending, code)
        future: asyncio.Future[LinkResult] = asyncio.get_running_loop().create_future()
        self.code_results[pending.ref] = future
        notification = Node(
            "notification",
            {
                "from": SERVER,
                "type": "link_code_companion_reg",
                "id": new_stanza_id(),
                "t": str(int(time.time())),
            },
            [
                Node(
                    "link_code_companion_reg",
                    {"stage": "primary_hello"},
                    [
                        Node("link_code_pairing_ref", {}, pending.ref.encode()),
                        Node("primary_identity_pub", {}, account.identity.public),
                        Node("link_code_pairing_wrapped_primary_ephemeral_pub", {}, wrapped),
                    ],
                )
            ],
        )
        await conn.send_node(notification)
        try:
            async with asyncio.timeout(CODE_FINISH_TIMEOUT):
                return await future
        except TimeoutError:
            raise AdminError(504, "the companion did not finish the code pairing") from None
        finally:
            self.code_results.pop(pending.ref, None)

    async def companion_finish(self, conn: Connection, reg: Node) -> Node | None:
        """Check the key bundle; on success link the device (in the background)."""
        ref = reg.get_child_by_tag("link_code_pairing_ref").content_str()
        pending = self.pending_codes.get(ref)
        if pending is None or pending.connection_id != conn.id:
            return None
        account = self.accounts.get(pending.phone)
        bundle = reg.get_child_by_tag("link_code_pairing_wrapped_key_bundle").content_bytes()
        identity = reg.get_child_by_tag("companion_identity_public").content_bytes()
        future = self.code_results.get(ref)
        try:
            adv_secret = await asyncio.to_thread(
                finish_code_pairing, pending, account, bundle, identity
            )
        except pair_code.InvalidPairingDataError as e:
            log.info("code pairing failed: %s", e)
            if future is not None and not future.done():
                future.set_result(LinkResult(account, None, {"text": "incorrect-code"}))
            return Node("error", {"code": "400", "text": "incorrect-code"})
        del self.pending_codes[ref]
        registration = conn.extra.get("registration")
        if not isinstance(registration, PendingRegistration):
            return Node("error", {"code": "409", "text": "not-registering"})

        async def link() -> None:
            try:
                result = await self.link_device(
                    account, registration, adv_secret, pending.platform_display
                )
            except AdminError as e:
                result = LinkResult(account, None, {"text": e.message})
            if future is not None and not future.done():
                future.set_result(result)

        self.state.spawn(link(), name="code-pairing link")
        return Node("ok")

    # --- unlinking ---

    def unlink(self, account: Account, device: LinkedDevice, *, notify: bool = True) -> None:
        """Remove a companion. With ``notify``, a live connection gets device_removed."""
        if account.devices.pop(device.device_id, None) is not None and device.confirmed:
            for hook in self.device_hooks:
                hook(account, device, "remove")
        record = self.state.find_device(account.phone, device.device_id)
        if record is not None:
            record.removed = True
        conn = self.connection_of(account, device.device_id)
        if notify and conn is not None:
            conflict = Node("conflict", {"type": "device_removed"})
            self.state.spawn(end_stream(conn, "401", [conflict]), name="device removed")


async def end_stream(
    conn: Connection, code: str | None, children: list[Node] | None = None, grace: float = 1.0
) -> None:
    """Send ``<stream:error>`` and close, giving the client ``grace`` seconds to close first.

    Closing at once races the client's processing of the stanza: Baileys then sees a plain
    close (428) instead of the 515 restart.
    """
    attrs = {"code": code} if code is not None else {}
    try:
        await conn.send_node(Node("stream:error", attrs, children or None))
    except ConnectionClosedError:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(conn.closed.wait(), grace)
    await conn.close()


def phone_for_push_name(push_name: str) -> str:
    """A phone number derived deterministically from a push name (``1777`` + 7 digits)."""
    digest = hashlib.sha256(push_name.encode()).digest()
    return f"1777{int.from_bytes(digest[:8], 'big') % 10**7:07d}"


def get_world(state: ServerState) -> PhoneWorld:
    """The phone world of a simulator (created by ``install``)."""
    world = state.extra.get("phone")
    if not isinstance(world, PhoneWorld):
        world = state.extra["phone"] = PhoneWorld(state)
    return world
