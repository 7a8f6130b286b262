"""After login: the phone's history sync stored as it streams in, portals created for the
recent chats once it is over, each filled with its last messages before anything live.

- :mod:`.history_store`: chunks into the database (v12), nothing kept in memory only;
- :mod:`.backfill`: one portal's stored messages through the live to-Matrix path;
- :mod:`.dispatch`: the per-user timer after the last chunk, the choice of chats, resuming;
- :mod:`.progress`: the edited notice in the management room;
- :mod:`.space`: the user's personal space holding their portals;
- :mod:`.media_requests` / :mod:`.media_fill`: expired media of backfilled messages, asked of
  the phone later and replacing its placeholder (v13).
"""

from .dispatch import UserBackfill

__all__ = ["UserBackfill"]
