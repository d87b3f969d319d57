"""The error tree drawn at the top of ``gateway/errors.py`` is the code's: every exception class
the package defines descends from one of its three roots and is named in the drawing."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import gateway
from gateway import errors
from gateway.errors import ConfigError, Fault, GatewayError

ROOTS = (ConfigError, GatewayError, Fault)


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(gateway.__path__, "gateway."):
        if info.name.startswith("gateway._pb"):
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return sorted(found.values(), key=lambda c: (c.__module__, c.__qualname__))


CLASSES = _exception_classes()


def test_the_walk_finds_the_classes_defined_outside_errors_py() -> None:
    modules = {c.__module__ for c in CLASSES}
    assert {"gateway.errors", "gateway.audit.writer", "gateway.shm", "gateway.partial"} <= modules


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_every_exception_sits_under_one_root_and_in_the_drawing(cls: type) -> None:
    assert cls in ROOTS or issubclass(cls, ROOTS), f"{cls.__qualname__} is outside the tree"
    drawing = errors.__doc__ or ""
    assert f" {cls.__qualname__} " in drawing.replace("\n", " "), (
        f"{cls.__qualname__} is missing from the drawing in gateway/errors.py"
    )
    if cls.__module__ != "gateway.errors":
        # The drawing names where it lives: the module path after "gateway.".
        where = cls.__module__.removeprefix("gateway.")
        line = next(ln for ln in drawing.splitlines() if f" {cls.__qualname__} " in f"{ln} ")
        assert where in line, f"the drawing's line for {cls.__qualname__} does not name {where}"


def test_the_drawing_names_no_class_that_does_not_exist() -> None:
    names = {c.__qualname__ for c in CLASSES} | {"Exception"}
    drawn = []
    for line in (errors.__doc__ or "").splitlines():
        stripped = line.strip().lstrip("│├└─ ").strip()
        if line.startswith("    ") and stripped:
            drawn.append(stripped.split()[0])
    assert drawn and set(drawn) <= names


def test_the_drawing_names_the_translation_module_that_exists() -> None:
    importlib.import_module("gateway.server.interceptors")
    assert "gateway.server.interceptors" in (errors.__doc__ or "")
