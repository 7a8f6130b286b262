"""The container health check: ``python -m mautrix_whatsapp.healthcheck [-c FILE] [ready|live]``.

Asks the running bridge's ``/_matrix/mau/ready`` (or ``live``) probe on the appservice port
named in the config, and exits 0 when it answers 200, 1 otherwise. It imports neither mautrix
nor the bridge, so a check costs little more than starting Python.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def probe_url(config: dict[str, Any], probe: str) -> str:
    """The probe's URL on this host, from ``appservice.hostname``/``port``."""
    appservice = config.get("appservice") or {}
    host = str(appservice.get("hostname") or "")
    host = _ANY_ADDRESS.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    port = int(appservice.get("port") or 29318)
    return f"http://{host}:{port}/_matrix/mau/{probe}"


def check(url: str, timeout: float) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200, f"{url}: {resp.status}"
    except urllib.error.HTTPError as e:
        return False, f"{url}: {e.code}"
    except OSError as e:
        return False, f"{url}: {e}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mautrix_whatsapp.healthcheck")
    parser.add_argument("-c", "--config", default="config.yaml", help="the bridge's config")
    parser.add_argument("probe", nargs="?", choices=("ready", "live"), default="ready")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    try:
        with open(args.config) as f:
            config = YAML(typ="safe").load(f)
    except (OSError, YAMLError) as e:
        print(f"can't read {args.config}: {e}", file=sys.stderr)
        return 1
    if not isinstance(config, dict):
        print(f"{args.config} is not a bridge config", file=sys.stderr)
        return 1
    healthy, detail = check(probe_url(config, args.probe), args.timeout)
    print(detail, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
