"""``python -m gateway.benchmark``: run the benchmark (see ``--help``)."""

from gateway.benchmark.cli import main

raise SystemExit(main())
