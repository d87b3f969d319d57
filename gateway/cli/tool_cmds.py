"""``yrdgw bench | soak``: verbs that hand over to the tools in ``yrdtools``.

The tools parse their own options (``--help`` included), so these verbs take every argument after
their name as is. ``yrdtools`` is imported inside the handlers only: no other verb, and no node,
loads the benchmark or the fault harness.
"""

from __future__ import annotations

__all__ = ["register"]


def register(sub) -> None:
    for name, func, what in (
        ("bench", bench, "benchmark the gateway against its baselines (see bench/README.md)"),
        ("soak", soak, "mixed load with random faults on a temporary federation"),
    ):
        # main.py hands the arguments it does not know (all after the verb) to passes_args verbs
        text = f"{what}; arguments after `{name}` go to it (see `yrdgw {name} --help`)"
        tool = sub.add_parser(name, help=text, add_help=False)
        tool.set_defaults(func=func, passes_args=True)


def bench(args) -> int:
    from yrdtools.bench import main as bench_main

    return bench_main(args.tool_args, prog="yrdgw bench", federation=args.federation)


def soak(args) -> int:
    from yrdtools.soak import main as soak_main

    return soak_main(args.tool_args, prog="yrdgw soak", federation=args.federation)
