"""How much of a caller's deadline one hop may spend on the calls it makes downstream.

A home node that forwards a call (or fans out a search) must answer its caller *before the
caller's deadline*, with its own status naming the province that was slow; otherwise the caller
sees only its own ``DEADLINE_EXCEEDED`` and learns nothing. So each hop keeps a margin of the
time it was given for everything after its downstream budget runs out: noticing the timeout,
writing the consumer-side audit entry, encoding the reply and getting it back to the caller (plus
the request's own transit, which gRPC's relative ``grpc-timeout`` does not subtract).

The margin is a quarter of the remaining time, at least 10 ms and at most 0.5 s. Measured with
four node processes on loopback, sh paused (SIGSTOP), 6 concurrent calls or searches through js
at deadlines of 0.5, 1 and 2 s, overhead = the caller's elapsed time minus js's budget:

============================================  =======  =====  =====  ======
box (2 cores, shared with other sessions)      samples  p50    p90    max
============================================  =======  =====  =====  ======
no extra load                                  144      19 ms  32 ms  37 ms
``stress-ng --cpu 2`` (a hog per core), run 1  144      32 ms  96 ms  106 ms
``stress-ng --cpu 2``, run 2                   216      28 ms  58 ms  266 ms
============================================  =======  =====  =====  ======

The overhead does not grow with the deadline, but its tail under contention reaches a quarter
second, so a fixed 50 ms (the former margin) lost the race on a loaded box: the caller's own
deadline fired first. The cap covers the worst measured with room to spare and costs a long
deadline little (10% of 5 s); a quarter is what a short deadline can spare. A deadline under
about 0.5 s therefore keeps a margin below the loaded tail: on a loaded box such a caller may
still see its own deadline fire rather than the home node's answer.
"""

from __future__ import annotations

DEFAULT_BUDGET_S = 5.0
"""For a caller that set no deadline, when the node's configuration names none either."""

MARGIN_SHARE = 0.25
"""The share of the caller's remaining time this hop keeps for its own reply."""
MIN_MARGIN_S = 0.010
MAX_MARGIN_S = 0.5
"""About twice the worst reply overhead measured under CPU contention (see above)."""


def margin(time_remaining: float) -> float:
    """What this hop keeps of ``time_remaining`` for its own reply."""
    return min(MAX_MARGIN_S, max(MIN_MARGIN_S, time_remaining * MARGIN_SHARE))


def budget(time_remaining: float | None, default: float = DEFAULT_BUDGET_S) -> float:
    """The caller's remaining time less this hop's ``margin``, or ``default`` when the caller set
    no deadline. Never negative."""
    if time_remaining is None:
        return default
    return max(0.0, time_remaining - margin(time_remaining))
