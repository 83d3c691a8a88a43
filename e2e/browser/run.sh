#!/usr/bin/env bash
# Runs the real-Chromium tests of hoist's browser uploader. Installs what is missing first:
# Debian's Chromium and the locked npm packages. HOIST_BIN defaults to target/debug/hoist.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if [ ! -x /usr/bin/chromium ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y chromium || { $sudo apt-get update -qq && $sudo apt-get install -y chromium; }
fi
# Install when node_modules is missing or older than the lock (packages were added since).
if [ ! -f "$here/node_modules/.package-lock.json" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi
export HOIST_BIN="${HOIST_BIN:-$repo/target/debug/hoist}"
if [ ! -x "$HOIST_BIN" ]; then
  echo "hoist binary not found at $HOIST_BIN (build it: cargo build -p hoist)" >&2
  exit 1
fi
mkdir -p "$repo/e2e/artifacts/browser"
cd "$here"
# One file at a time: each starts its own server and browser, and the machine has 2 cores.
if [ "$#" -gt 0 ]; then files=("$@"); else files=(tests/*.test.mjs); fi
exec node --test --test-concurrency=1 --test-timeout=900000 "${files[@]}"
