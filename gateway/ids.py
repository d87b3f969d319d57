"""The federation's id formats (interfaces, apps) and who owns an id: shared by exchange,
sharing and telemetry, so none of them reaches into another for a regex."""

from __future__ import annotations

import re

#: node / department / name / version, e.g. ``sh/gaj/hukou-verify/v1``.
INTERFACE_ID_RE = re.compile(
    r"^(?P<node>[a-z]{2})/(?P<dept>[a-z0-9-]{1,32})/"
    r"(?P<name>[a-z0-9-]{1,64})/(?P<version>v\d{1,3})$"
)
#: node / department / app, e.g. ``js/rsj/pension-transfer``.
APP_ID_RE = re.compile(r"^(?P<node>[a-z]{2})/(?P<dept>[a-z0-9-]{1,32})/(?P<name>[a-z0-9-]{1,64})$")


def owner_of(interface_id: str) -> str | None:
    """The province that owns an interface, or None when ``interface_id`` is not one."""
    m = INTERFACE_ID_RE.match(interface_id)
    return m["node"] if m else None


def province_of_app(app_id: str) -> str | None:
    """The home province of an app, or None when ``app_id`` is not one."""
    m = APP_ID_RE.match(app_id)
    return m["node"] if m else None
