"""The repository's layout: ``example-config.yaml`` at the root is the file the package ships,
in a checkout and once built and installed, and ``-g`` writes ``registration.yaml`` where the
bridge runs (the repository root, when run from there as the README says).
"""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
ROOT_EXAMPLE = REPO / "example-config.yaml"


def _run(args: list[str], cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _checkout_copy(target: Path) -> Path:
    """What ``git clone`` gives for building: the build files and the package, symlinks kept."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md", "example-config.yaml"):
        shutil.copy2(REPO / name, target / name)
    shutil.copytree(
        REPO / "mautrix_whatsapp",
        target / "mautrix_whatsapp",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return target


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(a checkout copy, the package installed from its wheel into a folder of its own)."""
    base = tmp_path_factory.mktemp("layout")
    checkout = _checkout_copy(base / "checkout")
    wheels = base / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-cache-dir",
            "-w",
            str(wheels),
            str(checkout),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    [wheel] = wheels.glob("mautrix_whatsapp-*.whl")
    site = base / "site"
    with zipfile.ZipFile(wheel) as archive:  # a pure-Python wheel installs by unpacking
        archive.extractall(site)
    yield checkout, site


def test_the_package_reads_the_root_file() -> None:
    packaged = REPO / "mautrix_whatsapp" / "example-config.yaml"
    assert ROOT_EXAMPLE.is_file() and not ROOT_EXAMPLE.is_symlink()
    assert packaged.is_symlink() and packaged.resolve() == ROOT_EXAMPLE.resolve()
    assert pkgutil.get_data("mautrix_whatsapp", "example-config.yaml") == (
        ROOT_EXAMPLE.read_bytes()
    )


def test_the_built_package_carries_the_file_itself(built: tuple[Path, Path]) -> None:
    _checkout, site = built
    shipped = site / "mautrix_whatsapp" / "example-config.yaml"
    assert shipped.is_file() and not shipped.is_symlink()
    assert shipped.read_bytes() == ROOT_EXAMPLE.read_bytes()


def test_installed_first_start_writes_the_example_and_g_writes_registration_here(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    _checkout, site = built
    where = _run(
        ["-c", "import mautrix_whatsapp; print(mautrix_whatsapp.__file__)"], tmp_path, site
    )
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr
    _first_start_then_registration(tmp_path, site)


def test_from_a_checkout_root_config_and_registration_land_at_the_root(
    built: tuple[Path, Path],
) -> None:
    checkout, _site = built
    _first_start_then_registration(checkout, checkout)
    ignored = (REPO / ".gitignore").read_text().split()
    assert {"/config.yaml", "/registration.yaml"} <= set(ignored)


def _first_start_then_registration(cwd: Path, pythonpath: Path) -> None:
    first = _run(["-m", "mautrix_whatsapp"], cwd, pythonpath)
    assert first.returncode == 0, first.stdout + first.stderr
    config = cwd / "config.yaml"
    assert config.read_bytes() == ROOT_EXAMPLE.read_bytes()
    yaml = YAML()
    yaml.indent(4)
    data = yaml.load(config.read_text())
    data["homeserver"]["address"] = "http://127.0.0.1:8008"
    data["homeserver"]["domain"] = "example.net"
    with config.open("w") as f:
        yaml.dump(data, f)
    gen = _run(["-m", "mautrix_whatsapp", "-g"], cwd, pythonpath)
    assert gen.returncode == 0, gen.stdout + gen.stderr
    registration = yaml.load((cwd / "registration.yaml").read_text())
    assert registration["as_token"] == yaml.load(config.read_text())["appservice"]["as_token"]
