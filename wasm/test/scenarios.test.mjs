// Replays every scenario of tests/vectors/scenarios through the package's public API
// (host name `wasm`, option names in camelCase) against the scripted server and judge
// judge.py (see the README there): one test per scenario.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { spawn } from 'node:child_process';
import * as dtmx from '../node.js';
import { VECTORS } from '../testkit/helpers.js';

const DIR = path.join(VECTORS, 'scenarios');
const FILES = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const SCENARIOS = FILES.flatMap((f) => JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')).scenarios);

let judge;
let judgeUrl;

test.before(async () => {
  judge = spawn('python3', [path.join(DIR, 'judge.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: judge.stdout });
  const [first] = await Promise.race([
    new Promise((resolve) => lines.once('line', (line) => resolve([line]))),
    new Promise((_, reject) => judge.once('exit', (code) => reject(new Error(`judge.py exited with ${code}`)))),
  ]);
  judgeUrl = JSON.parse(first).url;
});

test.after(async () => {
  const exited = new Promise((resolve) => judge.once('exit', resolve));
  judge.stdin.end();
  await exited;
});

async function post(route, body) {
  const r = await fetch(`${judgeUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, route);
  return r.json();
}

/** `value` with `{dtm}`, `{branch}` and `{closed}` replaced by the judge's URLs. */
function substitute(value, urls) {
  let text = JSON.stringify(value);
  for (const key of ['dtm', 'branch', 'closed']) text = text.replaceAll(`{${key}}`, urls[key]);
  return JSON.parse(text);
}

/** The scenario's snake_case options in camelCase, as JavaScript code writes them. */
function camelOptions(options) {
  return Object.fromEntries(
    Object.entries(options || {}).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c) => c.toUpperCase()), v]),
  );
}

/** A step's payload: `$unserializable` is a value JSON cannot encode (a BigInt). */
function payload(value) {
  return value && value.$unserializable ? { amount: 10n } : value;
}

/** Runs body steps on `trans` (a Tcc, an Xa, or null for msg local work). */
async function body(steps, trans) {
  for (const step of steps) {
    switch (step.op) {
      case 'call_branch':
        if (trans instanceof dtmx.Tcc) await trans.callBranch(payload(step.payload), step.try, step.confirm, step.cancel);
        else await trans.callBranch(payload(step.payload), step.url);
        break;
      case 'return':
        return step.value;
      case 'raise':
        if (step.kind === 'host') throw new Error(step.message);
        throw new dtmx.byKind[step.kind](step.message);
      default:
        throw new Error(`unknown body step ${step.op}`);
    }
  }
  return undefined;
}

/** Runs a scenario; resolves to its outcome value (rejects with its error). */
async function run(s, urls) {
  const client = new dtmx.Client(s.client?.server === 'closed' ? urls.closed : urls.dtm);
  const t = s.transaction;
  const options = { gid: t.gid, ...camelOptions(t.options) };
  let out;
  switch (t.type) {
    case 'saga': {
      const saga = client.saga(options);
      for (const step of s.steps) {
        if (step.op === 'add') saga.add(step.action, step.compensate, payload(step.payload));
        else out = await saga.submit();
      }
      break;
    }
    case 'msg': {
      const msg = client.msg(options);
      for (const step of s.steps) {
        if (step.op === 'add') msg.add(step.action, payload(step.payload));
        else if (step.op === 'submit') out = await msg.submit();
        else out = await msg.doAndSubmit(step.query_prepared, () => body(step.body, null));
      }
      break;
    }
    case 'tcc':
      out = await client.tcc(options).run((tcc) => body(s.steps[0].body, tcc));
      break;
    case 'xa':
      out = await client.xa(options).run((xa) => body(s.steps[0].body, xa));
      break;
    default:
      throw new Error(`unknown transaction type ${t.type}`);
  }
  return out;
}

/** The error as the judge reads it: a dtmx error's kind and class, or `host` and the
 * class of the host's own error. */
function errorJson(e) {
  const own = e instanceof dtmx.DtmxError;
  return {
    kind: own ? e.code : 'host',
    class: own ? e.name : e.constructor.name,
    message: e.message,
    notes: e.notes ?? [],
    status: own ? e.status : null,
  };
}

for (const scenario of SCENARIOS) {
  test(`scenario: ${scenario.name}`, async () => {
    const urls = await post('/__scenario', { name: scenario.name });
    const s = substitute(scenario, urls);
    let outcome;
    try {
      const value = await run(s, urls);
      outcome = { host: 'wasm', result: value === undefined ? null : value, error: null };
    } catch (e) {
      outcome = { host: 'wasm', result: null, error: errorJson(e) };
    }
    const verdict = await post('/__outcome', outcome);
    assert.ok(verdict.ok, `${verdict.problems.join('\n')}\noutcome: ${JSON.stringify(outcome)}`);
  });
}

test('scenarios: every file holds scenarios', () => {
  assert.ok(SCENARIOS.length >= 30, `only ${SCENARIOS.length} scenarios found`);
});
