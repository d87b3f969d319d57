"""Generate gateway/_pb from protos/ (one command: `make proto`); `--check` fails when stale.

protoc writes imports as ``from yrd.v1 import x_pb2``; they are rewritten to absolute imports
inside ``gateway._pb`` so the generated package needs nothing on sys.path.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "gateway" / "_pb"
IMPORT_RE = re.compile(r"^from yrd\.v1 import ", re.M)


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for py in list(out.rglob("*.py")) + list(out.rglob("*.pyi")):
        text = py.read_text()
        py.write_text(IMPORT_RE.sub("from gateway._pb.yrd.v1 import ", text))
    for pkg in {out, *(p.parent for p in out.rglob("*_pb2.py"))}:
        while True:
            (pkg / "__init__.py").touch()
            if pkg == out:
                break
            pkg = pkg.parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="fail if gateway/_pb is stale")
    args = parser.parse_args()
    if not args.check:
        shutil.rmtree(OUT / "yrd", ignore_errors=True)
        generate(OUT)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        stale = [
            str(p.relative_to(fresh))
            for p in fresh.rglob("*")
            if p.is_file()
            and (
                not (OUT / p.relative_to(fresh)).exists()
                or not filecmp.cmp(p, OUT / p.relative_to(fresh), shallow=False)
            )
        ]
        extra = [
            str(p.relative_to(OUT))
            for p in OUT.rglob("*_pb2*.py")
            if not (fresh / p.relative_to(OUT)).exists()
        ]
    if stale or extra:
        print("gateway/_pb is stale; run `make proto`:", *(stale + extra), sep="\n  ")
        return 1
    print("gateway/_pb is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
