// index.d.ts is checked by TypeScript: `tsc --noEmit` over a file using the API.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

test('tsc --noEmit passes on code using the declared API', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const project = path.join(__dirname, 'types', 'tsconfig.json');
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', project], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const declarations = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--types', 'node', path.join(__dirname, '..', 'index.d.ts')], {
    encoding: 'utf8',
  });
  assert.equal(declarations.status, 0, declarations.stdout + declarations.stderr);
});
