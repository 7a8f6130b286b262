"""The secrets scanner: no secret the e2e world knows appears in a bridge log at INFO or above.

Fixtures record what is secret as they learn it (user access tokens, QR contents and pairing
codes the tests read) and every bridge directory they run; at the end of the session the
scanner adds what each directory holds (the appservice tokens, the provisioning shared secret
and double-puppet secrets from its config.yaml, the Noise, Signal identity and ADV private keys
from its SQLite database) and searches each log's INFO+ records for every secret in its text,
base64 (standard and URL-safe, padded or not) and hex forms. QR contents are also recognized by
their shape, whoever made them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

REPORTED_LEVELS = ("INFO", "WARNING", "ERROR", "CRITICAL")
# A record's first line, as the bridge's log format writes it: [time] [LEVEL@logger] message
RECORD_START = re.compile(r"^\[[^\]]*\] \[([A-Z]+)@[^\]]*\] ", re.MULTILINE)
# WhatsApp's QR contents: ref, Noise public key, identity public key, ADV secret (base64).
QR_SHAPE = re.compile(r"[0-9]@[A-Za-z0-9+/=]{10,},[A-Za-z0-9+/=]{40,},[A-Za-z0-9+/=]{40,},")
MIN_SECRET = 6  # shorter values would match by chance


@dataclass(frozen=True)
class Finding:
    log: Path
    kind: str
    level: str
    line: str


@dataclass
class SecretRegistry:
    """Secrets by kind, and the bridge directories whose logs are scanned."""

    secrets: dict[str, str] = field(default_factory=dict)  # form -> kind
    directories: list[Path] = field(default_factory=list)

    def add(self, kind: str, value: str | bytes | None) -> None:
        """``value`` and, for bytes, its base64 and hex forms."""
        if not value:
            return
        forms = [value] if isinstance(value, str) else _byte_forms(value)
        for form in forms:
            if len(form) >= MIN_SECRET:
                self.secrets.setdefault(form, kind)

    def add_bridge(self, directory: Path) -> None:
        if directory not in self.directories:
            self.directories.append(directory)

    def scan(self) -> list[Finding]:
        """Every INFO+ record of every bridge log that holds a secret."""
        findings: list[Finding] = []
        for directory in self.directories:
            self._add_directory_secrets(directory)
        for directory in self.directories:
            log = directory / "bridge.log"
            if log.exists():
                findings += scan_text(log, log.read_text(errors="replace"), self.secrets)
        return findings

    def _add_directory_secrets(self, directory: Path) -> None:
        config_path = directory / "config.yaml"
        if config_path.exists():
            config = YAML(typ="safe").load(config_path.read_text()) or {}
            appservice = config.get("appservice") or {}
            self.add("appservice as_token", appservice.get("as_token"))
            self.add("appservice hs_token", appservice.get("hs_token"))
            self.add(
                "provisioning shared secret",
                (config.get("provisioning") or {}).get("shared_secret"),
            )
            for secret in ((config.get("double_puppet") or {}).get("secrets") or {}).values():
                self.add("double-puppet secret", str(secret) if secret else None)
        database = directory / "bridge.db"
        if database.exists():
            for kind, key in _private_keys(database):
                self.add(kind, key)


def _byte_forms(value: bytes) -> list[str]:
    b64 = base64.b64encode(value).decode()
    urlsafe = base64.urlsafe_b64encode(value).decode()
    return [b64, b64.rstrip("="), urlsafe, urlsafe.rstrip("="), value.hex(), value.hex().upper()]


def _private_keys(database: Path) -> list[tuple[str, bytes]]:
    """The private keys of every device identity stored in a bridge's SQLite database."""
    keys: list[tuple[str, bytes]] = []
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        try:
            rows = conn.execute("SELECT data FROM wa_device").fetchall()
        except sqlite3.Error:
            return keys
    for (stored,) in rows:
        data = json.loads(stored)
        for name, kind in [
            ("noise_private", "Noise private key"),
            ("identity_private", "Signal identity private key"),
            ("adv_secret", "ADV secret"),
        ]:
            if data.get(name):
                keys.append((kind, base64.b64decode(data[name])))
    return keys


def records(text: str) -> list[tuple[str, str]]:
    """The log's records as (level, text), continuation lines (tracebacks) included."""
    starts = list(RECORD_START.finditer(text))
    out = []
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        out.append((match.group(1), text[match.start() : end]))
    return out


def scan_text(log: Path, text: str, secrets: dict[str, str]) -> list[Finding]:
    """The INFO+ records of ``text`` holding one of ``secrets`` (or a QR's contents)."""
    longest_first = sorted(secrets, key=len, reverse=True)
    pattern = re.compile("|".join(map(re.escape, longest_first))) if secrets else None
    findings = []
    for level, record in records(text):
        if level not in REPORTED_LEVELS:
            continue
        first_line = record.splitlines()[0][:300]
        if QR_SHAPE.search(record):
            findings.append(Finding(log, "QR contents", level, first_line))
        if pattern is not None:
            kinds = {secrets[m.group(0)] for m in pattern.finditer(record)}
            findings += [Finding(log, kind, level, first_line) for kind in sorted(kinds)]
    return findings


SECRETS = SecretRegistry()
"""The session's registry (fixtures and helpers add to it)."""
