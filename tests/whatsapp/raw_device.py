"""A logged-in companion as bare stanzas, for simulator tests of server features (no tests here).

:func:`linked_raw_device` links a fresh device to an account through our client (QR scan), then
logs in again with a :class:`~tests.simulator_fixture.SimulatorClient` on the same keys, so a
test speaks raw IQs and reads every stanza the server sends that device.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client_payload import ClientConfig, client_payload
from mautrix_whatsapp.whatsapp.device import DeviceIdentity
from tests.simulator_fixture import SimulatorClient, SimulatorInfo
from tests.whatsapp.test_client_helpers import admin, link_by_qr, make_client

RECEIVE_TIMEOUT = 10.0


@dataclass
class RawDevice:
    """One logged-in companion: IQs by id, everything else in :attr:`inbox`, in order."""

    info: SimulatorInfo
    device: DeviceIdentity
    phone: str
    lid: str
    client: SimulatorClient | None = None
    inbox: asyncio.Queue[Node] = field(default_factory=asyncio.Queue)
    _pending: dict[str, asyncio.Future[Node]] = field(default_factory=dict)
    _reader: asyncio.Task[None] | None = None
    _ids: int = 0

    @property
    def jid(self) -> JID:
        return JID(self.phone, "s.whatsapp.net")

    async def login(self) -> list[Node]:
        """Log in; return what came before ``<ib><offline>`` (the queued stanzas included)."""
        payload = client_payload(self.device, ClientConfig())
        self.client = await SimulatorClient.connect(self.info, self.device.noise_key, payload)
        success = await self.client.receive()
        assert success.tag == "success", success
        before: list[Node] = []
        while True:
            node = await self.client.receive()
            if node.tag == "ib" and node.get_optional_child_by_tag("offline") is not None:
                break
            before.append(node)
        self._reader = asyncio.create_task(self._read(self.client))
        return before

    async def _read(self, client: SimulatorClient) -> None:
        while True:
            try:
                node = await client.receive(timeout=3600)
            except Exception:
                return
            future = self._pending.pop(str(node.attrs.get("id", "")), None)
            if node.tag == "iq" and future is not None and not future.done():
                future.set_result(node)
            else:
                await self.inbox.put(node)

    async def iq(
        self,
        type: str,
        to: JID | str,
        content: list[Node] | None,
        xmlns: str = "w:g2",
        **attrs: Any,
    ) -> Node:
        """Send an IQ, return the server's answer (result or error)."""
        assert self.client is not None
        self._ids += 1
        iq_id = f"g{self._ids}"
        target = to if isinstance(to, JID) else JID.parse(to)
        node = Node(
            "iq", {"id": iq_id, "type": type, "xmlns": xmlns, "to": target, **attrs}, content
        )
        future: asyncio.Future[Node] = asyncio.get_running_loop().create_future()
        self._pending[iq_id] = future
        await self.client.send(node)
        async with asyncio.timeout(RECEIVE_TIMEOUT):
            return await future

    async def next(self, tag: str = "notification", timeout: float = RECEIVE_TIMEOUT) -> Node:
        """The next stanza with ``tag`` (others of the inbox are dropped)."""
        async with asyncio.timeout(timeout):
            while True:
                node = await self.inbox.get()
                if node.tag == tag:
                    return node

    async def quiet(self) -> list[Node]:
        """Everything that arrived before the answer to a ping sent now (the server handles a
        device's stanzas in order, and deliveries are spawned before the IQ that caused them
        is answered, so this is everything caused so far)."""
        await self.iq("get", "s.whatsapp.net", [Node("ping")], xmlns="w:p")
        nodes: list[Node] = []
        while not self.inbox.empty():
            nodes.append(self.inbox.get_nowait())
        return nodes

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self.client is not None:
            await self.client.close()
            self.client = None


async def linked_raw_device(info: SimulatorInfo, phone: str, push_name: str = "") -> RawDevice:
    """Create the account ``phone`` (the one that scans from now on), link a device, log in raw."""
    status, account = await admin(
        info, "POST", "/accounts", {"phone": phone, "default": True, "push_name": push_name}
    )
    assert status == 200, account
    client, store, log = make_client(info, ca_file=info.ca_file)
    await link_by_qr(info, client, log)
    await client.disconnect()
    device = await store.load_device()
    assert device is not None and device.jid is not None
    raw = RawDevice(info, device, phone, str(account["lid"]))
    await raw.login()
    return raw
