"""The README as a newcomer reads it: its catalog examples answer with results on a federation
seeded as `make demo` seeds it, every document it points to is in the repository, and nothing
points outside it (a clone has no ../shared)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import load_federation
from gateway.supervisor import NodeProcesses
from tests.support.federation import ROOT, write_federation

README = ROOT / "README.md"


def _demo_block_commands() -> list[list[str]]:
    """The `yrdgw search` / `yrdgw get` lines of the README's "while make demo runs" block."""
    text = README.read_text(encoding="utf-8")
    block = text.split("While `make demo` runs", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        if line.startswith(("yrdgw search ", "yrdgw get ")):
            commands.append(shlex.split(line)[1:])
    return commands


def test_the_readme_has_catalog_examples():
    verbs = [c[0] for c in _demo_block_commands()]
    assert verbs.count("search") >= 3 and "get" in verbs


@pytest.fixture(scope="module")
def demo_federation(tmp_path_factory, certs_dir):
    """Four node processes seeded with node.yaml's defaults, as `make demo` seeds them."""
    fed = load_federation(write_federation(tmp_path_factory.mktemp("readme"), certs_dir))
    procs = NodeProcesses(fed)
    procs.start_all()
    try:
        procs.wait_ready(timeout=600)
        yield fed
    finally:
        procs.stop_all()


@pytest.mark.parametrize("args", _demo_block_commands(), ids=lambda a: " ".join(a))
def test_each_readme_catalog_example_returns_results(demo_federation, args):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli.main",
            *args,
            *([] if "--json" in args else ["--json"]),
        ],
        env={**os.environ, "YRD_FEDERATION": str(demo_federation.path)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    if args[0] == "search":
        assert answer["results"] and answer["total"] > 0 and not answer["partial"], args
        wanted = {args[i + 1] for i, a in enumerate(args) if a == "--province"}
        assert not wanted or {r["province"] for r in answer["results"]} <= wanted
        grades = {args[i + 1] for i, a in enumerate(args) if a == "--grade"}
        assert not grades or {r["grade"] for r in answer["results"]} <= grades
    else:
        assert answer["code"] == args[1]


def test_every_document_the_readme_names_is_in_the_repository():
    text = README.read_text(encoding="utf-8")
    named = (
        set(re.findall(r"\]\(([^)#\s]+)\)", text))  # [links](path)
        | set(re.findall(r"`([^`\s]+\.md)`", text))  # `docs/X.md`
        | set(re.findall(r"`([^`\s]+/[^`\s]+\.(?:json|yaml))`", text))  # `config/x.yaml`
    )
    local = {n for n in named if "://" not in n and "<" not in n}
    assert "docs/DESIGN.md" in local
    # An absolute path is never the repository's: it would pass or fail by what the machine
    # running the test happens to hold (a benchmark's results under /tmp did).
    missing = sorted(n for n in local if Path(n).is_absolute() or not (ROOT / n).exists())
    assert not missing, missing


def test_nothing_points_outside_the_repository():
    found = subprocess.run(
        ["git", "grep", "-n", "-I", "-e", "../shared", "-e", "shared/DESIGN", "--", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    hits = [h for h in found.stdout.splitlines() if not h.startswith("tests/test_readme.py:")]
    assert not hits, hits
