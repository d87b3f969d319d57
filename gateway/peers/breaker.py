"""A per-peer circuit breaker: after repeated transport failures a peer is skipped at once, and
probed again after a jittered, growing back-off until it answers.

Only transport failures count (unreachable, timed out); a peer that answers with a refusal of
its own is alive. The breaker is consulted before every call to that peer.

A lost connection counts once: the calls in flight together on a connection that is cut, or to
one of a peer's processes that is killed, all fail at once, and counting each would let
concurrency alone open the breaker on a peer that answers the very next call (the survivor of
two replicas, say). So a call notes the breaker's ``epoch`` when it is let through, and such a
failure counts only if no other failure was counted since (``failure(since=...)``). A call
that waited out its time is a verdict of its own (``Peer.observe``): a hung peer still opens
the breaker as soon as three calls have timed out.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failure_threshold: int = 3
    """Consecutive transport failures that open the breaker."""
    reset_after: float = 1.0
    """First back-off before a probe, in seconds; doubles after each failed probe."""
    max_reset_after: float = 15.0
    jitter: float = 0.2
    """Back-offs vary by this fraction, so nodes don't probe a recovering peer in lockstep."""


class Breaker:
    def __init__(
        self,
        settings: BreakerSettings = BreakerSettings(),
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._s = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._state = CLOSED
        self._failures = 0
        self._epoch = 0
        self._backoff = settings.reset_after
        self._next_probe = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> str:
        return self._state

    @property
    def epoch(self) -> int:
        """How many failures have been counted; a call notes it when let through."""
        return self._epoch

    def retry_in(self) -> float:
        return max(0.0, self._next_probe - self._clock()) if self._state == OPEN else 0.0

    def allow(self) -> bool:
        """May a call go to the peer now? In OPEN, one probe is let through once due."""
        if self._state == CLOSED:
            return True
        if self._state == OPEN and self._clock() >= self._next_probe:
            self._state = HALF_OPEN
            self._probe_in_flight = True
            return True
        return False

    def probe_due(self) -> bool:
        return self._state == OPEN and self._clock() >= self._next_probe

    def abandon(self) -> None:
        """The call let through as a probe ended without an answer either way (its caller gave
        up): reopen with the probe due at once, rather than wait in HALF_OPEN for ever."""
        if self._state == HALF_OPEN:
            self._state = OPEN
            self._probe_in_flight = False
            self._next_probe = self._clock()

    def success(self) -> None:
        self._state = CLOSED
        self._failures = 0
        self._backoff = self._s.reset_after
        self._probe_in_flight = False

    def failure(self, since: int | None = None) -> None:
        """A transport failure of a call let through at ``epoch`` ``since``: not counted when
        another failure was counted meanwhile (the same cause, see above). None: counted (a
        probe, or a call that did not note it)."""
        if since is not None and since < self._epoch:
            return
        self._epoch += 1
        self._failures += 1
        if self._state == HALF_OPEN:
            self._backoff = min(self._backoff * 2, self._s.max_reset_after)
            self._open()
        elif self._state == CLOSED and self._failures >= self._s.failure_threshold:
            self._open()

    def _open(self) -> None:
        self._state = OPEN
        self._probe_in_flight = False
        spread = self._backoff * self._s.jitter
        self._next_probe = self._clock() + self._backoff + self._rng.uniform(-spread, spread)
