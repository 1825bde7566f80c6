#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian machine, then runs the whole test suite.
#   system: PostgreSQL (service tests), Chromium (review UI tests), opencv-doc (sample video, fetched by
#   `autofine samples fetch`); python: a venv with the project and its dev + train extras.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
say() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  say "system packages: postgresql chromium fonts"
  apt_opts=(-o DPkg::Lock::Timeout=600 -qq)
  apt-get "${apt_opts[@]}" update
  DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y --no-install-recommends \
    postgresql chromium fonts-dejavu-core >/dev/null
else
  echo "not root: skipping apt-get; PostgreSQL and Chromium must already be installed"
fi

say "python environment (.venv, extras dev + train + cluster)"
[ -x .venv/bin/python ] || python3 -m venv .venv
pip_log=$(mktemp)
if ! { .venv/bin/python -m pip install -q --upgrade pip && \
       .venv/bin/python -m pip install -q -e '.[dev,train,cluster]'; } >"$pip_log" 2>&1; then
  tail -n 60 "$pip_log"; echo "pip install failed (full log: $pip_log)"; exit 1
fi

say "PostgreSQL"
AUTOFINE_TEST_PG_URL=$(bash scripts/start-postgres.sh | tail -n 1)
export AUTOFINE_TEST_PG_URL

say "sample video"
.venv/bin/autofine samples fetch vtest.avi

say "tests"
export YOLO_OFFLINE=1
status=0
.venv/bin/python -m pytest "$@" || status=$?
say "done: pytest exit $status, total $(( $(date +%s) - started )) s"
exit $status
