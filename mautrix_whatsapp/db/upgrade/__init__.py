"""The numbered schema upgrades of the bridge database (``version`` table).

Each step is a module with an ``upgrade_vN`` function and a ``DESCRIPTION``; the table is built
here in order. (mautrix's own idiom has each step import the table and register itself, which
makes every step and this package import each other.)
"""

from mautrix.util.async_db import UpgradeTable

from . import (
    v01_initial,
    v02_whatsapp_store,
    v03_lid_map,
    v04_app_state,
    v05_messages,
    v06_puppet_names,
)

upgrade_table = UpgradeTable()
upgrade_table.register(v01_initial.upgrade_v1, description=v01_initial.DESCRIPTION)
upgrade_table.register(v02_whatsapp_store.upgrade_v2, description=v02_whatsapp_store.DESCRIPTION)
upgrade_table.register(v03_lid_map.upgrade_v3, description=v03_lid_map.DESCRIPTION)
upgrade_table.register(v04_app_state.upgrade_v4, description=v04_app_state.DESCRIPTION)
upgrade_table.register(v05_messages.upgrade_v5, description=v05_messages.DESCRIPTION)
upgrade_table.register(v06_puppet_names.upgrade_v6, description=v06_puppet_names.DESCRIPTION)

# ---- relay ----
from . import v13_portal_relay  # noqa: E402  (numbered by its brief; v7-v12 land beside it)

upgrade_table.register(
    v13_portal_relay.upgrade_v13, index=12, description=v13_portal_relay.DESCRIPTION
)
