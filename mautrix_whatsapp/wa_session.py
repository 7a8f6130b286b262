"""The real :class:`~mautrix_whatsapp.session.WhatsAppSession`, on ``whatsapp.Client``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from .session import EventSink, LoginFailed, LoginUpdate, WhatsAppSession

if TYPE_CHECKING:
    from .__main__ import WhatsAppBridge


class UnavailableSession:
    """Stands in while the client library cannot link devices; every login fails clearly."""

    device_jid: str | None = None
    is_connected = False

    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        return None

    async def logout(self) -> None:
        return None

    async def login_qr(self) -> AsyncIterator[LoginUpdate]:
        yield LoginFailed("the WhatsApp client is not available in this build")

    async def login_phone(self, phone: str) -> AsyncIterator[LoginUpdate]:
        yield LoginFailed("the WhatsApp client is not available in this build")


class ClientSessionFactory:
    """Builds each user's session with the bridge's config and database."""

    def __init__(self, bridge: WhatsAppBridge) -> None:
        self.bridge = bridge

    async def __call__(self, mxid: str, sink: EventSink) -> WhatsAppSession:
        return UnavailableSession()
