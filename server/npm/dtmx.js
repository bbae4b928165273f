#!/usr/bin/env node
// The `dtmx` command of the dtmx-server npm package: runs the dtmx server binary that npm
// installed with this package as an optional dependency for this platform
// (dtmx-server-linux-x64-gnu, dtmx-server-darwin-arm64, ...: each holds bin/dtmx), with
// this command's arguments, environment and standard streams; signals are passed on and
// its exit code is this command's.
'use strict';

const { spawn } = require('node:child_process');
const path = require('node:path');

const PLATFORMS = {
  'linux-x64': 'linux-x64-gnu',
  'linux-arm64': 'linux-arm64-gnu',
  'darwin-x64': 'darwin-x64',
  'darwin-arm64': 'darwin-arm64',
  'win32-x64': 'win32-x64-msvc',
};

function binary() {
  const key = `${process.platform}-${process.arch}`;
  const suffix = PLATFORMS[key];
  if (!suffix) {
    console.error(`dtmx-server: no prebuilt server for ${key}; packages exist for ${Object.values(PLATFORMS).join(', ')}`);
    process.exit(1);
  }
  const pkg = `dtmx-server-${suffix}`;
  try {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    return path.join(dir, 'bin', process.platform === 'win32' ? 'dtmx.exe' : 'dtmx');
  } catch {
    console.error(
      `dtmx-server: the server binary for ${key} is missing: the package ${pkg} is not installed. ` +
        'npm installs it with dtmx-server as an optional dependency; reinstall without ' +
        `--omit=optional (or --no-optional), or \`npm install ${pkg}\` at dtmx-server's version.`,
    );
    process.exit(1);
  }
}

const child = spawn(binary(), process.argv.slice(2), { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (e) => {
  console.error(`dtmx-server: cannot start the server (${e.message})`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 128 + (require('node:os').constants.signals[signal] || 0) : 1);
});
