#!/usr/bin/env bash
# System packages the test suite needs (headless Chromium for the operator web page).
# Installed through apt-get when missing; a machine without root or apt keeps going, and the
# tests that need them say why they cannot run.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# A CJK font, so screenshots of the operator page show Chinese rather than boxes.
fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk" || need+=(fonts-wqy-microhei)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null \
    || echo "warning: could not install ${need[*]}" >&2
else
  echo "warning: missing ${need[*]} and cannot apt-get install them" >&2
fi
exit 0
