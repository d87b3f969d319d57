"""The ``yrdgw`` command line: run nodes, and talk to them as an app or an operator."""
