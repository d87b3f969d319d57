"""Tools that run the gateway from outside: the benchmark, the fault harness and the soak.

Nothing here is part of a node. ``yrdtools`` imports ``gateway``; ``gateway`` never imports
``yrdtools`` except inside the ``yrdgw bench`` and ``yrdgw soak`` verb handlers, on call.
"""
