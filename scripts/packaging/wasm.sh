# WebAssembly: the dtmx-wasm npm package, packed with `npm pack` into dist/dtmx-wasm-<v>.tgz:
# the wasm-bindgen output of wasm/build.sh (pkg/: the .wasm, its JS glue and types), the
# JS layer (index.js, node.js, errors.js, barrier.js) and index.d.ts; nothing of src/ and
# no install script or dependency.
# Sourced by scripts/package (see the variables it sets there). wasm/build.sh always builds
# the release profile (size); with --profile dev the wasm/pkg that scripts/test-wasm built
# just before is reused, and built only when missing.
if [ "$profile" != dev ] || [ ! -f wasm/pkg/dtmx_wasm_bg.wasm ]; then
  CARGO_BUILD_JOBS="$jobs" wasm/build.sh
fi
rm -f "$out/dtmx-wasm-$version.tgz"
stage=$(mktemp -d)
# The published manifest: wasm/package.json without the checkout's scripts and
# devDependencies; its `files` are what is copied.
node - "$stage" "$version" <<'JS'
const fs = require('node:fs');
const path = require('node:path');
const [stage, version] = process.argv.slice(2);
const dev = JSON.parse(fs.readFileSync('wasm/package.json', 'utf8'));
const { scripts, devDependencies, allowScripts, ...published } = dev;
for (const f of dev.files) {
  fs.mkdirSync(path.dirname(path.join(stage, f)), { recursive: true });
  fs.copyFileSync(path.join('wasm', f), path.join(stage, f));
}
fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ ...published, version }, null, 2) + '\n');
JS
(cd "$stage" && npm pack --silent --pack-destination "$out" >/dev/null)
rm -rf "$stage"
