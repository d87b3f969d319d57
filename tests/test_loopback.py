"""yrdtools.loopback: temporary federations copy the template's provinces, standard and node
configs, get fresh loopback ports, and can point a reader at a peer elsewhere."""

from __future__ import annotations

import pytest

from gateway.config import load_federation
from tests.support.federation import NODE_IDS, TEMPLATE
from yrdtools.loopback import loopback_addresses, require_loopback, write_federation


def test_a_written_federation_loads_with_the_template_provinces_and_new_ports(tmp_path):
    addresses = loopback_addresses(["sh", "ah"])
    fed = load_federation(
        write_federation(
            tmp_path / "f.yaml",
            TEMPLATE,
            name="yrd-x",
            addresses=addresses,
            certs_dir=tmp_path / "certs",
            data_dir=tmp_path / "var",
            peers={"ah": "127.0.0.1:1"},
        )
    )
    assert fed.federation == "yrd-x" and set(fed.nodes) == {"sh", "ah"}
    assert fed.standard_path == TEMPLATE.standard_path and fed.nodes_dir == TEMPLATE.nodes_dir
    assert fed.data_dir == tmp_path / "var" and fed.certs_dir == tmp_path / "certs"
    for node in ("sh", "ah"):
        assert (fed.node(node).name, fed.node(node).region_code) == (
            TEMPLATE.node(node).name,
            TEMPLATE.node(node).region_code,
        )
        assert fed.node(node).client == addresses[node]["client"]
    assert fed.node("sh").peer == addresses["sh"]["peer"]
    assert fed.node("ah").peer == "127.0.0.1:1"


def test_fresh_addresses_are_loopback_and_distinct():
    addresses = loopback_addresses(NODE_IDS)
    every = [a for node in addresses.values() for a in node.values()]
    assert len(set(every)) == 3 * len(NODE_IDS)
    assert all(a.startswith("127.0.0.1:") for a in every)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]"])
def test_loopback_hosts_pass(host):
    assert require_loopback(host) == host


@pytest.mark.parametrize("host", ["10.0.0.1", "example.org", "0.0.0.0"])
def test_other_hosts_stop_the_benchmark(host):
    with pytest.raises(SystemExit, match="only talks to loopback"):
        require_loopback(host)
