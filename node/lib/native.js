// The native addon (dtmx.node, built by `npm run build`).
'use strict';

const path = require('node:path');

let native;
try {
  native = require(path.join(__dirname, '..', 'dtmx.node'));
} catch (e) {
  throw new Error(`dtmx: the native addon is missing or broken (${e.message}); run \`npm run build\` in the dtmx package`);
}

module.exports = native;
