"""``login-matrix``, ``logout-matrix`` and ``ping-matrix``: manual double puppeting.

These replace mautrix's built-in commands of the same names (registered later, so they win),
which assume a ghost that switches to the user's account; here the double puppet belongs to the
Matrix user (see :mod:`..double_puppet`). Texts as mautrix-whatsapp (bridgev2). The commands
work in the management room only: the access token is a secret, and a portal room has others
(ghosts) in it.
"""

from __future__ import annotations

from mautrix.bridge import CustomPuppetError
from mautrix.bridge.commands import SECTION_AUTH, command_handler
from mautrix.errors import MatrixError

from .typehint import CommandEvent


@command_handler(  # type: ignore[arg-type]  # handlers take our CommandEvent subclass
    needs_auth=True,
    management_only=True,
    help_section=SECTION_AUTH,
    help_text="Enable double puppeting.",
    help_args="<_access token_>",
)
async def login_matrix(evt: CommandEvent) -> None:
    if len(evt.args) != 1 or not evt.args[0]:
        await evt.reply("**Usage:** `$cmdprefix+sp login-matrix <access token>`")
        return
    try:
        await evt.bridge.double_puppets.login(evt.sender.mxid, evt.args[0])
    except (CustomPuppetError, MatrixError) as e:
        await evt.reply(f"Failed to enable double puppeting: {e}")
        return
    await evt.reply("Successfully switched puppets")


@command_handler(  # type: ignore[arg-type]
    needs_auth=True,
    management_only=True,
    help_section=SECTION_AUTH,
    help_text="Disable double puppeting.",
)
async def logout_matrix(evt: CommandEvent) -> None:
    if not await evt.bridge.double_puppets.logout(evt.sender.mxid):
        await evt.reply("You don't have double puppeting enabled.")
        return
    await evt.reply("Successfully disabled double puppeting.")


@command_handler(  # type: ignore[arg-type]
    needs_auth=False,
    help_section=SECTION_AUTH,
    help_text="Ping the Matrix server with the double puppet.",
)
async def ping_matrix(evt: CommandEvent) -> None:
    puppet = await evt.bridge.double_puppets.get(evt.sender.mxid)
    if puppet is None:
        await evt.reply("You don't have double puppeting enabled.")
        return
    try:
        whoami = await puppet.intent.whoami()
    except MatrixError as e:
        await evt.reply(f"Failed to validate Matrix login: {e}")
        return
    if puppet.uses_as_token:
        await evt.reply(
            f"Confirmed valid access token for {whoami.user_id} (appservice double puppeting)"
        )
    else:
        await evt.reply(f"Confirmed valid access token for {whoami.user_id} / {whoami.device_id}")
