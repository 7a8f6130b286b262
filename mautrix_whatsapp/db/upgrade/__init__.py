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
    v07_disappearing,
    v08_crash_safety,
    v09_encryption_secret,
    v10_portal_relay,
    v11_double_puppet,
    v12_history,
    v13_media_requests,  # ---- media requests ----
    v14_pending_matrix,  # ---- faults ----
)

upgrade_table = UpgradeTable()
upgrade_table.register(v01_initial.upgrade_v1, description=v01_initial.DESCRIPTION)
upgrade_table.register(v02_whatsapp_store.upgrade_v2, description=v02_whatsapp_store.DESCRIPTION)
upgrade_table.register(v03_lid_map.upgrade_v3, description=v03_lid_map.DESCRIPTION)
upgrade_table.register(v04_app_state.upgrade_v4, description=v04_app_state.DESCRIPTION)
upgrade_table.register(v05_messages.upgrade_v5, description=v05_messages.DESCRIPTION)
upgrade_table.register(v06_puppet_names.upgrade_v6, description=v06_puppet_names.DESCRIPTION)
upgrade_table.register(v07_disappearing.upgrade_v7, description=v07_disappearing.DESCRIPTION)
upgrade_table.register(v08_crash_safety.upgrade_v8, description=v08_crash_safety.DESCRIPTION)
upgrade_table.register(
    v09_encryption_secret.upgrade_v9, description=v09_encryption_secret.DESCRIPTION
)
upgrade_table.register(v10_portal_relay.upgrade_v10, description=v10_portal_relay.DESCRIPTION)
upgrade_table.register(v11_double_puppet.upgrade_v11, description=v11_double_puppet.DESCRIPTION)
upgrade_table.register(v12_history.upgrade_v12, description=v12_history.DESCRIPTION)
upgrade_table.register(  # ---- media requests ----
    v13_media_requests.upgrade_v13, description=v13_media_requests.DESCRIPTION
)
# ---- faults ----
upgrade_table.register(v14_pending_matrix.upgrade_v14, description=v14_pending_matrix.DESCRIPTION)
