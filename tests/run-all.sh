#!/usr/bin/env bash
# Install what the tests need on a fresh Debian machine, then run every check and test.
# This is the README's test command, and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# Real Redis 7.0 is the reference the tests compare against.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "== installing redis-server and redis-tools from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
  # Debian's package may start a system instance; the tests never use it (they pick free ports).
fi
redis-server --version

# The book (book/, mdBook) must build. mdbook is not in Debian's packages; a pinned
# `cargo install` is the reliable way (about 5 minutes on 2 cores), done only when it is missing.
MDBOOK_VERSION=0.5.4
MDBOOK="$(command -v mdbook || echo "${CARGO_HOME:-$HOME/.cargo}/bin/mdbook")"
if [ ! -x "$MDBOOK" ]; then
  echo "== installing mdbook $MDBOOK_VERSION (cargo install --locked)"
  cargo install mdbook --version "$MDBOOK_VERSION" --locked --no-default-features --features search
fi
"$MDBOOK" --version

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
echo "== cargo doc (no warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -q
# The book builds before the tests, so that cargo test's summary stays the last thing printed.
# mdbook exits 0 even when an include is missing (it only warns), so a warning fails too.
echo "== mdbook build book"
if ! mdbook_out="$("$MDBOOK" build book 2>&1)"; then
  echo "$mdbook_out"; exit 1
fi
echo "$mdbook_out"
if grep -qE '\b(WARN|ERROR)\b' <<<"$mdbook_out"; then
  echo "mdbook build printed warnings: failing"; exit 1
fi
echo "== cargo test"
cargo test --all-targets
