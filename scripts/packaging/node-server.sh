# The server as npm packages (napi-rs's layout, as for the dtmx package), into dist/:
#   dtmx-server-<v>.tgz                  the `dtmx` bin: a small launcher (server/npm/dtmx.js)
#                                        that runs this platform's binary, with
#                                        optionalDependencies on the five platform packages
#   dtmx-server-<platform>-gnu-<v>.tgz   bin/dtmx, stripped, with os, cpu and libc set
#                                        (scripts/packaging/platform: linux-x64-gnu here)
# `npm install dtmx-server` then `npx dtmx` starts the server; the other platforms are built
# by the release workflow (npm skips an optional dependency it cannot fetch).
# Sourced by scripts/package (see the variables it sets there). The dev binary is the one
# scripts/test builds (cargo build --workspace --bins): the same command, so no compile.
if [ "$profile" = dev ]; then
  cargo build -j"$jobs" --workspace --bins
else
  cargo build -j"$jobs" --profile "$profile" -p dtmx-server --bin dtmx
fi
rm -f "$out/dtmx-server-$version.tgz" "$out/dtmx-server-$platform-gnu-$version.tgz"
stage=$(mktemp -d)
mkdir -p "$stage/main" "$stage/plat/bin"
install -m 0755 server/npm/dtmx.js "$stage/main/dtmx.js"
install -m 0755 "$CARGO_TARGET_DIR/$target_profile/dtmx" "$stage/plat/bin/dtmx"
strip --strip-unneeded "$stage/plat/bin/dtmx"
node - "$stage" "$version" "$platform-gnu" <<'JS'
const fs = require('node:fs');
const [stage, version, p] = process.argv.slice(2);
const platforms = {
  'linux-x64-gnu': { os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
  'linux-arm64-gnu': { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'win32-x64-msvc': { os: ['win32'], cpu: ['x64'] },
};
const common = { version, license: 'Apache-2.0', engines: { node: '>=20' } };
const main = {
  name: 'dtmx-server',
  ...common,
  description: 'The dtmx server (a DTM-compatible transaction manager) for npm: `npx dtmx` starts it',
  bin: { dtmx: 'dtmx.js' },
  files: ['dtmx.js'],
  optionalDependencies: Object.fromEntries(Object.keys(platforms).map((p) => [`dtmx-server-${p}`, version])),
};
fs.writeFileSync(`${stage}/main/package.json`, JSON.stringify(main, null, 2) + '\n');
const plat = {
  name: `dtmx-server-${p}`,
  ...common,
  description: `The dtmx server binary for ${p} (run it with the dtmx-server package's \`dtmx\`)`,
  ...platforms[p],
  files: ['bin/'],
};
fs.writeFileSync(`${stage}/plat/package.json`, JSON.stringify(plat, null, 2) + '\n');
JS
(cd "$stage/main" && npm pack --silent --pack-destination "$out" >/dev/null)
(cd "$stage/plat" && npm pack --silent --pack-destination "$out" >/dev/null)
rm -rf "$stage"
