"""The names most tests call with, one definition each: the app js's pension office runs, sh's
interfaces it calls, the purpose it states, a grant's validity a year ahead; and the sharing store
tests' second app, interface, fields and fixed moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

APP = "js/rsj/pension-transfer"
RESIDENT = "sh/gaj/resident-basic/v1"
VERIFY = "sh/gaj/hukou-verify/v1"
ROSTER = "sh/rsj/insured-roster/v1"
PURPOSE = "养老保险关系转移接续"
UNTIL = (datetime.now(UTC) + timedelta(days=365)).isoformat(timespec="seconds")

# The sharing store's own tests: a second app, an interface, its fields and a fixed moment.
T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
OTHER = "js/ybj/medical-transfer"
IFACE = "sh/rsj/insured-person/v1"
FIELDS = ("name", "id_number", "mobile", "district")
