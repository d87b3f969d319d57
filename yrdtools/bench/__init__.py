"""The benchmark harness of issue 6: ``python -m yrdtools.bench`` (``make bench``).

Starts the four-province federation as real processes, drives each case from a separate
multi-process load generator, and writes one table plus ``bench/results/<timestamp>.json``.
"""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None, **kw) -> int:
    # Imported on call: the backend, proxy and load-generator processes import this package too
    # and should not pay for the whole harness.
    from yrdtools.bench.cli import main as cli_main

    return cli_main(argv, **kw)
