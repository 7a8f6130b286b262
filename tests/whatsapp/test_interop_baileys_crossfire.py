"""Both sides of a Baileys DM sending at once: no message key is used twice, none is lost.

Baileys 7.0.0-rc14 runs each Signal operation in a key-store transaction that reads the session
once and writes it back at the end, serialized per transaction key: a send under its own JID, a
decryption under the sender's. The two overlap on the same session, and the later commit drops
the other's ratchet step. When a decryption of our message overlapped Alice's send, her next
message reused the send's counter, and our client had to drop it ("message key N was already
used"): 1 to 6 of the fault tests' 1,000 messages. The harness's Baileys peers now serialize their
1:1 Signal work (tests/js/simulator_socket.mjs); this test is that crossfire, with the wire's
``(ratchet key, counter)`` pairs checked, so a peer that reuses a key cannot pass by luck.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from mautrix_whatsapp.whatsapp import message_builders as mb
from mautrix_whatsapp.whatsapp.binary.jid import DEFAULT_USER_SERVER, JID
from mautrix_whatsapp.whatsapp.binary.node import Node
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import Message
from mautrix_whatsapp.whatsapp.signal.messages import SignalMessage
from tests.baileys_fixtures import linked_client, sim
from tests.baileys_peer import BaileysPeer
from tests.simulator_fixture import SimulatorInfo

__all__ = ["sim"]  # fixture used by name

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(240)]

ALICE = JID("15550004502", DEFAULT_USER_SERVER)
OURS = JID("15550004501", DEFAULT_USER_SERVER)
MESSAGES = 150
"""Each way. Before the fix, Alice reused 4 to 7 message keys in each of 4 runs of this."""
WAIT = 120.0


class Crossfire:
    """What our client saw of Alice: her message texts, and the message key of each ``msg``."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.keys: dict[tuple[bytes, bytes, int], set[str]] = {}
        self.changed = asyncio.Event()

    def tap(self, client: Client) -> None:
        handle = client.messages.handle

        async def receiving(node: Node) -> None:
            for enc in node.children_by_tag("enc"):
                if enc.attrs.get("type") == "msg":
                    parsed = SignalMessage.parse(enc.content_bytes())
                    sender = str(node.attrs.get("from")).encode()
                    key = (sender, parsed.ratchet_key, parsed.counter)
                    self.keys.setdefault(key, set()).add(str(node.attrs.get("id")))
            await handle(node)

        async def on_event(event: object) -> None:
            if isinstance(event, Message) and not event.info.is_from_me:
                text = event.message.conversation or event.message.extendedTextMessage.text
                self.texts.append(text)
                self.changed.set()

        client.add_node_handler("message", receiving)
        client.add_event_handler(on_event)

    async def wait_text(self, text: str) -> None:
        async with asyncio.timeout(WAIT):
            while text not in self.texts:
                self.changed.clear()
                await self.changed.wait()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def alice(
    sim: SimulatorInfo, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BaileysPeer]:
    auth = tmp_path_factory.mktemp("baileys-alice")
    async with BaileysPeer.start(sim, push_name="Alice", auth_dir=auth, phone=ALICE.user) as peer:
        yield peer


async def _crossfire(client: Client, alice: BaileysPeer, seen: Crossfire) -> None:
    """A round trip (so both sides send ``msg`` on one confirmed session), then both at once."""
    hello = await client.send_message(ALICE, mb.text("hello"))
    await alice.wait_message(lambda m: m["key"]["id"] == hello.id)
    await alice.send_text(str(OURS), "hello back")
    await seen.wait_text("hello back")

    async def ours() -> None:
        for index in range(MESSAGES):
            await client.send_message(ALICE, mb.text(f"ours {index}"))

    theirs = alice.request("bench_send", jid=str(OURS), count=MESSAGES, timeout=WAIT)
    await asyncio.gather(ours(), theirs)
    # Our client handles one chat's messages in order: once "end" is in, all before it are.
    await alice.send_text(str(OURS), "end")
    await seen.wait_text("end")
    last = await client.send_message(ALICE, mb.text("end"))
    await alice.wait_message(lambda m: m["key"]["id"] == last.id, timeout=WAIT)


async def test_both_sides_sending_at_once_reuse_no_message_key(
    sim: SimulatorInfo, alice: BaileysPeer
) -> None:
    seen = Crossfire()
    async for client, _log in linked_client(sim, OURS.user, "Ours", before_link=seen.tap):
        await _crossfire(client, alice, seen)

    reused = {key: ids for key, ids in seen.keys.items() if len(ids) > 1}
    assert not reused, f"Alice used {len(reused)} message keys twice: {list(reused.values())}"
    assert seen.texts == ["hello back", *(f"bench {i}" for i in range(MESSAGES)), "end"]
