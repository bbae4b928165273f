// The Node.js entry of dtmx-wasm (the `node` export condition): loads the module
// synchronously from the package's .wasm file, then exports the same API as index.js.

import { readFileSync } from 'node:fs';
import { initSync } from './index.js';

initSync(readFileSync(new URL('./pkg/dtmx_wasm_bg.wasm', import.meta.url)));

export * from './index.js';
