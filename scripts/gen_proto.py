"""Regenerate the committed protobuf modules from the project's own .proto files.

    python scripts/gen_proto.py           # rewrite the *_pb2.py / *_pb2.pyi files
    python scripts/gen_proto.py --check   # exit 1 if any committed module is stale

The output depends on the protoc bundled with grpcio-tools, which the test extra pins exactly.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIRS = [
    ROOT / "mautrix_whatsapp" / "whatsapp" / "proto",
    ROOT / "mautrix_whatsapp" / "whatsapp" / "signal" / "proto",
]


def proto_files() -> list[Path]:
    return sorted(p for d in PROTO_DIRS if d.is_dir() for p in d.glob("*.proto"))


def generate(out_dir: Path) -> None:
    files = [str(p.relative_to(ROOT)) for p in proto_files()]
    if not files:
        return
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
    ]
    if protoc.main([*args, *files]) != 0:
        raise SystemExit("protoc failed")


def generated_names(proto: Path) -> list[str]:
    return [proto.stem + "_pb2.py", proto.stem + "_pb2.pyi"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale modules")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate(out)
        stale: list[str] = []
        expected: set[Path] = set()
        for proto in proto_files():
            rel_dir = proto.parent.relative_to(ROOT)
            for name in generated_names(proto):
                fresh = out / rel_dir / name
                committed = ROOT / rel_dir / name
                expected.add(committed)
                if not committed.exists() or committed.read_bytes() != fresh.read_bytes():
                    stale.append(str(committed.relative_to(ROOT)))
                    if not args.check:
                        shutil.copyfile(fresh, committed)
        for d in PROTO_DIRS:
            for orphan in sorted(d.glob("*_pb2.py*")) if d.is_dir() else []:
                if orphan not in expected:
                    stale.append(f"{orphan.relative_to(ROOT)} (no .proto)")
                    if not args.check:
                        orphan.unlink()
    if args.check and stale:
        print("stale generated protobuf modules (run scripts/gen_proto.py):", *stale, sep="\n  ")
        return 1
    if not args.check:
        print(f"regenerated {len(stale)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
