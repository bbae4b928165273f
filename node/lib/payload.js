// Payloads: strings and Buffers go as they are, anything else as JSON.
'use strict';

const native = require('./native');
const { makeError } = require('./errors');

/** The payload as a string or a Buffer; throws the core's InvalidArgumentError for a
 * value JSON.stringify cannot encode (a BigInt, a circular object, a function). */
function payload(p) {
  if (p === undefined || p === null) return '';
  if (typeof p === 'string' || Buffer.isBuffer(p)) return p;
  if (p instanceof Uint8Array) return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  let text;
  try {
    text = JSON.stringify(p);
  } catch (e) {
    throw makeError(native.invalidPayload(e instanceof Error ? e.message : String(e)));
  }
  if (text === undefined) throw makeError(native.invalidPayload(`JSON.stringify has no text for a ${typeof p}`));
  return text;
}

module.exports = { payload };
