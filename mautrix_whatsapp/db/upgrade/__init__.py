"""The numbered schema upgrades of the bridge database (``version`` table).

Each step is a module with an ``upgrade_vN`` function and a ``DESCRIPTION``; the table is built
here in order. (mautrix's own idiom has each step import the table and register itself, which
makes every step and this package import each other.) v6 is registered at its index (5), so a
v5 appended before it keeps its place; until then v5 is mautrix's no-op.
"""

from mautrix.util.async_db import UpgradeTable

from . import v01_initial, v02_whatsapp_store, v03_lid_map, v04_app_state, v06_puppet_names

upgrade_table = UpgradeTable()
upgrade_table.register(v01_initial.upgrade_v1, description=v01_initial.DESCRIPTION)
upgrade_table.register(v02_whatsapp_store.upgrade_v2, description=v02_whatsapp_store.DESCRIPTION)
upgrade_table.register(v03_lid_map.upgrade_v3, description=v03_lid_map.DESCRIPTION)
upgrade_table.register(v04_app_state.upgrade_v4, description=v04_app_state.DESCRIPTION)
upgrade_table.register(
    v06_puppet_names.upgrade_v6, index=5, description=v06_puppet_names.DESCRIPTION
)
