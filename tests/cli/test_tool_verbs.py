"""The tools stay outside the runtime: no node and no other yrdgw verb imports ``yrdtools`` or
``gateway.cli``; ``yrdgw bench`` and ``yrdgw soak`` hand their options to the tool."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import yrdgw
from tests.support.federation import ROOT

RUNTIME = ("gateway.cli.main", "gateway.node", "gateway.workers", "gateway.supervisor")


def test_a_node_and_the_cli_import_no_tool():
    code = (
        f"import sys; import {', '.join(RUNTIME)}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'yrdtools'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_nothing_outside_cli_imports_cli_and_only_the_tool_verbs_import_tools():
    package = ROOT / "gateway"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        inside = path.relative_to(package).parts[0]
        names = _imported(path)
        cli = any(n == "gateway.cli" or n.startswith("gateway.cli.") for n in names)
        if inside != "cli" and cli:
            offenders.append(f"{path.relative_to(ROOT)} imports gateway.cli")
        if path.name != "tool_cmds.py" and any(n.split(".")[0] == "yrdtools" for n in names):
            offenders.append(f"{path.relative_to(ROOT)} imports yrdtools")
    assert offenders == []


@pytest.mark.parametrize("verb", ["bench", "soak"])
def test_tool_verbs_show_their_own_options_under_their_yrdgw_name(verb):
    code, out, _ = yrdgw("--federation", str(ROOT / "config" / "federation.yaml"), verb, "--help")
    assert code == 0
    assert out.startswith(f"usage: yrdgw {verb} ")
    assert "--federation FEDERATION" in out


def test_soak_takes_yrdgw_federation_as_its_template(tmp_path):
    code, _, err = yrdgw("--federation", str(tmp_path / "missing.yaml"), "soak", "--duration", "1")
    assert code == 2
    assert "error: configuration" in err and "missing.yaml" in err


def test_other_verbs_still_refuse_options_they_do_not_know():
    code, _, err = yrdgw("search", "户籍", "--bogus")
    assert code == 2
    assert "unrecognized arguments: --bogus" in err
