# Node.js: napi-rs's layout, packed with `npm pack` into dist/:
#   dtmx-<v>.tgz                    index.js, index.mjs, index.d.ts and lib/ (no src/, no Cargo
#                                   files, no install script, no dependencies), with
#                                   optionalDependencies on the five per-platform packages
#   dtmx-<platform>-gnu-<v>.tgz     this machine's (scripts/packaging/platform: linux-x64-gnu
#                                   here) stripped addon, dtmx.<platform>-gnu.node, with os, cpu
#                                   and libc set so that npm installs it on that platform only
# The other platform packages (of linux-x64-gnu, linux-arm64-gnu, darwin-x64, darwin-arm64,
# win32-x64-msvc) are built by the release workflow; npm skips an optional dependency it
# cannot fetch, so the main package names all five although only one is in dist/.
# Sourced by scripts/package (see the variables it sets there). The addon crate is its own
# workspace (node/Cargo.toml); the dev profile is what scripts/test's `npm run build:debug`
# already built.
cargo build -j"$jobs" --profile "$profile" --manifest-path node/Cargo.toml
rm -f "$out/dtmx-$version.tgz" "$out/dtmx-$platform-gnu-$version.tgz"
stage=$(mktemp -d)
mkdir -p "$stage/main" "$stage/plat"
cp -r node/index.js node/index.mjs node/index.d.ts node/lib "$stage/main/"
install -m 0755 "$CARGO_TARGET_DIR/$target_profile/libdtmx_node.so" \
  "$stage/plat/dtmx.$platform-gnu.node"
strip --strip-unneeded "$stage/plat/dtmx.$platform-gnu.node"
# The published manifests, from node/package.json (its scripts, devDependencies and the
# build-from-source files are the checkout's, not the package's).
node - "$stage" "$version" "$platform-gnu" <<'JS'
const fs = require('node:fs');
const [stage, version, p] = process.argv.slice(2);
const dev = JSON.parse(fs.readFileSync('node/package.json', 'utf8'));
const platforms = {
  'linux-x64-gnu': { os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
  'linux-arm64-gnu': { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'win32-x64-msvc': { os: ['win32'], cpu: ['x64'] },
};
const { scripts, devDependencies, files, ...rest } = dev;
const main = {
  ...rest,
  version,
  files: ['index.js', 'index.mjs', 'index.d.ts', 'lib/'],
  optionalDependencies: Object.fromEntries(Object.keys(platforms).map((p) => [`dtmx-${p}`, version])),
};
fs.writeFileSync(`${stage}/main/package.json`, JSON.stringify(main, null, 2) + '\n');
const plat = {
  name: `dtmx-${p}`,
  version,
  description: `The native addon of dtmx (Node.js) for ${p}`,
  license: dev.license,
  ...platforms[p],
  main: `dtmx.${p}.node`,
  files: [`dtmx.${p}.node`],
  engines: dev.engines,
};
fs.writeFileSync(`${stage}/plat/package.json`, JSON.stringify(plat, null, 2) + '\n');
JS
(cd "$stage/main" && npm pack --silent --pack-destination "$out" >/dev/null)
(cd "$stage/plat" && npm pack --silent --pack-destination "$out" >/dev/null)
rm -rf "$stage"
