// The api manifest (tests/vectors/api.json): the package has every name of it under its
// own spelling (camelCase members and functions), and exports nothing else but the names
// of its `extras.wasm` line. Checked: the module's exports, the statics and prototype
// members (methods, getters) of every manifest class, and the error classes with their
// attributes. Instance data fields (a Branch's gid, ...) are not; neither are the
// wasm-bindgen internals of module classes (`__wrap`, `__destroy_into_raw`, symbols).

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as dtmx from '../node.js';
import * as web from '../index.js';

const PKG = 'wasm';
const MANIFEST = JSON.parse(fs.readFileSync(new URL('../../tests/vectors/api.json', import.meta.url), 'utf8'));

const camel = (snake) => snake.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const pascal = (snake) => camel(snake).replace(/^./, (c) => c.toUpperCase());
const spelled = (entry) => entry[PKG] || camel(entry.name);
const absent = (entry) => Boolean(entry.absent && entry.absent[PKG]);
const glob = (pattern) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
const internal = (name) => name.startsWith('__');

/** Every problem of `mod` (the package's exports) against `manifest`, as sentences. */
function problems(mod, manifest) {
  const out = [];
  const extras = (manifest.extras[PKG] || []).map((e) => glob(e.name));
  const extra = (name) => extras.some((re) => re.test(name));
  const known = new Set();

  /** The public members of a class that are not `listed` and not extras. */
  function unlisted(name, C, listed) {
    for (const m of Object.getOwnPropertyNames(C.prototype)) {
      if (m !== 'constructor' && !internal(m) && !listed.has(m) && !extra(`${name}.${m}`)) {
        out.push(`${name}.${m} is public but neither in the manifest nor in extras.${PKG}`);
      }
    }
    for (const m of Object.getOwnPropertyNames(C)) {
      if (!['length', 'name', 'prototype'].includes(m) && !internal(m) && !listed.has(`static ${m}`) && !extra(`${name}.${m}`)) {
        out.push(`static ${name}.${m} is public but neither in the manifest nor in extras.${PKG}`);
      }
    }
  }

  for (const cls of manifest.classes) {
    if (absent(cls)) continue;
    known.add(cls.name);
    const C = mod[cls.name];
    if (typeof C !== 'function') {
      out.push(`missing class ${cls.name}`);
      continue;
    }
    const listed = new Set();
    for (const m of cls.members) {
      if (absent(m)) continue;
      const name = spelled(m);
      listed.add(`${m.static ? 'static ' : ''}${name}`);
      const has = m.static ? name in C : name in C.prototype;
      if (!has) out.push(`missing ${m.static ? 'static ' : ''}member ${cls.name}.${name} (manifest ${m.name})`);
    }
    unlisted(cls.name, C, listed);
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
    if (known.has(name)) continue;
    // a class of the package's own (extras `Guard.*`): listed as a whole
    if (typeof value === 'function' && /^[A-Z]/.test(name) && extra(`${name}.constructor`)) {
      unlisted(name, value, new Set());
      continue;
    }
    if (!extra(name)) out.push(`${name} is exported but neither in the manifest nor in extras.${PKG}`);
  }
  return out;
}

test('api manifest: the package has every name of tests/vectors/api.json and nothing else', () => {
  const found = problems(dtmx, MANIFEST);
  assert.deepEqual(found, [], `the package and tests/vectors/api.json differ:\n  ${found.join('\n  ')}`);
});

test('api manifest: the web entry (index.js) exports the same names as the Node.js entry', () => {
  assert.deepEqual(Object.keys(web).sort(), Object.keys(dtmx).sort());
});

test('api manifest: the check fails on a renamed member, naming it', () => {
  class Branch {
    static fromQueryString() {}
    static fromQueryPairs() {}
    static fromGrpcMetadata() {}
    toQuery() {}
  }
  const { version, ...rest } = dtmx;
  void version;
  const found = problems({ ...rest, Branch, parseBranch() {} }, MANIFEST);
  assert.deepEqual(found.sort(), [
    'missing function version (manifest version)',
    'missing static member Branch.fromQuery (manifest from_query)',
    'parseBranch is exported but neither in the manifest nor in extras.wasm',
    'static Branch.fromQueryString is public but neither in the manifest nor in extras.wasm',
  ]);
});
