"""``yrdgw bench | soak``: verbs that hand over to the tools in ``yrdtools``.

The tools parse their own options (``--help`` included), so these verbs take every argument after
their name as is. ``yrdtools`` is imported inside the handlers only: no other verb, and no node,
loads the benchmark or the fault harness.
"""

from __future__ import annotations

__all__ = ["register"]


def register(sub) -> None:
    b = sub.add_parser(
        "bench",
        help="benchmark the gateway against its baselines (see bench/README.md); arguments "
        "after `bench` go to the harness",
        add_help=False,
    )
    b.set_defaults(func=bench, passes_args=True)

    s = sub.add_parser(
        "soak",
        help="mixed load with random faults on a temporary federation; arguments after `soak` "
        "go to it (see `yrdgw soak --help`)",
        add_help=False,
    )
    s.set_defaults(func=soak, passes_args=True)


def bench(args) -> int:
    from yrdtools.bench import main as bench_main

    return bench_main(args.tool_args, prog="yrdgw bench", federation=args.federation)


def soak(args) -> int:
    from yrdtools.soak import main as soak_main

    return soak_main(args.tool_args, prog="yrdgw soak", federation=args.federation)
