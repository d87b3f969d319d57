"""Tracing for one node: its tracer provider, its local span store and exporters."""
