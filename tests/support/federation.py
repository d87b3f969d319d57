"""The repository's federation as tests copy it: paths, node ids, federation files on fresh
loopback ports, a holdable node clock, a bounded wait, and the shipped interfaces loaded as a node
loads them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import yaml

from yrdtools import loopback
from yrdtools.loopback import loopback_addresses, template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = template(ROOT / "config" / "federation.yaml")
"""The repository's federation: the provinces, the standard and the node configs tests copy."""
NODE_IDS = tuple(TEMPLATE.nodes)


async def eventually(check, timeout: float = 2.0) -> None:
    """Wait (bounded) until ``check()`` holds: metrics and spans are recorded a moment after the
    caller resumes (a call's status arrives, the server's handler finishes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            assert check()
        await asyncio.sleep(0.02)


def write_federation(
    tmp: Path,
    certs_dir: Path,
    *,
    node_ids: Iterable[str] = NODE_IDS,
    standard: Path | None = None,
    nodes_dir: Path | None = None,
    peer_overrides: dict[str, str] | None = None,
) -> Path:
    """A federation file on fresh loopback ports, data in ``tmp``; returns its path."""
    return loopback.write_federation(
        tmp / "federation.yaml",
        TEMPLATE,
        name="yrd-test",
        addresses=loopback_addresses(node_ids),
        certs_dir=certs_dir,
        data_dir=tmp / "var",
        nodes_dir=nodes_dir,
        standard=standard,
        peers=peer_overrides,
    )


class HeldClock:
    """A node clock (``NodeOptions.clock``) that follows the wall clock until held.

    While held, every call sees the same moment, so a test's calls all fall in one quota
    window (minute and China Standard Time day) whatever the wall clock does meanwhile.
    """

    def __init__(self) -> None:
        self._held: datetime | None = None

    def __call__(self) -> datetime:
        return self._held or datetime.now(UTC)

    @contextmanager
    def held(self) -> Iterator[datetime]:
        self._held = datetime.now(UTC)
        try:
            yield self._held
        finally:
            self._held = None


def shipped_interfaces(province: str):
    """The shipped standard and one province's shipped interfaces, loaded as its node loads
    them: for tests that run a service (Provider, SharingService) without a whole node."""
    from gateway.config import load_departments, load_interfaces, load_standard

    standard = load_standard(ROOT / "config" / "standard" / "yrd-standard.yaml")
    folder = ROOT / "nodes" / province
    interfaces = load_interfaces(
        folder / "interfaces.yaml",
        province=province,
        standard=standard,
        departments=load_departments(folder / "departments.yaml", standard),
    )
    return standard, interfaces


def js_nodes_dir(tmp_path: Path, **settings: object) -> Path:
    """A copy of js's node folder with ``settings`` merged into its node.yaml."""
    target = tmp_path / "nodes" / "js"
    target.mkdir(parents=True)
    for f in (ROOT / "nodes" / "js").iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    doc = yaml.safe_load((target / "node.yaml").read_text(encoding="utf-8"))
    for key, value in settings.items():
        if isinstance(value, dict):
            doc.setdefault(key, {}).update(value)
        else:
            doc[key] = value
    (target / "node.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return tmp_path / "nodes"
