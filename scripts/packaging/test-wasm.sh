# WebAssembly: the dtmx-wasm tarball installed from dist/ in a temporary npm project
# (no network, nothing compiled), then from Node.js through the package's `node` entry: a
# saga that succeeds and one that is compensated (node:http business service) against the
# packaged server.
# Sourced by scripts/test-packages (see the variables it sets there).
wproj="$work/wasm-project"
mkdir -p "$wproj"
echo '{ "name": "dtmx-wasm-package-test", "private": true, "type": "module" }' >"$wproj/package.json"
wasm_log="$work/npm-wasm.log"
(cd "$wproj" && PATH=$bare_path npm install --offline --no-audit --no-fund \
  "$dist/dtmx-wasm-$version.tgz") 2>&1 | tee "$wasm_log"
if grep -q EBADENGINE "$wasm_log"; then
  echo "test-packages: npm warns EBADENGINE installing dtmx-wasm" >&2
  exit 1
fi
for f in src Cargo.toml build.sh pkg/dtmx_wasm_bg.wasm index.d.ts pkg/dtmx_wasm.d.ts; do
  case $f in
    src | Cargo.toml | build.sh) [ ! -e "$wproj/node_modules/dtmx-wasm/$f" ] ;;
    *) [ -f "$wproj/node_modules/dtmx-wasm/$f" ] ;;
  esac || { echo "test-packages: dtmx-wasm's package has the wrong files ($f)" >&2; exit 1; }
done
cat >"$wproj/saga.mjs" <<'JS'
// Two sagas through the installed dtmx-wasm (its Node.js entry) to the server in argv[2]:
// one succeeds, one is compensated when its second step answers 409 FAILURE.
import http from 'node:http';
import { Client, FailureError, version } from 'dtmx-wasm';

const steps = [];
const busi = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const name = new URL(req.url, 'http://x').pathname.slice(1);
    steps.push(name);
    const refuse = JSON.parse(body || '{}').refuse === name;
    res.statusCode = refuse ? 409 : 200;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ dtm_result: refuse ? 'FAILURE' : 'SUCCESS' }));
  });
});
await new Promise((resolve) => busi.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${busi.address().port}`;
const dtm = new Client(process.argv[2]);

async function transfer(refuse) {
  const body = { amount: 30, refuse };
  const saga = dtm.saga({ gid: await dtm.newGid(), waitResult: true })
    .add(`${url}/TransOut`, `${url}/TransOutRevert`, body)
    .add(`${url}/TransIn`, `${url}/TransInRevert`, body);
  try {
    await saga.submit();
  } catch (e) {
    if (!(e instanceof FailureError)) throw e;
  }
  return dtm.waitFinal(saga.gid);
}

try {
  const first = await transfer('');
  const second = await transfer('TransIn');
  console.log(`dtmx-wasm ${version()}: first saga ${first}, second ${second}; steps ${steps.join(', ')}`);
  process.exitCode = first === 'succeed' && second === 'failed' && steps.includes('TransOutRevert') ? 0 : 1;
} finally {
  busi.close();
}
JS
(cd "$wproj" && PATH=$bare_path node saga.mjs "$dtm_url")
echo "wasm package (dtmx-wasm) installed without a toolchain: 1 passed, 0 failed"
