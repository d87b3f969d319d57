"""Helpers the test modules share, once each: federation files and clocks (``federation``),
in-process nodes (``nodes``), the exchange cluster with its app-and-grant setup and refusal
asserter (``cluster``), the CLI runner (``cli``) and the hostile-input harness (``hostile``).

No test module imports another test module or a conftest; they import from here."""
