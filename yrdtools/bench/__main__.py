"""``python -m yrdtools.bench``: run the benchmark (see ``--help``)."""

from yrdtools.bench.cli import main

raise SystemExit(main())
