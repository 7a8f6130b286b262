"""What kind of message crossed the bridge, for the ``whatsapp_messages_bridged`` counter.

Both directions count by the Matrix side's shape (event type, msgtype, relation), so one
vocabulary serves both and the counter's kinds match what admins see in rooms.
"""

from __future__ import annotations

from typing import Any

from .. import metrics

_MSGTYPE_KINDS: dict[str, metrics.MessageKind] = {
    "m.text": "text",
    "m.notice": "text",
    "m.emote": "text",
    "m.image": "image",
    "m.video": "video",
    "m.audio": "audio",
    "m.file": "document",
    "m.location": "location",
}


def kind_of(event_type: str, content: Any) -> metrics.MessageKind:
    """The counter's kind for a Matrix event of ``event_type`` with ``content`` (JSON or a
    mautrix content object)."""
    raw: dict[str, Any] = content if isinstance(content, dict) else content.serialize()
    relates = raw.get("m.relates_to")
    if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
        return "edit"
    if event_type == "m.sticker":
        return "sticker"
    if event_type == "m.reaction":
        return "reaction"
    if "poll" in event_type:
        return "poll"
    msgtype = raw.get("msgtype")
    if isinstance(msgtype, str) and msgtype in _MSGTYPE_KINDS:
        if msgtype == "m.file" and "vcard" in str(raw.get("info", {}).get("mimetype", "")):
            return "contact"
        return _MSGTYPE_KINDS[msgtype]
    return "other"


def count_to_matrix(event_type: str, content: Any) -> None:
    metrics.message_bridged("whatsapp_to_matrix", kind_of(event_type, content))


def count_to_whatsapp(content: Any) -> None:
    metrics.message_bridged("matrix_to_whatsapp", kind_of("m.room.message", content))
