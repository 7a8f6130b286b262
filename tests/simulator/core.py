"""The simulator's built-in behaviour: pings, registration with QR refs, default login, and the
admin endpoints every test needs (server info, status, pending registrations, QR scan).

Feature modules replace the default hooks (``state.login_handler``, ``state.qr_scan_handler``…) or
add handlers of their own; nothing here needs editing for that.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from aiohttp import web

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.proto.wa_wa6_pb2 import ClientPayload

from .connection import (
    SERVER,
    Connection,
    ConnectionClosedError,
    IQErrorResponse,
    iq_result,
    new_stanza_id,
)
from .qr import QRFormatError, parse_qr
from .state import AdminError, PendingRegistration, ServerState

log = logging.getLogger("simulator.core")

MAX_QR_BODY = 4096


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, indent=1, sort_keys=True) + "\n",
        status=status,
        content_type="application/json",
    )


class RegistrationDataError(ValueError):
    """The registration payload's key material has the wrong shape."""


def _fixed(value: bytes, size: int, what: str) -> bytes:
    if len(value) != size:
        raise RegistrationDataError(f"{what} is {len(value)} bytes, expected {size}")
    return value


def registration_from_payload(noise_public: bytes, payload: ClientPayload) -> PendingRegistration:
    """Check and unpack ``DevicePairingRegistrationData``; raise on malformed fields."""
    data = payload.devicePairingData
    if data.eKeytype != b"\x05":
        raise RegistrationDataError("the key type is not 05 (Curve25519)")
    return PendingRegistration(
        noise_public=noise_public,
        identity_public=_fixed(data.eIdent, 32, "the identity key"),
        registration_id=int.from_bytes(_fixed(data.eRegid, 4, "the registration id"), "big"),
        signed_prekey_id=int.from_bytes(_fixed(data.eSkeyID, 3, "the signed pre-key id"), "big"),
        signed_prekey_public=_fixed(data.eSkeyVal, 32, "the signed pre-key"),
        signed_prekey_signature=_fixed(data.eSkeySig, 64, "the signed pre-key signature"),
        build_hash=data.buildHash,
        device_props=data.deviceProps,
    )


def pair_device_iq(refs: list[str]) -> Node:
    """``<iq type="set"><pair-device>`` with one ``<ref>`` per ref, as bytes content."""
    ref_nodes = [Node("ref", {}, ref.encode()) for ref in refs]
    return Node(
        "iq",
        {"type": "set", "from": SERVER, "id": new_stanza_id()},
        [Node("pair-device", {}, ref_nodes)],
    )


async def handle_registration(conn: Connection, payload: ClientPayload) -> None:
    """Store the new companion's keys and send it the QR refs."""
    assert conn.client_static is not None
    try:
        registration = registration_from_payload(conn.client_static, payload)
    except RegistrationDataError as e:
        conn.state.record_protocol_error(f"{conn!r}: bad registration payload: {e}")
        await conn.send_failure("400")
        return
    registration.connection = conn
    conn.extra["registration"] = registration
    state = conn.state
    state.add_pending_registration(registration)
    refs = state.issue_refs(registration)
    try:
        await conn.send_iq(pair_device_iq(refs))
    except (TimeoutError, IQErrorResponse) as e:
        state.record_protocol_error(f"{conn!r}: pair-device not acknowledged: {e!r}")
    except ConnectionClosedError:
        pass


async def handle_login(conn: Connection, payload: ClientPayload) -> None:
    """Let a known, not removed device with the right noise key in; refuse everyone else (401)."""
    record = conn.state.find_device(str(payload.username), payload.device)
    if record is None or record.removed or record.noise_public != conn.client_static:
        await conn.send_failure("401")
        return
    conn.extra["device"] = record
    attrs = {"t": str(int(time.time())), "props": "0"}
    if record.lid_user:
        attrs["lid"] = f"{record.lid_user}:{record.device}@lid"
    await conn.send_node(Node("success", attrs))


async def drop_registration_on_close(conn: Connection) -> None:
    """A companion's refs die with its connection, as on WhatsApp."""
    registration = conn.extra.get("registration")
    if isinstance(registration, PendingRegistration) and registration.connection is conn:
        conn.state.drop_pending_registration(registration)


async def handle_ping(conn: Connection, node: Node) -> Node:
    return iq_result(node)


def _registration_json(registration: PendingRegistration) -> dict[str, Any]:
    conn = registration.connection
    return {
        "noise_public": registration.noise_public.hex(),
        "identity_public": registration.identity_public.hex(),
        "registration_id": registration.registration_id,
        "refs": list(registration.refs),
        "connected": conn is not None and not conn.closed.is_set(),
        "created_at": registration.created_at,
    }


def install(state: ServerState) -> None:
    """Register the built-in handlers and admin endpoints."""
    state.iq_handlers.register("w:p", handle_ping)
    state.registration_handler = handle_registration
    state.login_handler = handle_login
    state.close_hooks.append(drop_registration_on_close)

    async def info(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        return json_response(state.info)

    async def status(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        return json_response(
            {
                "connections": [
                    {
                        "id": conn.id,
                        "remote": conn.remote,
                        "handshake_done": conn.payload is not None,
                        "routing_info": conn.routing_info.hex() if conn.routing_info else None,
                    }
                    for conn in sorted(state.connections, key=lambda c: c.id)
                ],
                "pending_registrations": len(state.pending_registrations),
                "devices": len(state.devices),
                "protocol_errors": state.protocol_errors,
                "internal_errors": state.internal_errors,
                "iq_handlers": [list(key) for key in state.iq_handlers.registered()],
                "admin_routes": state.admin_routes.describe(),
            }
        )

    async def registrations(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        return json_response([_registration_json(r) for r in state.pending_registrations.values()])

    async def scan_qr(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        body = await request.content.read(MAX_QR_BODY + 1)
        if len(body) > MAX_QR_BODY:
            raise AdminError(413, "QR text too long")
        try:
            scanned = parse_qr(body.decode("utf-8"))
        except (UnicodeDecodeError, QRFormatError) as e:
            raise AdminError(400, f"not a linking QR code: {e}") from e
        registration = state.pending_by_ref.get(scanned.ref)
        if registration is None:
            raise AdminError(404, "unknown or expired QR ref")
        if (
            scanned.noise_public != registration.noise_public
            or scanned.identity_public != registration.identity_public
        ):
            raise AdminError(400, "the QR keys do not match the companion that holds this ref")
        if request.query.get("check_only") not in (None, "", "0", "false"):
            return json_response(
                {"valid": True, "platform": scanned.platform, "url_form": scanned.had_url_prefix}
            )
        if state.qr_scan_handler is None:
            raise AdminError(
                501, "QR is valid, but no simulated phone is installed to link it", qr_valid=True
            )
        return json_response(await state.qr_scan_handler(scanned, registration))

    state.admin_routes.add("GET", "/info", info)
    state.admin_routes.add("GET", "/status", status)
    state.admin_routes.add("GET", "/registrations", registrations)
    state.admin_routes.add("POST", "/mock-phone/scan-qr", scan_qr)
