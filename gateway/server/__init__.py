"""The gRPC edge of a node: interceptors and server assembly (no business logic)."""
