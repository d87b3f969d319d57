"""Helpers the test modules share, once each; fixtures stay in the ``conftest.py`` of the level
that uses them. ``federation``: the repository's federation, federation files on fresh loopback
ports, a holdable node clock, a bounded wait. ``nodes``: in-process nodes and client channels.
``cluster``: the exchange cluster and the app-and-grant steps. ``refusals``: the refusal
asserter. ``cli``: the one way each to run ``yrdgw``. ``names``: the app, interfaces and purpose
tests call with. ``ops``: nodes serving their ops pages. ``hostile``: the hostile-input harness.
``entries``, ``records``, ``applications``, ``rpc``, ``processes``, ``postgres``: hand-built
catalog entries, audit records, sharing applications, a failed peer call, forked children, a
fresh PostgreSQL schema. ``witness``: audit heads sent often, and what a node says it keeps.

No test module imports another test module or a conftest; they import from here."""
