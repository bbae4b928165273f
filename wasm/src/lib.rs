//! dtmx-wasm: the WebAssembly module of the `dtmx-wasm` npm package, for browsers, Deno,
//! Cloudflare Workers and Node.js (DESIGN.md §4). It translates JS values to the calls of
//! `dtmx-bindings` and back; the package's `index.js` adds the typed error classes, the
//! chaining builders and the barrier driver on top.
//!
//! Every call to dtm goes through the core's reqwest transport, which is the global
//! `fetch` on wasm32. There are no threads and no runtime: each call that talks to a
//! server returns a Promise driven by the host's event loop.

mod barrier;
mod body;
mod branch;
mod client;
mod convert;
mod trans;
mod xa_local;

use convert::object;
use dtmx_bindings::error::table;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** The identity of a branch call. */
export interface Branch {
  gid: string;
  transType: string;
  branchId: string;
  op: string;
  /** The DTM server URL (TCC and XA calls). */
  dtm: string;
  /** XA phase-2 URL. */
  phase2Url: string;
}
/** An HTTP reply for dtm: status and JSON body text. */
export interface Reply {
  status: number;
  body: string;
}
/** How dtm reads a reply. */
export interface OutcomeParts {
  outcome: 'success' | 'failure' | 'ongoing' | 'unknown';
  message: string;
}
/** What a barrier machine wants done next: run `sql` with `params` and feed the rows
 * affected (`execute`) or the reason read (`query`), or its result (`done`). */
export interface BarrierStep {
  kind: 'execute' | 'query' | 'done';
  sql?: string;
  params?: string[];
  result?: string;
}
/** What a barrier Guard wants done next: `begin`, `execute` (run `sql` with `params`, feed
 * the rows affected), `query` (feed the first column of the first row, or null),
 * `business` (call the business code), `commit`, `rollback` (then `ok()`); or the end:
 * `return` (the business code's value if it ran; `decision` is the barrier's, null for a
 * check-back) or `raise` (throw `error()`). */
export interface GuardAction {
  kind: 'begin' | 'execute' | 'query' | 'business' | 'commit' | 'rollback' | 'return' | 'raise';
  sql?: string;
  params?: string[];
  decision?: string | null;
}
"#;

/// The bindings' error table, in code order: `[{code, kind, className}]`.
#[wasm_bindgen(js_name = errorTable, unchecked_return_type = "Array<{code: number, kind: string, className: string}>")]
pub fn error_table() -> js_sys::Array {
    table()
        .into_iter()
        .map(|r| {
            object(&[
                ("code", r.code.into()),
                ("kind", r.name.into()),
                ("className", r.class.into()),
            ])
        })
        .collect()
}
