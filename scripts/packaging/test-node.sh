# Node.js: the dtmx tarball and this platform's dtmx-<platform>-gnu tarball installed in a
# temporary npm project from dist/ alone (no network, no install script, nothing compiled),
# then the example's Express from the registry; examples/node/quick_start.js against the
# packaged server. Without the platform package, require('dtmx') must name it.
# Sourced by scripts/test-packages (see the variables it sets there).
proj="$work/node-project"
mkdir -p "$proj"
echo '{ "name": "dtmx-package-test", "private": true }' >"$proj/package.json"
npm_log="$work/npm-node.log"
(cd "$proj" && PATH=$bare_path npm install --offline --no-audit --no-fund \
  "$dist/dtmx-$version.tgz" "$dist/dtmx-$platform-gnu-$version.tgz" &&
  PATH=$bare_path npm install --no-audit --no-fund 'express@^4.21.2') 2>&1 | tee "$npm_log"
if grep -q EBADENGINE "$npm_log"; then
  echo "test-packages: npm warns EBADENGINE installing dtmx on Node.js $(node --version)" >&2
  exit 1
fi
for f in "$proj/node_modules/dtmx/src" "$proj/node_modules/dtmx/Cargo.toml" \
  "$proj/node_modules/dtmx/dtmx.node"; do
  [ ! -e "$f" ] || { echo "test-packages: the dtmx package has $f" >&2; exit 1; }
done
addon=$(cd "$proj" && PATH=$bare_path node -e \
  "require('dtmx'); console.log(Object.keys(require.cache).find((f) => f.endsWith('.node')))")
case $addon in
  "$proj/node_modules/dtmx-$platform-gnu/dtmx.$platform-gnu.node") ;;
  *) echo "test-packages: require('dtmx') loaded the addon ${addon:-(none)}" >&2; exit 1 ;;
esac
cp examples/node/quick_start.js examples/node/busi.js "$proj/"
(cd "$proj" && DTMX_SERVER="$dtm_url" BUSI_PORT=$(free_port) PATH=$bare_path node quick_start.js)
# Without the platform package (npm install --omit=optional): a clear error naming it.
bare_proj="$work/node-project-no-addon"
mkdir -p "$bare_proj"
echo '{ "name": "dtmx-package-test-no-addon", "private": true }' >"$bare_proj/package.json"
(cd "$bare_proj" && PATH=$bare_path npm install -s --offline --no-audit --no-fund --omit=optional \
  "$dist/dtmx-$version.tgz")
if message=$(cd "$bare_proj" && PATH=$bare_path node -e "require('dtmx')" 2>&1); then
  echo "test-packages: require('dtmx') worked without dtmx-$platform-gnu" >&2
  exit 1
fi
case $message in
  *"dtmx-$platform-gnu is not installed"*) ;;
  *) echo "test-packages: require('dtmx') without its addon said: $message" >&2; exit 1 ;;
esac
echo "node packages (dtmx, dtmx-$platform-gnu) installed without a toolchain: 1 passed, 0 failed"
