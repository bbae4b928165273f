// The native addon, found the way napi-rs packages find theirs: dtmx.node next to this
// package (a checkout, built by `npm run build`), else the per-platform package npm
// installed with dtmx as an optional dependency (dtmx-linux-x64-gnu, dtmx-darwin-arm64,
// ...: each holds one prebuilt dtmx.<platform>.node; docs/PACKAGING.md).
'use strict';

const fs = require('node:fs');
const path = require('node:path');

/** The platforms a package is published for: `${platform}-${arch}` to its suffix. */
const PLATFORMS = {
  'linux-x64': 'linux-x64-gnu',
  'linux-arm64': 'linux-arm64-gnu',
  'darwin-x64': 'darwin-x64',
  'darwin-arm64': 'darwin-arm64',
  'win32-x64': 'win32-x64-msvc',
};

/** True on a Linux whose C library is musl (Alpine): the -gnu builds do not load there. */
function isMusl() {
  if (process.platform !== 'linux') return false;
  try {
    return !process.report.getReport().header.glibcVersionRuntime;
  } catch {
    return false;
  }
}

function load() {
  const local = path.join(__dirname, '..', 'dtmx.node');
  if (fs.existsSync(local)) {
    try {
      return require(local);
    } catch (e) {
      throw new Error(`dtmx: the native addon ${local} is broken (${e.message}); run \`npm run build\` in the dtmx checkout`);
    }
  }
  const key = `${process.platform}-${process.arch}`;
  const suffix = PLATFORMS[key];
  if (!suffix || isMusl()) {
    const what = isMusl() ? `${key} (musl)` : key;
    throw new Error(
      `dtmx: no prebuilt native addon for ${what}; packages exist for ${Object.values(PLATFORMS).join(', ')}. ` +
        'Build it from a checkout instead (docs/node.md: `npm run build`).',
    );
  }
  const pkg = `dtmx-${suffix}`;
  try {
    return require(pkg);
  } catch (e) {
    if (e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(pkg)) {
      throw new Error(
        `dtmx: the native addon for ${key} is missing: the package ${pkg} is not installed. ` +
          `npm installs it with dtmx as an optional dependency; reinstall without --omit=optional ` +
          `(or --no-optional), or \`npm install ${pkg}\` at dtmx's version.`,
      );
    }
    throw new Error(`dtmx: the native addon of ${pkg} is broken (${e.message})`);
  }
}

module.exports = load();
