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
    v09_disappearing,
    v15_history,
)

upgrade_table = UpgradeTable()
upgrade_table.register(v01_initial.upgrade_v1, description=v01_initial.DESCRIPTION)
upgrade_table.register(v02_whatsapp_store.upgrade_v2, description=v02_whatsapp_store.DESCRIPTION)
upgrade_table.register(v03_lid_map.upgrade_v3, description=v03_lid_map.DESCRIPTION)
upgrade_table.register(v04_app_state.upgrade_v4, description=v04_app_state.DESCRIPTION)
upgrade_table.register(v05_messages.upgrade_v5, description=v05_messages.DESCRIPTION)
upgrade_table.register(v06_puppet_names.upgrade_v6, description=v06_puppet_names.DESCRIPTION)
# ---- receipts ----: v9 (v7 and v8 belong to other pieces; until they are merged, no-ops)
upgrade_table.register(
    v09_disappearing.upgrade_v9, index=8, description=v09_disappearing.DESCRIPTION
)
# ---- backfill ----: v15 (v10-v14 belong to other pieces)
upgrade_table.register(v15_history.upgrade_v15, index=14, description=v15_history.DESCRIPTION)
