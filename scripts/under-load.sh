#!/usr/bin/env bash
# Run a command under a CPU hog on every core: `scripts/under-load.sh SECONDS command...`.
# `make test-loaded` runs the timing-sensitive tests this way, so a test that only passes on an
# idle machine fails in CI (issue 13). The hog (Debian's stress-ng, one CPU stressor per core) is
# bounded by SECONDS in case this script is killed outright, and stopped by its process id as
# soon as the command ends, passes or fails. Exits with the command's status.
set -u
seconds=$1
shift
command -v stress-ng >/dev/null 2>&1 || {
  echo "stress-ng is missing: bash scripts/install-system-deps.sh installs it" >&2
  exit 1
}
cores=$(nproc)
stress-ng --cpu "$cores" --timeout "${seconds}s" --quiet &
hog=$!
stop_hog() {
  kill "$hog" 2>/dev/null
  wait "$hog" 2>/dev/null
}
trap stop_hog EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "under load: stress-ng --cpu $cores (pid $hog, at most ${seconds} s): $*"
"$@"
