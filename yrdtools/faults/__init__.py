"""Fault injection: a TCP link proxy and a harness of real node processes to break on purpose."""

from yrdtools.faults.harness import App, Federation, Outcome
from yrdtools.faults.proxy import LinkProxy, LinkStats

__all__ = ["App", "Federation", "LinkProxy", "LinkStats", "Outcome"]
