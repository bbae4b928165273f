// Payloads: strings and Buffers go as they are, anything else as JSON.
'use strict';

/** The payload as a string or a Buffer. */
function payload(p) {
  if (p === undefined || p === null) return '';
  if (typeof p === 'string' || Buffer.isBuffer(p)) return p;
  if (p instanceof Uint8Array) return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  return JSON.stringify(p);
}

module.exports = { payload };
