//! `XaLocal`: the RM side of XA, one branch call of an XA global transaction (phase 1
//! `action`, phase 2 `commit` / `rollback`) driven step by step by the host (the core's
//! `XaLocal`). A step is `{kind: "execute" | "query", sql, params}`, `{kind: "business"}`,
//! `{kind: "send", method, url, headers, body}` or `{kind: "done"}`.

use crate::barrier::BarrierTable;
use crate::convert::{bad, branch_from_js, js, object, payload, strings, thrown_error, JsResult};
use dtmx_bindings::dtmx::rm::{self, XaPhase, XaStep};
use dtmx_bindings::{Error, ErrorKind};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** What an XA branch call wants done next: run `sql` with `params` on the XA connection and
 * feed the rows affected (`execute`) or the first column read (`query`), or the database's
 * error message (`feedSqlError`); run the business SQL (`business`) and feed its result;
 * send the request (`send`: `body` is the JSON text) to dtm and feed the reply; or
 * `done`: `finish()` throws the error to answer dtm with, if any. */
export interface XaLocalStep {
  kind: 'execute' | 'query' | 'business' | 'send' | 'done';
  sql?: string;
  params?: string[];
  method?: string;
  url?: string;
  headers?: Array<[string, string]>;
  body?: string | null;
}
"#;

/// One XA branch call on the host's dedicated XA connection.
#[wasm_bindgen]
pub struct XaLocal {
    inner: Option<rm::XaLocal>,
}

impl XaLocal {
    fn live(&mut self) -> JsResult<&mut rm::XaLocal> {
        self.inner
            .as_mut()
            .ok_or_else(|| bad("the XA call is finished"))
    }
}

#[wasm_bindgen]
impl XaLocal {
    /// The call of `branch` (`{gid, transType, branchId, op, dtm, phase2Url}`, as
    /// `parseBranch` reads dtm's request) keeping its barrier rows in `table` (MySQL or
    /// PostgreSQL).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Branch")] branch: JsValue,
        table: &BarrierTable,
    ) -> JsResult<XaLocal> {
        let branch = branch_from_js(&branch)?;
        Ok(XaLocal {
            inner: Some(js(rm::XaLocal::new(&branch, table.core()))?),
        })
    }

    /// `action`, `commit` or `rollback`.
    #[wasm_bindgen(getter)]
    pub fn phase(&self) -> String {
        match self.inner.as_ref().map(rm::XaLocal::phase) {
            Some(XaPhase::Commit) => "commit",
            Some(XaPhase::Rollback) => "rollback",
            _ => "action",
        }
        .to_string()
    }

    /// The XA transaction id, `<gid>-<branch_id>`.
    #[wasm_bindgen(getter)]
    pub fn xid(&self) -> String {
        self.inner
            .as_ref()
            .map_or_else(String::new, |x| x.xid().to_string())
    }

    /// What to do now.
    #[wasm_bindgen(unchecked_return_type = "XaLocalStep")]
    pub fn step(&self) -> JsValue {
        let statement = |kind: &str, s: &dtmx_bindings::barrier::Statement| {
            object(&[
                ("kind", kind.into()),
                ("sql", s.sql.as_str().into()),
                ("params", strings(&s.params).into()),
            ])
        };
        match self.inner.as_ref().map(rm::XaLocal::step) {
            Some(XaStep::Execute(s)) => statement("execute", s),
            Some(XaStep::QueryReason(s)) => statement("query", s),
            Some(XaStep::RunBusiness) => object(&[("kind", "business".into())]),
            Some(XaStep::Send(r)) => {
                let headers: js_sys::Array = r
                    .headers
                    .iter()
                    .map(|(k, v)| JsValue::from(strings(&[k.clone(), v.clone()])))
                    .collect();
                let body = r.body.as_deref().map_or(JsValue::NULL, |b| {
                    JsValue::from(String::from_utf8_lossy(b).into_owned())
                });
                object(&[
                    ("kind", "send".into()),
                    ("method", r.method.as_str().into()),
                    ("url", r.url.as_str().into()),
                    ("headers", headers.into()),
                    ("body", body),
                ])
            }
            Some(XaStep::Done) | None => object(&[("kind", "done".into())]),
        }
    }

    /// Rows affected by the `execute` step.
    #[wasm_bindgen(js_name = feedAffected)]
    pub fn feed_affected(&mut self, rows: u32) -> JsResult<()> {
        js(self.live()?.feed_affected(u64::from(rows)).map(|_| ()))
    }

    /// The first column read by the `query` step (`null`: no row).
    #[wasm_bindgen(js_name = feedReason)]
    pub fn feed_reason(&mut self, reason: Option<String>) -> JsResult<()> {
        js(self.live()?.feed_reason(reason.as_deref()).map(|_| ()))
    }

    /// The database's error message for the `execute` or `query` step.
    #[wasm_bindgen(js_name = feedSqlError)]
    pub fn feed_sql_error(&mut self, message: &str) -> JsResult<()> {
        js(self.live()?.feed_sql_error(message).map(|_| ()))
    }

    /// The business SQL's result: `undefined` / `null` for success, else what it threw.
    #[wasm_bindgen(js_name = feedBusiness)]
    pub fn feed_business(&mut self, error: JsValue) -> JsResult<()> {
        let result = if error.is_undefined() || error.is_null() {
            Ok(())
        } else {
            Err(thrown_error(&error))
        };
        js(self.live()?.feed_business(result).map(|_| ()))
    }

    /// dtm's reply to the `send` step: its status and body (text or bytes).
    #[wasm_bindgen(js_name = feedReply)]
    pub fn feed_reply(
        &mut self,
        status: u32,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] body: JsValue,
    ) -> JsResult<()> {
        let status = u16::try_from(status).unwrap_or(u16::MAX);
        let body = payload(&body)?;
        js(self.live()?.feed_reply(status, &body).map(|_| ()))
    }

    /// The failure to send the `send` step's request.
    #[wasm_bindgen(js_name = feedSendError)]
    pub fn feed_send_error(&mut self, message: &str) -> JsResult<()> {
        let e = Error::new(ErrorKind::Transport, message);
        js(self.live()?.feed_send_error(e).map(|_| ()))
    }

    /// Ends the call once `done`: throws the error to answer dtm with, if any.
    pub fn finish(&mut self) -> JsResult<()> {
        let x = self
            .inner
            .take()
            .ok_or_else(|| bad("the XA call is finished"))?;
        js(x.finish())
    }
}
