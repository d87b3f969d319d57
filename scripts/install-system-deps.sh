#!/usr/bin/env bash
# System packages the test suite needs: headless Chromium for the operator web page,
# Debian's PostgreSQL server for the postgresql storage backend (issue 14), Debian's
# Prometheus server, which scrapes the four nodes in tests/ops/test_prometheus.py (issue 17), and
# stress-ng, the CPU hog `make test-loaded` runs the timing-sensitive tests under (issue 13).
# Installed through apt-get when missing; a machine without root or apt keeps going, and the
# tests that need them say why they cannot run (the PostgreSQL tests fail, naming what is missing).
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# A CJK font, so screenshots of the operator page show Chinese rather than boxes.
fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk" || need+=(fonts-wqy-microhei)
# The server binaries (initdb, pg_ctl, postgres) live under /usr/lib/postgresql/<major>/bin.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v stress-ng >/dev/null 2>&1 || need+=(stress-ng)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null \
      || echo "warning: could not install ${need[*]}" >&2
  else
    echo "warning: missing ${need[*]} and cannot apt-get install them" >&2
  fi
fi
# PostgreSQL refuses to run as root, and CI runs as root: throwaway clusters (the tests',
# `yrdgw up --store postgresql`) run as this unprivileged system user (gateway/pgcluster.py).
if [ "$(id -u)" = 0 ] && ! getent passwd yrdpg >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin yrdpg \
    || echo "warning: could not create the system user yrdpg" >&2
fi
exit 0
