#!/usr/bin/env bash
# Build lerobot environments outside the project and run tests/lerobot_compat/ops.py in each:
# lerobot 0.6.x on Python >= 3.12 and lerobot 0.4.x on Python 3.11, each with this project installed
# beside it (so each is also a shared-environment install check). Environments and work folders go to
# LEROBOT_CACHE (default ~/.cache/blueprint-lerobot) and are reused by the next run.
#   LEROBOT_06 / LEROBOT_04   versions to install (default 0.6.1 / 0.4.4; empty skips that one)
#   PYTHON312 / PYTHON311     interpreters (default python3.12 / python3.11 on PATH)
# A version whose interpreter is missing is reported as skipped. Exit 1 when any operation failed.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
project="$(cd "$here/../.." && pwd)"
cache="${LEROBOT_CACHE:-$HOME/.cache/blueprint-lerobot}"
mkdir -p "$cache"
status=0
run_one() {  # name version python extras
  local name=$1 ver=$2 py=$3 extras=$4
  [ -n "$ver" ] || return 0
  # runs, not only found: a pyenv shim of a version not selected is on PATH but fails
  if ! "$py" -c "import sys" >/dev/null 2>&1; then
    echo "SKIP lerobot $ver: no working $py (set PYTHON312 / PYTHON311 to an interpreter)"; return 0
  fi
  local venv="$cache/lerobot-$ver"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import lerobot, blueprint_pipeline" 2>/dev/null; then
    "$py" -m venv "$venv" || { status=1; return; }
    "$venv/bin/pip" install -q --upgrade pip
    # one resolve for both, so the project's bounds and lerobot's pins must agree
    local spec="lerobot==$ver"; [ -z "$extras" ] || spec="lerobot[$extras]==$ver"
    "$venv/bin/pip" install -q "$spec" pyserial -e "$project" || { echo "FAIL install lerobot $ver"; status=1; return; }
  fi
  "$venv/bin/python" "$here/ops.py" "$cache/work-$ver" || status=1
}
run_one 0.6 "${LEROBOT_06-0.6.1}" "${PYTHON312:-python3.12}" training
run_one 0.4 "${LEROBOT_04-0.4.4}" "${PYTHON311:-python3.11}" ""
exit $status
