"""Profile-picture queries (``w:profile:picture``): the request and what answers mean."""

from __future__ import annotations

from typing import Any, cast

import pytest

from mautrix_whatsapp.whatsapp.binary.jid import JID, SERVER_JID
from mautrix_whatsapp.whatsapp.binary.node import Node
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.profile import (
    ProfilePictureError,
    ProfilePictureInfo,
    ProfilePictureNotSet,
    ProfilePictureUnauthorized,
    get_profile_picture_info,
)
from mautrix_whatsapp.whatsapp.request import IQError

ALICE = JID("15550001111", "s.whatsapp.net", 7)
GROUP = JID("1203630000-1", "g.us")


class FakeClient:
    """Records each IQ and answers with the next canned node or error."""

    def __init__(self, *answers: Node | IQError) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, str, list[Node], dict[str, Any]]] = []

    async def send_iq(self, xmlns: str, iq_type: str, content: list[Node], **kwargs: Any) -> Node:
        self.sent.append((xmlns, iq_type, content, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, IQError):
            raise answer
        return answer


def _result(**attrs: str) -> Node:
    return Node("iq", {"type": "result"}, [Node("picture", dict(attrs))])


async def _get(fake: FakeClient, jid: JID, **kwargs: Any) -> ProfilePictureInfo | None:
    return await get_profile_picture_info(cast(Client, fake), jid, **kwargs)


async def test_user_picture_is_asked_of_the_server_with_the_user_as_target() -> None:
    fake = FakeClient(
        _result(id="1700", url="https://cdn/p.jpg", direct_path="/v/p", type="image")
    )
    info = await _get(fake, ALICE)
    assert info == ProfilePictureInfo("1700", "https://cdn/p.jpg", "/v/p", "image")
    xmlns, iq_type, content, kwargs = fake.sent[0]
    assert (xmlns, iq_type) == ("w:profile:picture", "get")
    assert kwargs["to"] == SERVER_JID
    assert kwargs["attrs"]["target"] == JID("15550001111", "s.whatsapp.net"), "device dropped"
    assert content[0].tag == "picture"
    assert content[0].attrs == {"query": "url", "type": "image"}


async def test_group_picture_is_asked_the_same_way_and_existing_id_is_sent() -> None:
    fake = FakeClient(_result(id="9", url="https://cdn/g.jpg"))
    info = await _get(fake, GROUP, preview=True, existing_id="8")
    assert info is not None and info.id == "9"
    _, _, content, kwargs = fake.sent[0]
    assert kwargs["to"] == SERVER_JID and kwargs["attrs"]["target"] == GROUP
    assert content[0].attrs == {"query": "url", "type": "preview", "id": "8"}


async def test_unchanged_missing_and_private_pictures() -> None:
    unchanged = FakeClient(Node("iq", {"type": "result"}))
    assert await _get(unchanged, ALICE, existing_id="5") is None
    not_modified = FakeClient(_result(id="5", status="304"))
    assert await _get(not_modified, ALICE, existing_id="5") is None
    with pytest.raises(ProfilePictureNotSet):
        await _get(FakeClient(IQError(404, "item-not-found")), ALICE)
    with pytest.raises(ProfilePictureUnauthorized):
        await _get(FakeClient(IQError(401, "not-authorized")), ALICE)
    with pytest.raises(IQError):
        await _get(FakeClient(IQError(500, "internal")), ALICE)


async def test_malformed_answers_are_errors() -> None:
    with pytest.raises(ProfilePictureError):
        await _get(FakeClient(Node("iq", {"type": "result"})), ALICE)
    with pytest.raises(ProfilePictureError):
        await _get(FakeClient(_result(id="3")), ALICE)
