#!/usr/bin/env bash
# Builds the package: the crate in release for wasm32-unknown-unknown, then wasm-bindgen
# (--target web: an ES module that browsers, Deno and Workers load; node.js loads the same
# one synchronously) into pkg/. Needs the wasm32-unknown-unknown target and the
# wasm-bindgen-cli matching the crate's pinned wasm-bindgen (scripts/test-wasm installs
# both). Prints the gzipped size of the .wasm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac

CARGO_TARGET_DIR="$target" cargo build --manifest-path "$here/Cargo.toml" \
  --target wasm32-unknown-unknown --release -j"${CARGO_BUILD_JOBS:-2}"
rm -rf "$here/pkg"
wasm-bindgen --target web --remove-name-section --remove-producers-section \
  --out-dir "$here/pkg" --out-name dtmx_wasm \
  "$target/wasm32-unknown-unknown/release/dtmx_wasm.wasm"
size=$(gzip -9 -c "$here/pkg/dtmx_wasm_bg.wasm" | wc -c)
echo "dtmx-wasm: pkg/dtmx_wasm_bg.wasm $(wc -c < "$here/pkg/dtmx_wasm_bg.wasm") bytes, gzipped $size bytes ($((size / 1024)) KiB)"
