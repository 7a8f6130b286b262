"""Hostile Matrix events of every kind the bridge handles, through the real handler.

Each input is one appservice transaction (usually one event) handed to the appservice's
transaction handler as the bridge installs it (with the malformed-message answer in front);
the only allowed outcomes are handled or a notice to the sender, never an exception, a dropped
message or an error logged with a traceback.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..bridge.test_msgconv_from_matrix_fuzz import KEYS
from .gen import maybe, mutate_dict, value
from .matrix_world import (
    ALICE,
    BOB,
    BOT,
    DM_ROOM,
    GHOST,
    GROUP_ROOM,
    KNOWN_EVENTS,
    MANAGEMENT_ROOM,
    MXC,
    ROOMS,
    STRANGER,
    matrix_world,
)
from .runner import Check, Target

MSGTYPES = [
    "m.text",
    "m.notice",
    "m.emote",
    "m.image",
    "m.video",
    "m.audio",
    "m.file",
    "m.location",
    "m.sticker",
    "m.server_notice",
    "m.key.verification.request",
    "fi.mau.unknown",
]
CONTENT_KEYS = [*KEYS, "org.matrix.msc1767.text", "fi.mau.double_puppet_source"]
VOCAB = [
    *CONTENT_KEYS,
    *MSGTYPES,
    *KNOWN_EVENTS,
    MXC,
    ALICE,
    GHOST,
    "rel_type",
    "event_id",
    "key",
    "m.in_reply_to",
    "is_falling_back",
    "m.replace",
    "m.annotation",
    "m.thread",
    "m.reference",
    "org.matrix.custom.html",
    "mimetype",
    "size",
    "w",
    "h",
    "duration",
    "thumbnail_info",
    "answers",
    "question",
    "kind",
    "max_selections",
    "id",
    "user_ids",
    "room",
    "v",
    "iv",
    "hashes",
    "key_ops",
    "k",
]
SENDERS = [ALICE, ALICE, ALICE, BOB, STRANGER, GHOST, BOT]
EVENT_IDS = [*KNOWN_EVENTS, "$unknown", "", "not-an-id"]


def _relation(rng: random.Random) -> Any:
    target = rng.choice(EVENT_IDS)
    kind = rng.randrange(6)
    if kind == 0:
        relation: dict[str, Any] = {"m.in_reply_to": {"event_id": maybe(rng, target, VOCAB)}}
    elif kind == 1:
        relation = {"rel_type": "m.replace", "event_id": maybe(rng, target, VOCAB)}
    elif kind == 2:
        relation = {"rel_type": "m.thread", "event_id": target, "is_falling_back": True}
        relation["m.in_reply_to"] = {"event_id": rng.choice(EVENT_IDS)}
    elif kind == 3:
        relation = {"rel_type": "m.annotation", "event_id": target, "key": value(rng, VOCAB)}
    elif kind == 4:
        relation = {"rel_type": "m.reference", "event_id": target}
    else:
        return value(rng, VOCAB)
    return mutate_dict(rng, relation, VOCAB) if rng.random() < 0.3 else relation


def _file(rng: random.Random) -> Any:
    good = {
        "url": MXC,
        "v": "v2",
        "key": {"kty": "oct", "alg": "A256CTR", "ext": True, "k": "a" * 43, "key_ops": []},
        "iv": "AAAAAAAAAAAAAAAAAAAAAA",
        "hashes": {"sha256": "x"},
    }
    return mutate_dict(rng, good, VOCAB)


def message_content(rng: random.Random) -> dict[str, Any]:
    """A message content of any msgtype, every field sometimes of the wrong shape."""
    msgtype = rng.choice(MSGTYPES)
    content: dict[str, Any] = {"msgtype": msgtype, "body": maybe(rng, "hello *there*", VOCAB)}
    if rng.random() < 0.4:
        content["format"] = maybe(rng, "org.matrix.custom.html", VOCAB)
        content["formatted_body"] = maybe(
            rng,
            rng.choice(
                [
                    "<b>hi</b> <a href='https://matrix.to/#/@whatsapp_15550001111:example.org'>x</a>",
                    "<mx-reply><blockquote>q</blockquote></mx-reply>hi",
                    "<pre><code class='language-py'>x</code></pre><ol start='-5'><li>a</li></ol>",
                    "<<<>>>&&;</b></i><del><sub><table>",
                ]
            ),
            VOCAB,
        )
    if msgtype in ("m.image", "m.video", "m.audio", "m.file", "m.sticker") or rng.random() < 0.1:
        if rng.random() < 0.3:
            content["file"] = _file(rng)
        else:
            content["url"] = maybe(rng, MXC, VOCAB)
        info: dict[str, Any] = {
            "mimetype": rng.choice(["image/png", "video/mp4", "audio/ogg", "x/y", ""])
        }
        info |= {"size": 10, "w": 5, "h": 5, "duration": 1000}
        content["info"] = mutate_dict(rng, info, VOCAB)
        if rng.random() < 0.3:
            content["org.matrix.msc3245.voice"] = value(rng, VOCAB)
            content["org.matrix.msc1767.audio"] = {"waveform": value(rng, VOCAB), "duration": 1}
    if msgtype == "m.location" or rng.random() < 0.05:
        content["geo_uri"] = maybe(rng, "geo:52.1,4.3;u=10", VOCAB)
    if rng.random() < 0.4:
        content["m.relates_to"] = _relation(rng)
        if rng.random() < 0.5:
            content["m.new_content"] = maybe(rng, {"msgtype": "m.text", "body": "edit"}, VOCAB)
    if rng.random() < 0.2:
        content["m.mentions"] = maybe(rng, {"user_ids": [GHOST, ALICE]}, VOCAB)
    return mutate_dict(rng, content, VOCAB) if rng.random() < 0.3 else content


def poll_content(rng: random.Random, event_type: str) -> dict[str, Any]:
    if event_type.endswith("start"):
        start = {
            "question": {"org.matrix.msc1767.text": maybe(rng, "Lunch?", VOCAB)},
            "kind": "org.matrix.msc3381.poll.disclosed",
            "max_selections": maybe(rng, 1, VOCAB),
            "answers": maybe(
                rng,
                [{"id": "a", "org.matrix.msc1767.text": "A"}, {"id": "b"}],
                VOCAB,
            ),
        }
        content: dict[str, Any] = {event_type: mutate_dict(rng, start, VOCAB)}
    else:
        response = {"answers": maybe(rng, ["a"], VOCAB)}
        content = {event_type: mutate_dict(rng, response, VOCAB)}
        content["m.relates_to"] = {"rel_type": "m.reference", "event_id": rng.choice(EVENT_IDS)}
    return mutate_dict(rng, content, VOCAB) if rng.random() < 0.3 else content


def _base(rng: random.Random, event_type: str, content: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "type": event_type,
        "room_id": rng.choice([DM_ROOM, DM_ROOM, GROUP_ROOM, *ROOMS]),
        "sender": rng.choice(SENDERS),
        "event_id": f"$fuzz{rng.randrange(10**9)}",
        "origin_server_ts": 1_700_000_000_000,
        "content": content,
    }
    return raw  # the envelope is the homeserver's, only the content is the sender's


def room_event(rng: random.Random) -> dict[str, Any]:
    """A message, sticker, reaction, redaction or poll event."""
    kind = rng.randrange(10)
    if kind <= 4:
        return _base(rng, "m.room.message", message_content(rng))
    if kind == 5:
        return _base(rng, "m.sticker", message_content(rng))
    if kind == 6:
        content = {"m.relates_to": _relation(rng)}
        return _base(rng, "m.reaction", mutate_dict(rng, content, VOCAB))
    if kind == 7:
        raw = _base(rng, "m.room.redaction", {"reason": value(rng, VOCAB)})
        raw["redacts"] = maybe(rng, rng.choice(EVENT_IDS), VOCAB)
        if rng.random() < 0.5:
            raw["content"]["redacts"] = raw.pop("redacts")
        return raw
    event_type = rng.choice(
        [
            "org.matrix.msc3381.poll.start",
            "org.matrix.msc3381.poll.response",
            "m.poll.start",
            "m.poll.response",
        ]
    )
    return _base(rng, event_type, poll_content(rng, event_type))


STATE_CONTENTS: dict[str, dict[str, Any]] = {
    "m.room.name": {"name": "New name"},
    "m.room.topic": {"topic": "New topic"},
    "m.room.avatar": {"url": MXC, "info": {"mimetype": "image/png"}},
    "m.room.power_levels": {
        "users": {ALICE: 100, GHOST: 50, BOT: 100},
        "users_default": 0,
        "events": {"m.room.name": 50},
    },
    "m.room.encryption": {"algorithm": "m.megolm.v1.aes-sha2"},
    "m.room.member": {"membership": "join", "displayname": "x"},
    "m.room.join_rules": {"join_rule": "invite"},
    "m.room.pinned_events": {"pinned": ["$known1"]},
}
MEMBERSHIPS = ["invite", "join", "leave", "ban", "knock"]


def state_event(rng: random.Random) -> dict[str, Any]:
    """Name, topic, avatar, power levels, encryption or membership, some malformed."""
    event_type = rng.choice(list(STATE_CONTENTS))
    content = dict(STATE_CONTENTS[event_type])
    state_key: Any = ""
    if event_type == "m.room.member":
        content["membership"] = maybe(rng, rng.choice(MEMBERSHIPS), VOCAB, 0.1)
        state_key = rng.choice([GHOST, ALICE, BOB, BOT, "@whatsapp_999:example.org", "@x:y"])
    raw = _base(
        rng, event_type, mutate_dict(rng, content, VOCAB) if rng.random() < 0.5 else content
    )
    raw["state_key"] = state_key  # the homeserver insists on a string
    if rng.random() < 0.3:
        prev = {"membership": rng.choice(MEMBERSHIPS)} if event_type == "m.room.member" else {}
        raw["unsigned"] = {"prev_content": mutate_dict(rng, prev, VOCAB)}
    return raw


COMMANDS = [
    "help",
    "login",
    "login-web",
    "logout",
    "cancel",
    "ping",
    "pm",
    "sync",
    "delete-portal",
    "create",
    "set-relay",
    "unset-relay",
    "logout-matrix",
    "version",
    "set-pl",
    "nonexistent",
]
ARG_WORDS = [
    "qr",
    "+15550001111",
    "15550001111",
    "+1 555 000 1111",
    "contacts",
    "groups",
    "all",
    "--force",
    "-1",
    "syt_token",
    "@alice:example.org",
    "",
]


def command_event(rng: random.Random) -> dict[str, Any]:
    """A bot command with random arguments, in the management room, a portal or elsewhere."""
    command = rng.choice(COMMANDS)
    words = [
        rng.choice(ARG_WORDS) if rng.random() < 0.7 else str(value(rng, VOCAB))
        for _ in range(rng.randrange(4))
    ]
    prefix = rng.choice(["!wa ", "!wa ", "", "!WA ", "!wa  "])
    body = prefix + " ".join([command, *words])
    room = rng.choice([MANAGEMENT_ROOM, MANAGEMENT_ROOM, DM_ROOM, GROUP_ROOM, ROOMS[3]])
    raw = _base(rng, "m.room.message", {"msgtype": "m.text", "body": body})
    raw["room_id"] = room
    # A login that starts would dial WhatsApp (the e2e tests do that): here only the
    # logged-in user, who is told so, logs in.
    raw["sender"] = ALICE if command == "login" else rng.choice([ALICE, ALICE, BOB, STRANGER])
    return raw


def ephemeral_event(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.5:
        content: Any = {"user_ids": rng.sample([ALICE, GHOST, BOB], rng.randrange(4))}
        return {"type": "m.typing", "room_id": rng.choice(ROOMS), "content": content}
    # The homeserver builds receipts and typing lists: only the event ids are the client's.
    receipt = {rng.choice(EVENT_IDS): {"m.read": {rng.choice(SENDERS): {"ts": 1}}}}
    return {"type": "m.receipt", "room_id": rng.choice(ROOMS), "content": receipt}


def transaction(rng: random.Random) -> dict[str, Any]:
    """One transaction: mostly one event of one kind, sometimes a few mixed."""
    makers = [room_event, room_event, room_event, state_event, command_event]
    events = [rng.choice(makers)(rng) for _ in range(1 if rng.random() < 0.8 else 3)]
    ephemeral = [ephemeral_event(rng)] if rng.random() < 0.1 else []
    return {"events": events, "ephemeral": ephemeral}


@asynccontextmanager
async def transaction_world() -> AsyncIterator[Check]:
    async with matrix_world() as world:
        count = 0

        async def check(txn: dict[str, Any]) -> None:
            nonlocal count
            count += 1
            await world.ensure_portals()
            await world.bridge.az.handle_transaction(
                f"txn{count}", events=txn["events"], ephemeral=txn["ephemeral"]
            )
            world.sent.clear()  # the world stays small however long the run

        yield check


TARGETS = [
    Target("matrix.events", transaction, transaction_world, share=2.0),
    # The same kinds from other seeds: a second half the fuzz job runs on the other worker.
    Target(
        "matrix.events.b",
        lambda rng: transaction(random.Random(rng.getrandbits(64) ^ 0x5EED)),
        transaction_world,
        share=2.0,
    ),
    Target(
        "matrix.commands",
        lambda rng: {"events": [command_event(rng)], "ephemeral": []},
        transaction_world,
        share=0.5,
    ),
]
