"""Authorized interface calls: interface declarations, backends, the release policy, routing."""
