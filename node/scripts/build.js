#!/usr/bin/env node
// Builds the native addon from source with cargo and copies it to dtmx.node.
// `node scripts/build.js` builds release; `--debug` builds the dev profile.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const debug = process.argv.includes('--debug');
const args = ['build', '--manifest-path', path.join(root, 'Cargo.toml'), '-j', process.env.CARGO_BUILD_JOBS || '2'];
if (!debug) args.push('--release');

const run = spawnSync('cargo', args, { stdio: 'inherit', cwd: root });
if (run.error) {
  console.error(`dtmx: cannot run cargo (${run.error.message}); install Rust from https://rustup.rs`);
  process.exit(1);
}
if (run.status !== 0) process.exit(run.status || 1);

const target = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(root, 'target');
const names = { darwin: 'libdtmx_node.dylib', win32: 'dtmx_node.dll' };
const built = path.join(target, debug ? 'debug' : 'release', names[process.platform] || 'libdtmx_node.so');
fs.copyFileSync(built, path.join(root, 'dtmx.node'));
console.log(`dtmx: built ${path.relative(root, built)} -> dtmx.node`);
