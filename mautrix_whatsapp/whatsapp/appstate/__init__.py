"""App state ("syncd"): the encrypted, MAC-chained collections of chat settings and contacts.

:mod:`.sync` (``client.app_state``) fetches and sends; :mod:`.decode` and :mod:`.encode` do the
crypto (:mod:`.hash`, :mod:`.lthash`, :mod:`.keys`); :mod:`.keyshare` handles keys from our
phone; :mod:`.events` is what the bridge receives. Layout as whatsmeow's ``appstate/``.
"""

from .encode import (
    MutationInfo,
    PatchInfo,
    build_archive,
    build_delete_chat,
    build_mark_chat_as_read,
    build_mute,
    build_pin,
    build_setting_push_name,
    build_star,
)
from .keys import ALL_PATCH_NAMES, PatchName

__all__ = [
    "ALL_PATCH_NAMES",
    "MutationInfo",
    "PatchInfo",
    "PatchName",
    "build_archive",
    "build_delete_chat",
    "build_mark_chat_as_read",
    "build_mute",
    "build_pin",
    "build_setting_push_name",
    "build_star",
]
