"""The bridge's version, shown by the `version` command and in the HTTP user agent."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

try:
    version: str = _dist_version("mautrix-whatsapp")
except PackageNotFoundError:  # running from a source tree that was never installed
    version = "0.0.0+unknown"

linkified_version: str = version
