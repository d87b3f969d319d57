"""The one YAML reader: every configuration file is parsed here into ``ConfigNode`` values that
know their file and key path, so any failure is a ``ConfigError`` naming both.

No other module imports ``yaml``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import ConfigError

__all__ = ["ConfigNode", "load_yaml"]

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigNode:
    """One parsed YAML value that knows its file and key path, so any failure names both."""

    __slots__ = ("path", "key", "value")

    def __init__(self, path: str, key: str, value: Any) -> None:
        self.path = path
        self.key = key
        self.value = value

    def fail(self, expected: str) -> ConfigError:
        """The error to raise when this value is not what was expected."""
        return ConfigError(self.path, self.key or "<document>", expected)

    def _child(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def _as_dict(self) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            raise self.fail(f"a mapping, got {_describe(self.value)}")
        return self.value

    def has(self, name: str) -> bool:
        return name in self._as_dict()

    def __getitem__(self, name: str) -> ConfigNode:
        mapping = self._as_dict()
        if name not in mapping:
            raise ConfigError(self.path, self._child(name), "a value (the key is missing)")
        return ConfigNode(self.path, self._child(name), mapping[name])

    def get(self, name: str) -> ConfigNode | None:
        """The child if present (even when null), else ``None``."""
        mapping = self._as_dict()
        if name not in mapping:
            return None
        return ConfigNode(self.path, self._child(name), mapping[name])

    def _given(self, name: str) -> ConfigNode | None:
        """The child if present and not null: a key left empty takes its default."""
        child = self.get(name)
        return None if child is None or child.value is None else child

    def only(self, *allowed: str) -> ConfigNode:
        """Reject keys outside ``allowed``: a misspelt key should fail, not be ignored."""
        for name in self._as_dict():
            if name not in allowed:
                raise ConfigError(
                    self.path,
                    self._child(str(name)),
                    f"no such key (allowed: {', '.join(allowed)})",
                )
        return self

    def section(self, name: str) -> ConfigNode:
        """An optional mapping: absent or empty reads as ``{}``, so its keys take defaults."""
        child = self._given(name)
        return ConfigNode(self.path, self._child(name), {}) if child is None else child

    def entries(self) -> list[tuple[str, ConfigNode]]:
        """(key, value node) pairs of a mapping, each value keyed for errors."""
        return [
            (str(k), ConfigNode(self.path, self._child(str(k)), v))
            for k, v in self._as_dict().items()
        ]

    def items(self, *, non_empty: bool = True) -> list[ConfigNode]:
        if not isinstance(self.value, list):
            raise self.fail(f"a list, got {_describe(self.value)}")
        if non_empty and not self.value:
            raise self.fail("a non-empty list")
        return [ConfigNode(self.path, f"{self.key}[{i}]", v) for i, v in enumerate(self.value)]

    def text(self, pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            # YAML reads 01 as 1 and 1.0 as a float: the fix is almost always to quote.
            number = isinstance(self.value, int | float) and not isinstance(self.value, bool)
            extra = " (quote it in the YAML)" if number else ""
            raise self.fail(f"{hint or 'a non-empty string'}{extra}, got {_describe(self.value)}")
        if pattern is not None and not pattern.match(self.value):
            raise self.fail(f"{hint or 'a string matching ' + pattern.pattern}, got {self.value!r}")
        return self.value

    def integer(self, minimum: int | None = None) -> int:
        # bool is an int subclass in Python; `true` is never a valid count.
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            raise self.fail(f"an integer, got {_describe(self.value)}")
        if minimum is not None and self.value < minimum:
            raise self.fail(f"an integer >= {minimum}, got {self.value}")
        return self.value

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.fail(f"true or false, got {_describe(self.value)}")
        return self.value

    def text_or(self, name: str, default: str) -> str:
        child = self.get(name)
        return default if child is None else child.text()

    def int_or(self, name: str, default: int, *, lo: int, hi: int) -> int:
        """An optional integer in ``[lo, hi]``; absent or null is ``default``."""
        child = self._given(name)
        if child is None:
            return default
        value = child.value
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise child.fail(f"an integer in [{lo}, {hi}], got {_describe(value)}")
        return value

    def seconds_or(self, name: str, default: float, *, lo: float, hi: float) -> float:
        """An optional number of seconds in ``[lo, hi]``; absent or null is ``default``."""
        child = self._given(name)
        if child is None:
            return default
        value = child.value
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise child.fail(f"a number of seconds in [{lo}, {hi}], got {_describe(value)}")
        return float(value)

    def path_or(self, name: str, default: str) -> Path:
        """A file or folder named relative to this file's folder (absolute paths stay)."""
        child = self._given(name)
        value = default if child is None else child.text()
        return (Path(self.path).parent / value).resolve()


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"[:80]


def load_yaml(path: str | Path) -> ConfigNode:
    """Parse one YAML file into a ``ConfigNode``; unreadable or malformed files are ConfigErrors."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(p, "<file>", "an existing file (not found)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(p, "<file>", f"a readable UTF-8 file ({exc.__class__.__name__})") from exc
    try:
        value = yaml.load(text, Loader=_YAML_LOADER)  # the C or pure SafeLoader
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(p, "<file>", f"valid YAML{at}") from exc
    return ConfigNode(str(p), "", value)
