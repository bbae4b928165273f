// The api manifest (tests/vectors/api.json): the package has every name of it under its
// own spelling (camelCase members and functions), and exports nothing else but the names
// of its `extras.node` line. Checked: the module's exports, the statics and prototype
// members (methods, getters) of every manifest class, and the error classes with their
// attributes. Instance data fields (a Branch's gid, ...; the `native` handle) are not.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const dtmx = require('..');

const PKG = 'node';
const MANIFEST = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'tests', 'vectors', 'api.json'), 'utf8'));

const camel = (snake) => snake.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const pascal = (snake) => camel(snake).replace(/^./, (c) => c.toUpperCase());
const spelled = (entry) => entry[PKG] || camel(entry.name);
const absent = (entry) => Boolean(entry.absent && entry.absent[PKG]);
const glob = (pattern) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

/** Every problem of `mod` (the package's exports) against `manifest`, as sentences. */
function problems(mod, manifest) {
  const out = [];
  const extras = (manifest.extras[PKG] || []).map((e) => glob(e.name));
  const extra = (name) => extras.some((re) => re.test(name));
  const known = new Set();

  for (const cls of manifest.classes) {
    if (absent(cls)) continue;
    known.add(cls.name);
    const C = mod[cls.name];
    if (typeof C !== 'function') {
      out.push(`missing class ${cls.name}`);
      continue;
    }
    const members = new Set();
    for (const m of cls.members) {
      if (absent(m)) continue;
      const name = spelled(m);
      members.add(`${m.static ? 'static ' : ''}${name}`);
      const has = m.static ? name in C : name in C.prototype;
      if (!has) out.push(`missing ${m.static ? 'static ' : ''}member ${cls.name}.${name} (manifest ${m.name})`);
    }
    for (const name of Object.getOwnPropertyNames(C.prototype)) {
      if (name !== 'constructor' && !members.has(name) && !extra(`${cls.name}.${name}`)) {
        out.push(`${cls.name}.${name} is public but neither in the manifest nor in extras.${PKG}`);
      }
    }
    for (const name of Object.getOwnPropertyNames(C)) {
      if (!['length', 'name', 'prototype'].includes(name) && !members.has(`static ${name}`) && !extra(`${cls.name}.${name}`)) {
        out.push(`static ${cls.name}.${name} is public but neither in the manifest nor in extras.${PKG}`);
      }
    }
  }

  for (const f of manifest.functions) {
    if (absent(f)) continue;
    const name = spelled(f);
    known.add(name);
    if (typeof mod[name] !== 'function') out.push(`missing function ${name} (manifest ${f.name})`);
  }

  const base = mod[manifest.errors.base];
  known.add(manifest.errors.base);
  if (typeof base !== 'function') out.push(`missing error class ${manifest.errors.base}`);
  for (const kind of manifest.errors.kinds) {
    const name = `${pascal(kind)}Error`;
    known.add(name);
    const E = mod[name];
    if (typeof E !== 'function' || !(E.prototype instanceof base)) {
      out.push(`missing error class ${name} (a subclass of ${manifest.errors.base})`);
      continue;
    }
    const e = new E('m');
    for (const attr of manifest.errors.attributes) {
      if (!(camel(attr) in e)) out.push(`error ${name} has no attribute ${camel(attr)}`);
    }
    if (e.kind !== kind) out.push(`${name}: kind is ${JSON.stringify(e.kind)}, not ${JSON.stringify(kind)}`);
    if (typeof e.code !== 'number' || e.code < 1) out.push(`${name}: code is ${JSON.stringify(e.code)}, not a number`);
  }

  for (const [name, value] of Object.entries(mod)) {
    if (known.has(name) || extra(name)) continue;
    if (value !== null && typeof value === 'object') {
      // a namespace object (express, fastify): each of its members must be an extra
      const members = Object.keys(value);
      const unlisted = members.filter((m) => !extra(`${name}.${m}`));
      if (members.length > 0 && unlisted.length === 0) continue;
      out.push(`${name} (${unlisted.map((m) => `${name}.${m}`).join(', ')}) is exported but neither in the manifest nor in extras.${PKG}`);
      continue;
    }
    out.push(`${name} is exported but neither in the manifest nor in extras.${PKG}`);
  }
  return out;
}

test('api manifest: the package has every name of tests/vectors/api.json and nothing else', () => {
  const found = problems(dtmx, MANIFEST);
  assert.deepEqual(found, [], `the package and tests/vectors/api.json differ:\n  ${found.join('\n  ')}`);
});

test('api manifest: the ES module entry exports the same names', async () => {
  const esm = await import('../index.mjs');
  const names = Object.keys(esm).filter((n) => n !== 'default').sort();
  assert.deepEqual(names, Object.keys(dtmx).sort());
});

test('api manifest: the check fails on a renamed member, naming it', () => {
  class Branch {
    static fromQueryString() {}
    static fromQueryPairs() {}
    static fromGrpcMetadata() {}
    toQuery() {}
  }
  const { xaLocal, ...rest } = dtmx;
  void xaLocal;
  const found = problems({ ...rest, Branch, parseBranch() {} }, MANIFEST);
  assert.deepEqual(found.sort(), [
    'missing function xaLocal (manifest xa_local)',
    'missing static member Branch.fromQuery (manifest from_query)',
    'parseBranch is exported but neither in the manifest nor in extras.node',
    'static Branch.fromQueryString is public but neither in the manifest nor in extras.node',
  ]);
});
