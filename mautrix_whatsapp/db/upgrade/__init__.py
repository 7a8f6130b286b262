"""The numbered schema upgrades of the bridge database (``version`` table)."""

from mautrix.util.async_db import UpgradeTable

# mautrix's idiom: steps register themselves on this table when their modules are imported.
upgrade_table = UpgradeTable()

from . import v01_initial, v02_whatsapp_store  # noqa: E402, F401
