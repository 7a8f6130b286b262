"""v11: double puppeting.

``double_puppet`` holds the Matrix access token a user gave with ``login-matrix`` (one per
Matrix user, as mautrix-go's bridgev2 keeps it on the user, not on a ghost: the token is the
user's whatever WhatsApp account they link). Automatic double puppeting (``as_token:`` secrets
in the config) needs no row; a row with ``appservice-config`` remembers that it was set up.
"""

from mautrix.util.async_db import Connection

DESCRIPTION = "Double puppeting: users' Matrix access tokens"


async def upgrade_v11(conn: Connection) -> None:
    await conn.execute(
        """CREATE TABLE double_puppet (
            user_mxid    TEXT PRIMARY KEY,
            access_token TEXT NOT NULL,
            base_url     TEXT
        )"""
    )
