"""Backends that serve interfaces: the ``Backend`` protocol, its sqlite and http
implementations, and ``BackendPool``, which builds one backend per target and closes them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Protocol

from gateway.exchange.backends.http import HttpBackend
from gateway.exchange.backends.sqlite import SqliteBackend
from gateway.exchange.model import DEFAULT_HTTP_TIMEOUT_MS, BackendSpec, Interface

__all__ = ["Backend", "BackendPool", "HttpBackend", "SqliteBackend", "make_backend"]


class Backend(Protocol):
    """Where an interface's records come from. Callers pass validated, normalised params."""

    async def fetch(
        self,
        iface: Interface,
        params: Mapping[str, str],
        *,
        limit: int,
        after: str | None = None,
    ) -> list[tuple[str, dict[str, str]]]:
        """Up to ``limit`` records matching every param, ordered by cursor, each after
        ``after`` when given: ``(cursor, {declared field name: value})``. Serves normal
        queries (``after=None``, small limit) and bulk streams resumed after a cursor."""
        ...

    async def verify(self, iface: Interface, params: Mapping[str, str]) -> bool:
        """核验: whether a record matches all given params (``False`` for no params)."""
        ...

    async def close(self) -> None: ...


def make_backend(
    spec: BackendSpec, *, dataset_path: str | os.PathLike[str] | None = None
) -> Backend:
    """A new backend for ``spec``; sqlite backends read ``dataset_path``."""
    if spec.type == "sqlite":
        if dataset_path is None:
            raise ValueError("a sqlite backend needs the node's dataset path")
        return SqliteBackend(dataset_path)
    if spec.type == "http":
        timeout_ms = spec.options.get("timeout_ms", DEFAULT_HTTP_TIMEOUT_MS)
        if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool):
            raise ValueError("http backend timeout_ms must be an integer")
        return HttpBackend(str(spec.options["base_url"]), timeout=timeout_ms / 1000)
    raise ValueError(f"unknown backend type {spec.type!r}")


class BackendPool:
    """One backend per target (the dataset file, or an upstream URL and timeout), shared by
    every interface that uses it, so a node opens one dataset connection set, not one per
    interface."""

    def __init__(self, *, dataset_path: str | os.PathLike[str] | None = None) -> None:
        self._dataset_path = dataset_path
        self._backends: dict[tuple[object, ...], Backend] = {}

    def backend_for(self, spec: BackendSpec) -> Backend:
        if spec.type == "http":
            key: tuple[object, ...] = (
                "http",
                spec.options.get("base_url"),
                spec.options.get("timeout_ms"),
            )
        else:
            key = (spec.type,)
        backend = self._backends.get(key)
        if backend is None:
            backend = self._backends[key] = make_backend(spec, dataset_path=self._dataset_path)
        return backend

    def for_interfaces(self, interfaces: Iterable[Interface]) -> dict[str, Backend]:
        """Interface id -> its backend, e.g. for ``Provider(backends=...)``."""
        return {iface.id: self.backend_for(iface.backend) for iface in interfaces}

    async def close(self) -> None:
        backends, self._backends = list(self._backends.values()), {}
        for backend in backends:
            await backend.close()
