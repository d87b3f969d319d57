"""Fault injection: a TCP link proxy and a harness of real node processes to break on purpose."""

from yrdtools.faults.clients import BIG_QUOTA
from yrdtools.faults.harness import Federation
from yrdtools.faults.load import Load
from yrdtools.faults.outcomes import App, Outcome, Released, released, states
from yrdtools.faults.proxy import LinkProxy, LinkStats
from yrdtools.faults.stored import AuditRow

__all__ = [
    "BIG_QUOTA",
    "App",
    "AuditRow",
    "Federation",
    "LinkProxy",
    "LinkStats",
    "Load",
    "Outcome",
    "Released",
    "released",
    "states",
]
