"""Profile pictures of users and groups (whatsmeow ``user.go`` ``GetProfilePictureInfo``).

``<iq xmlns="w:profile:picture" type="get" to="s.whatsapp.net" target="JID">
<picture type="image" query="url" id?/></iq>`` → ``<picture id url direct_path type/>``.
Groups are asked the same way (as Baileys' ``profilePictureUrl`` does). Passing the picture id the
caller already has (``existing_id``) lets the server answer "unchanged" without a URL.

The URL is a signed, unencrypted CDN link: :func:`download_profile_picture` fetches it with a
plain HTTPS GET (the same TLS trust as the client's own connection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

from .binary.jid import JID, SERVER_JID
from .binary.node import Node
from .media.conn import http_session
from .request import IQError

if TYPE_CHECKING:
    from .client import Client

MAX_PICTURE_SIZE = 10 * 1024 * 1024
"""Profile pictures are small JPEGs (640px); anything over this is refused, not buffered."""


class ProfilePictureError(Exception):
    """The server answered, but not with a usable picture (or it could not be downloaded)."""


class ProfilePictureNotSet(ProfilePictureError):
    """404: the user or group has no picture."""


class ProfilePictureUnauthorized(ProfilePictureError):
    """401: the contact's privacy settings hide the picture from us."""


@dataclass(frozen=True)
class ProfilePictureInfo:
    """A picture's id (changes with every new picture), download URL and CDN direct path."""

    id: str
    url: str
    direct_path: str = ""
    type: str = "image"


def picture_query(jid: JID, *, preview: bool = False, existing_id: str | None = None) -> Node:
    """The ``<picture>`` child of the request (split out for tests and the simulator)."""
    attrs: dict[str, str | JID] = {"query": "url", "type": "preview" if preview else "image"}
    if existing_id:
        attrs["id"] = existing_id
    return Node("picture", attrs)


def parse_picture_answer(
    answer: Node, *, existing_id: str | None = None
) -> ProfilePictureInfo | None:
    """The answer's picture, or None when it is unchanged (``existing_id`` was current)."""
    picture = answer.get_optional_child_by_tag("picture")
    if picture is None:
        if existing_id:
            return None
        raise ProfilePictureError("no <picture> in the answer")
    status = picture.attr_str_opt("status")
    if status == "304" or (
        existing_id
        and picture.attr_str_opt("id") == existing_id
        and not picture.attr_str_opt("url")
    ):
        return None
    picture_id = picture.attr_str_opt("id")
    url = picture.attr_str_opt("url")
    if not picture_id or not url:
        raise ProfilePictureError("the answer's <picture> has no id or url")
    return ProfilePictureInfo(
        id=picture_id,
        url=url,
        direct_path=picture.attr_str_opt("direct_path") or "",
        type=picture.attr_str_opt("type") or "image",
    )


async def get_profile_picture_info(
    client: Client, jid: JID, *, preview: bool = False, existing_id: str | None = None
) -> ProfilePictureInfo | None:
    """The current picture of ``jid`` (a user or a group).

    Returns None when ``existing_id`` is still current; raises :class:`ProfilePictureNotSet`
    when there is no picture (404), :class:`ProfilePictureUnauthorized` when privacy settings
    hide it (401), other :class:`IQError` as they come (whatsmeow's errors likewise).
    """
    query = picture_query(jid, preview=preview, existing_id=existing_id)
    user = jid.to_non_ad()
    try:
        answer = await client.send_iq(
            "w:profile:picture", "get", [query], to=SERVER_JID, attrs={"target": user}
        )
    except IQError as e:
        if e.code == 404:
            raise ProfilePictureNotSet(f"{user} has no picture") from e
        if e.code == 401:
            raise ProfilePictureUnauthorized(f"the picture of {user} is private") from e
        raise
    return parse_picture_answer(answer, existing_id=existing_id)


async def download_profile_picture(client: Client, info: ProfilePictureInfo) -> bytes:
    """The picture's bytes from its URL (at most :data:`MAX_PICTURE_SIZE`), trusting what the
    client's websocket trusts."""
    try:
        async with http_session(client.media.conn) as http, http.get(info.url) as resp:
            if resp.status != 200:
                raise ProfilePictureError(f"picture download answered HTTP {resp.status}")
            if (resp.content_length or 0) > MAX_PICTURE_SIZE:
                raise ProfilePictureError("the picture is too large")
            data = await resp.content.read(MAX_PICTURE_SIZE + 1)
    except aiohttp.ClientError as e:
        raise ProfilePictureError(f"picture download failed: {e}") from e
    if len(data) > MAX_PICTURE_SIZE:
        raise ProfilePictureError("the picture is too large")
    return data
