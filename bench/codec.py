"""Binary node codec throughput: ours against Baileys' encodeBinaryNode/decodeBinaryNode.

    .venv/bin/python bench/codec.py [--iterations N] [--peer-iterations N] [--rounds R]

Both sides marshal and unmarshal the same typical outgoing group message stanza (a ``<message>``
with per-device ``<enc>`` ciphertexts under ``<participants>``, a sender-key ``<enc>`` and a
``<device-identity>``) in loops and report stanzas per second, the best of R rounds on each
side (the round least disturbed by other processes on a shared machine). Baileys runs in one node
process (tests/js/binary_codec.mjs) that times its own loops after a warm-up, so process
start-up and the pipe are not counted. The ratio is ours / Baileys (above 1: we are faster).

Our decoder keeps the device JIDs it has decoded; a loop over one stanza always finds them, so
the ``unmarshal_new_jids`` row decodes same-shaped stanzas whose device JIDs are all new.
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from mautrix_whatsapp.whatsapp.binary import JID, Node, marshal, unmarshal

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = ROOT / "tests" / "js"


def _ciphertext(size: int, seed: int) -> bytes:
    return bytes((seed * 31 + i * 7) & 0xFF for i in range(size))


def typical_message(group: int = 0) -> Node:
    """An outgoing group text message to 3 users with 2 devices each, as a client sends it.

    ``group`` (0..999) picks other users: the same stanza shape and size with new device JIDs.
    """
    participants = [
        Node(
            "to",
            {"jid": JID.parse(f"1555{group:03d}{user:04d}:{device}@s.whatsapp.net")},
            [Node("enc", {"v": "2", "type": "pkmsg"}, _ciphertext(420, user * 10 + device))],
        )
        for user in range(1, 4)
        for device in (0, 1)
    ]
    return Node(
        "message",
        {
            "to": JID.parse("120363012345678901@g.us"),
            "id": "3EB0C5A2D9E1F7B8A4C2",
            "type": "text",
            "phash": "2:k3Yv0Q",
            "addressing_mode": "pn",
        },
        [
            Node("participants", content=participants),
            Node("enc", {"v": "2", "type": "skmsg"}, _ciphertext(180, 99)),
            Node("device-identity", content=_ciphertext(160, 98)),
        ],
    )


def to_json(node: Node) -> dict[str, Any]:
    """The harness's node JSON (JIDs as Baileys' text, which it writes in the same wire form)."""
    content: Any = None
    if isinstance(node.content, list):
        content = [to_json(child) for child in node.content]
    elif isinstance(node.content, bytes):
        content = {"bytes": base64.b64encode(node.content).decode()}
    elif node.content is not None:
        content = {"string": str(node.content)}
    return {
        "tag": node.tag,
        "attrs": {k: str(v) for k, v in node.attrs.items()},
        "content": content,
    }


def bench_ours(node: Node, iterations: int, rounds: int) -> dict[str, float]:
    """Best of ``rounds`` timed loops (the least disturbed by other processes).

    ``unmarshal_new_jids`` decodes stanzas of the same shape whose device JIDs all differ (6,000
    of them, cycled, more than the decoder's JID cache holds), so no JID comes from the cache.
    """
    wire = marshal(node)
    fresh = [marshal(typical_message(group)) for group in range(1000)]
    assert all(len(other) == len(wire) for other in fresh)
    for _ in range(min(iterations, 1000)):  # warm up
        unmarshal(marshal(node))
    marshal_s = unmarshal_s = unmarshal_new_s = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iterations):
            marshal(node)
        marshal_s = min(marshal_s, time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(iterations):
            unmarshal(wire)
        unmarshal_s = min(unmarshal_s, time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(iterations):
            unmarshal(fresh[i % 1000])
        unmarshal_new_s = min(unmarshal_new_s, time.perf_counter() - start)
    return {
        "marshal_per_s": iterations / marshal_s,
        "unmarshal_per_s": iterations / unmarshal_s,
        "unmarshal_new_jids_per_s": iterations / unmarshal_new_s,
    }


def bench_baileys(node: Node, iterations: int, rounds: int) -> dict[str, float]:
    result = subprocess.run(
        ["node", "binary_codec.mjs", "bench", str(iterations), str(rounds)],
        cwd=JS_DIR,
        input=json.dumps(to_json(node)),
        capture_output=True,
        text=True,
        check=True,
    )
    answer: dict[str, float] = json.loads(result.stdout)
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=5_000, help="per round, ours")
    parser.add_argument("--peer-iterations", type=int, default=20_000, help="per round, Baileys")
    parser.add_argument("--rounds", type=int, default=5, help="the best round counts")
    args = parser.parse_args()

    node = typical_message()
    wire = marshal(node)
    ours = bench_ours(node, args.iterations, args.rounds)
    theirs = bench_baileys(node, args.peer_iterations, args.rounds)
    print(f"stanza: <message> with 6 <enc> participants, {len(wire)} bytes on the wire")
    print(f"python {platform.python_version()}, node {_node_version()}, {platform.machine()}")
    print(f"{'operation':<18} {'ours/s':>12} {'Baileys/s':>12} {'ratio':>7}")
    for op, peer_op in (
        ("marshal", "marshal"),
        ("unmarshal", "unmarshal"),
        ("unmarshal_new_jids", "unmarshal"),  # Baileys caches nothing: same peer figure
    ):
        mine, peer = ours[f"{op}_per_s"], theirs[f"{peer_op}_per_s"]
        print(f"{op:<18} {mine:>12,.0f} {peer:>12,.0f} {mine / peer:>6.2f}x")


def _node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
