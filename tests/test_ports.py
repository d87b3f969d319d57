"""Free ports for local federations: below the ephemeral range (no outgoing connection can take
one before a node binds it), free, and never handed out twice by one process."""

from __future__ import annotations

import socket

import pytest

from gateway.ports import LOOPBACK, _ephemeral_range, free_ports
from gateway.ports import _bindable as ports_bindable


def test_ports_are_free_distinct_below_the_ephemeral_range_and_not_reused():
    low, _ = _ephemeral_range()
    first = free_ports(12)
    second = free_ports(12)
    assert len(set(first)) == 12 and len(set(second)) == 12
    assert not set(first) & set(second)
    assert all(1024 <= p < low for p in first + second)
    for port in first:
        with socket.socket() as s:
            s.bind((LOOPBACK, port))  # still free: nothing holds what was handed out


def test_a_port_in_use_is_skipped(monkeypatch, tmp_path):
    import gateway.ports as ports

    low, _ = _ephemeral_range()
    monkeypatch.setattr(ports, "_SPAN", 6)
    monkeypatch.setattr(ports, "_given", set())
    monkeypatch.setattr(ports.tempfile, "gettempdir", lambda: str(tmp_path))
    candidates = set(range(low - 6, low))
    taken = set()
    held = []
    for port in sorted(candidates):  # hold two of the six (any already in use count as held)
        s = socket.socket()
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            s.close()
            taken.add(port)
            continue
        if len(held) < 2:
            held.append(s)
            taken.add(port)
        else:
            s.close()
    try:
        free = candidates - taken
        assert set(free_ports(len(free))) == free
        # Once most candidates are handed out they may be handed out again; a held one never.
        again = {p for _ in range(20) for p in free_ports(1)}
        assert again <= free
    finally:
        for s in held:
            s.close()


def test_a_port_claimed_by_another_live_process_is_skipped_and_a_dead_ones_claim_is_not(
    monkeypatch, tmp_path
):
    import subprocess
    import sys

    import gateway.ports as ports

    low, _ = _ephemeral_range()
    monkeypatch.setattr(ports, "_SPAN", 4)
    monkeypatch.setattr(ports, "_given", set())
    monkeypatch.setattr(ports.tempfile, "gettempdir", lambda: str(tmp_path))
    candidates = [p for p in range(low - 4, low) if _bindable(p)]
    # Another process chooses first, and is still alive: its ports are not handed out here.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, tempfile, gateway.ports as p; tempfile.gettempdir = lambda: sys.argv[1];"
            " p._SPAN = 4; print(*p.free_ports(2), flush=True); sys.stdin.read()",
            str(tmp_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        theirs = {int(x) for x in child.stdout.readline().split()}
        assert len(theirs) == 2 and theirs <= set(candidates)
        mine = set(free_ports(len(candidates) - 2))
        assert not mine & theirs
    finally:
        child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()
    # The other process has exited and removed its claims: its ports are free to claim again.
    monkeypatch.setattr(ports, "_given", set())
    assert set(free_ports(len(candidates))) == set(candidates)


def _bindable(port: int) -> bool:
    return ports_bindable(LOOPBACK, port)


def test_a_block_is_free_and_claimed_whole_and_blocks_never_overlap(monkeypatch, tmp_path):
    import gateway.ports as ports

    monkeypatch.setattr(ports, "_given", set())
    monkeypatch.setattr(ports.tempfile, "gettempdir", lambda: str(tmp_path))
    starts = free_ports(6, block=9)
    every = [p for start in starts for p in range(start, start + 9)]
    assert len(set(every)) == len(every)  # no two blocks share a port
    assert all(_bindable(p) for p in every)
    claimed = {int(path.name) for path in ports._claims_dir().iterdir() if path.name.isdigit()}
    assert set(every) <= claimed
    again = free_ports(6, block=9)
    assert not {p for start in again for p in range(start, start + 9)} & set(every)


def test_a_block_with_a_port_in_use_is_skipped(monkeypatch, tmp_path):
    import gateway.ports as ports

    low, _ = _ephemeral_range()
    monkeypatch.setattr(ports, "_SPAN", 8)
    monkeypatch.setattr(ports, "_given", set())
    monkeypatch.setattr(ports.tempfile, "gettempdir", lambda: str(tmp_path))
    first, second = range(low - 8, low - 4), range(low - 4, low)  # the two aligned blocks
    if not all(_bindable(p) for p in (*first, *second)):
        pytest.skip("another process holds a port just below the ephemeral range")
    with socket.socket() as held:
        held.bind((LOOPBACK, first[2]))  # one port inside the first block
        assert free_ports(1, block=4) == [second.start]
        with pytest.raises(RuntimeError):
            free_ports(1, block=4)  # the second is handed out, the first has a port in use


def test_a_loopback_federation_leaves_room_for_its_replicas_ports():
    from gateway.config import split_address
    from gateway.pgdeploy import MAX_REPLICAS
    from yrdtools.loopback import loopback_addresses

    addresses = loopback_addresses(["js", "sh", "zj", "ah"])
    bases = [split_address(a)[1] for node in addresses.values() for a in node.values()]
    replicas = [base + i for base in bases for i in range(MAX_REPLICAS)]
    assert len(set(replicas)) == len(replicas)  # no replica's port is another address's
    assert all(_bindable(p) for p in replicas)
