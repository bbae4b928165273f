# The server as npm packages: dtmx-server and dtmx-server-<platform>-gnu installed from dist/
# in a temporary npm project (with the dtmx package), node_modules/.bin/dtmx started on a
# temporary embedded store and free ports, pinged, a saga submitted to it with the installed
# dtmx package, and stopped with SIGTERM (which the launcher passes on to the binary).
# Sourced by scripts/test-packages (see the variables it sets there).
sproj="$work/node-server-project"
mkdir -p "$sproj"
echo '{ "name": "dtmx-server-package-test", "private": true }' >"$sproj/package.json"
(cd "$sproj" && PATH=$bare_path npm install -s --offline --no-audit --no-fund \
  "$dist/dtmx-server-$version.tgz" "$dist/dtmx-server-$platform-gnu-$version.tgz" \
  "$dist/dtmx-$version.tgz" "$dist/dtmx-$platform-gnu-$version.tgz")
sport=$(free_port)
HTTP_HOST=127.0.0.1 HTTP_PORT=$sport GRPC_PORT=$(free_port) STORE_PATH="$work/dtmx-npm.db" \
  LOG_LEVEL=warn PATH=$bare_path "$sproj/node_modules/.bin/dtmx" &
npm_server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$sport/api/ping" >/dev/null && break; sleep 0.1; done
cat >"$sproj/saga.js" <<'JS'
// One saga with one branch (a node:http service answering SUCCESS) to the server in argv[2].
const http = require('node:http');
const dtmx = require('dtmx');

async function main() {
  const calls = [];
  const busi = http.createServer((req, res) => {
    calls.push(req.url);
    res.setHeader('content-type', 'application/json');
    res.end('{"dtm_result":"SUCCESS"}');
  });
  await new Promise((resolve) => busi.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${busi.address().port}`;
  try {
    const dtm = new dtmx.Client(process.argv[2]);
    const saga = dtm.saga({ gid: await dtm.newGid() }).add(`${url}/Out`, `${url}/OutRevert`, { amount: 30 });
    await saga.submit();
    const status = await dtm.waitFinal(saga.gid);
    console.log(`npm dtmx server: saga ${saga.gid} ${status}, calls ${calls.join(' ')}`);
    return status === 'succeed' && calls.length === 1 && calls[0].startsWith('/Out') ? 0 : 1;
  } finally {
    busi.close();
  }
}
main().then((code) => { process.exitCode = code; });
JS
saga_ok=0
if curl -sf "http://127.0.0.1:$sport/api/ping" >/dev/null; then
  (cd "$sproj" && PATH=$bare_path node saga.js "http://127.0.0.1:$sport/api/dtmsvr") || saga_ok=$?
else
  echo "test-packages: node_modules/.bin/dtmx (dtmx-server) did not answer /api/ping" >&2
  saga_ok=1
fi
kill -TERM "$npm_server"
stopped=0
for _ in $(seq 100); do kill -0 "$npm_server" 2>/dev/null || { stopped=1; break; }; sleep 0.1; done
if [ $stopped = 0 ]; then
  kill -KILL "$npm_server" 2>/dev/null || true
  echo "test-packages: node_modules/.bin/dtmx did not stop on SIGTERM" >&2
  exit 1
fi
wait "$npm_server" 2>/dev/null || true
[ $saga_ok = 0 ] || exit 1
if curl -sf "http://127.0.0.1:$sport/api/ping" >/dev/null 2>&1; then
  echo "test-packages: the server of node_modules/.bin/dtmx still answers after SIGTERM" >&2
  exit 1
fi
echo "node server packages (dtmx-server, npx dtmx) installed without a toolchain: 1 passed, 0 failed"
