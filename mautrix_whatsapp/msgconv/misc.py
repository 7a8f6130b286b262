"""The non-text, non-media kinds: locations, contacts, polls, group invites, timer changes,
calls and the unknown, with the Go bridge's texts (``pkg/msgconv/wa-location.go``,
``wa-contact.go``, ``wa-poll.go``, ``wa-misc.go``; ``handlewhatsapp.go`` for calls)."""

from __future__ import annotations

import base64
import hashlib
import html
import logging
from datetime import UTC, datetime
from typing import Any

from ..whatsapp.proto import wa_e2e_pb2
from .media import upload_thumbnail
from .types import ConvertedPart, ToMatrixContext

log = logging.getLogger("mau.whatsapp.msgconv.misc")

HTML = "org.matrix.custom.html"
UNKNOWN_TEXT = "Unknown message type, please view it on the WhatsApp app"
POLL_SUFFIX = "(This message is a poll. Please open WhatsApp to vote.)"
POLL_START = "org.matrix.msc3381.poll.start"
POLL_RESPONSE = "org.matrix.msc3381.poll.response"


def notice(body: str) -> ConvertedPart:
    """A plain ``m.notice`` main part."""
    return ConvertedPart("m.room.message", {"msgtype": "m.notice", "body": body})


async def convert_location(
    ctx: ToMatrixContext, message: wa_e2e_pb2.LocationMessage
) -> ConvertedPart:
    """``m.location`` with a ``geo:`` URI; the map link and name in the text fallback."""
    lat, lon = message.degreesLatitude, message.degreesLongitude
    url = message.URL or f"https://maps.google.com/?q={lat:.5f},{lon:.5f}"
    name = message.name
    if not name:
        lat_char = "S" if lat < 0 else "N"
        lon_char = "W" if lon < 0 else "E"
        name = f"{abs(lat):.4f}° {lat_char} {abs(lon):.4f}° {lon_char}"
    content: dict[str, Any] = {
        "msgtype": "m.location",
        "body": f"Location: {name}\n{message.address}\n{url}",
        "format": HTML,
        "formatted_body": (
            f'Location: <a href="{html.escape(url)}">{html.escape(name)}</a>'
            f"<br>{html.escape(message.address)}"
        ),
        "geo_uri": f"geo:{lat:.5f},{lon:.5f}",
    }
    if message.JPEGThumbnail:
        info: dict[str, Any] = {}
        await upload_thumbnail(ctx, message.JPEGThumbnail, info)
        if info:
            content["info"] = info
    return ConvertedPart("m.room.message", content)


def convert_live_location(message: wa_e2e_pb2.LiveLocationMessage) -> ConvertedPart:
    """Live locations only announce themselves: Matrix has no live-updating location."""
    body = "Started sharing live location"
    if message.caption:
        body += ": " + message.caption
    return notice(body + "\n\nUse the WhatsApp app to see the location.")


async def convert_contact(
    ctx: ToMatrixContext, message: wa_e2e_pb2.ContactMessage, part_id: str = ""
) -> ConvertedPart:
    """The vCard as an ``m.file`` named after the contact (``<name>.vcf``)."""
    filename = f"{message.displayName}.vcf"
    data = message.vcard.encode()
    try:
        url = await ctx.upload_media(data, "text/vcard", filename)
    except Exception as e:
        log.warning("Failed to upload contact card: %s", e)
        part = notice("Failed to reupload vcard")
        part.part_id = part_id
        return part
    content = {
        "msgtype": "m.file",
        "body": filename,
        "filename": filename,
        "url": url,
        "info": {"mimetype": "text/vcard", "size": len(data)},
    }
    return ConvertedPart("m.room.message", content, part_id)


async def convert_contacts_array(
    ctx: ToMatrixContext, message: wa_e2e_pb2.ContactsArrayMessage
) -> list[ConvertedPart]:
    """A text naming the shared contacts, then one vCard file per contact (parts ``1``…)."""
    names = [contact.displayName for contact in message.contacts]
    count = len(names)
    body = f"Shared {count} contact{'' if count == 1 else 's'}"
    if names:
        body += ": " + ", ".join(names)
    parts = [ConvertedPart("m.room.message", {"msgtype": "m.text", "body": body})]
    for index, contact in enumerate(message.contacts, start=1):
        parts.append(await convert_contact(ctx, contact, str(index)))
    return parts


def poll_option_id(name: str) -> str:
    """An option's MSC3381 answer id: the hex SHA-256 a WhatsApp vote names it by."""
    return hashlib.sha256(name.encode()).hexdigest()


def convert_poll_creation(message: wa_e2e_pb2.PollCreationMessage) -> ConvertedPart:
    """MSC3381 ``poll.start`` with a numbered-list fallback for clients without polls."""
    names = [option.optionName for option in message.options]
    text_items = [f"{index}. {name}\n" for index, name in enumerate(names, start=1)]
    html_items = "".join(f"<li>{html.escape(name)}</li>" for name in names)
    body = f"{message.name}\n\n{chr(10).join(text_items)}\n\n{POLL_SUFFIX}"
    question_html = html.escape(message.name).replace("\n", "<br/>")
    formatted = f"<p>{question_html}</p><ol>{html_items}</ol><p>{POLL_SUFFIX}</p>"
    max_selections = message.selectableOptionsCount or len(names)
    content: dict[str, Any] = {
        "msgtype": "m.text",
        "body": body,
        "format": HTML,
        "formatted_body": formatted,
        "fi.mau.whatsapp.poll": {
            "option_names": names,
            "selectable_options_count": message.selectableOptionsCount,
        },
        "org.matrix.msc1767.text": body,
        "org.matrix.msc1767.message": [
            {"mimetype": "text/html", "body": formatted},
            {"mimetype": "text/plain", "body": body},
        ],
        POLL_START: {
            "kind": "org.matrix.msc3381.poll.disclosed",
            "max_selections": max_selections,
            "question": {"org.matrix.msc1767.text": message.name},
            "answers": [
                {"id": poll_option_id(name), "org.matrix.msc1767.text": name} for name in names
            ],
        },
    }
    return ConvertedPart(POLL_START, content)


def convert_poll_vote(poll_event_id: str, selected_hashes: list[bytes]) -> ConvertedPart:
    """MSC3381 ``poll.response`` to the bridged poll; an empty list withdraws the vote."""
    content = {
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll_event_id},
        POLL_RESPONSE: {"answers": [selected.hex() for selected in selected_hashes]},
    }
    return ConvertedPart(POLL_RESPONSE, content)


def _go_time(timestamp: int) -> str:
    """A Unix time as Go's ``time.Time`` prints it (in UTC); out of range: the raw number."""
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    except (OverflowError, OSError, ValueError):
        return str(timestamp)


def convert_group_invite(
    message: wa_e2e_pb2.GroupInviteMessage, *, sender: str, command_prefix: str
) -> ConvertedPart:
    """The invite's caption and how to accept it (``<prefix> accept`` as a reply)."""
    name = message.groupName
    expiry = _go_time(message.inviteExpiration)
    caption_html = html.escape(message.caption).replace("\n", "<br/>")
    valid = message.groupJID.endswith("@g.us") and bool(message.inviteCode)
    if valid:
        how_html = (
            f"Reply to this message with <code>{html.escape(command_prefix)} accept</code> "
            "to accept the invite."
        )
        how_text = f"Reply to this message with `{command_prefix} accept` to accept the invite."
    else:
        how_html = how_text = (
            "However, the invite message is broken or unsupported and cannot be accepted."
        )
    lead = f'This invitation to join "{name}" expires at {expiry}. '
    content: dict[str, Any] = {
        "msgtype": "m.text",
        "body": f"{message.caption}\n\n---\n\n{lead}{how_text}",
        "format": HTML,
        "formatted_body": f"{caption_html}<hr/>{html.escape(lead)}{how_html}",
    }
    if valid:
        content["fi.mau.whatsapp.invite"] = {
            "jid": message.groupJID,
            "code": message.inviteCode,
            "expiration": message.inviteExpiration,
            "inviter": sender,
            "group_name": name,
            "is_parent_group": message.groupType == wa_e2e_pb2.GroupInviteMessage.PARENT,
        }
    return ConvertedPart("m.room.message", content)


def format_duration(seconds: int) -> str:
    """``1 day``, ``7 days``, ``1 hour and 30 minutes``: a timer as the Go bridge words it."""
    units = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
    words = []
    for name, size in units:
        amount, seconds = divmod(seconds, size)
        if amount:
            words.append(f"{amount} {name}{'' if amount == 1 else 's'}")
    if len(words) <= 1:
        return words[0] if words else "0 seconds"
    return ", ".join(words[:-1]) + " and " + words[-1]


def disappearing_notice(seconds: int, *, implicit: bool = False) -> ConvertedPart:
    """The notice for a disappearing-timer change (``implicit`` when inferred from a message's
    own expiration, not set explicitly), with Beeper's action-message marker."""
    duration = format_duration(seconds)
    if seconds == 0:
        body = (
            "Automatically turned off disappearing messages because incoming message is not "
            "disappearing"
            if implicit
            else "Turned off disappearing messages"
        )
    elif implicit:
        body = (
            f"Automatically enabled disappearing message timer ({duration}) because incoming "
            "message is disappearing"
        )
    else:
        body = f"Set the disappearing message timer to {duration}"
    part = notice(body)
    part.content["m.mentions"] = {}
    part.content["com.beeper.action_message"] = {
        "type": "disappearing_timer",
        "timer": seconds * 1000,
        "timer_type": "after_send" if seconds else "",
        "implicit": implicit,
        "backfill": False,
    }
    return part


def convert_call_start(call_type: str = "") -> ConvertedPart:
    """The notice for an incoming call (``call_type`` ``voice``/``video``/empty); calls
    themselves are not bridged."""
    text = "Incoming call. Use the WhatsApp app to answer."
    if call_type:
        text = f"Incoming {call_type} call. Use the WhatsApp app to answer."
    action: dict[str, Any] = {"type": "call"}
    if call_type:
        action["call_type"] = call_type
    content = {"msgtype": "m.text", "body": text, "com.beeper.action_message": action}
    return ConvertedPart("m.room.message", content)


def convert_unknown(raw: wa_e2e_pb2.Message) -> ConvertedPart:
    """A notice for a kind we cannot show, keeping the raw message (if small) for later."""
    part = notice(UNKNOWN_TEXT)
    encoded = base64.b64encode(raw.SerializeToString()).decode()
    if len(encoded) < 16 * 1024:
        part.content["fi.mau.whatsapp.unsupported_message_data"] = encoded
    return part
