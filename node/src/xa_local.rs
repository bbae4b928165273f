//! `XaLocal`: one XA branch call on the RM side, driven step by step by `lib/xa.js`.
//! A step is `{kind: "execute" | "query" | "business" | "send" | "done", ...}`.

use crate::barrier::BarrierTable;
use crate::errors::{js, thrown};
use crate::rm::Branch;
use crate::trans::{bytes, Payload};
use dtmx_bindings::dtmx::rm::{self, XaStep};
use dtmx_bindings::error::invalid;
use dtmx_bindings::{Error, ErrorKind};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

/// What the XA call wants done next.
#[napi(object)]
pub struct XaLocalStep {
    /// `execute`, `query`, `business`, `send` or `done`.
    pub kind: String,
    /// The statement (execute and query).
    pub sql: Option<String>,
    /// Its parameters (execute and query).
    pub params: Option<Vec<String>>,
    /// The request method (send).
    pub method: Option<String>,
    /// The request URL (send).
    pub url: Option<String>,
    /// The request headers as `[name, value]` arrays (send).
    pub headers: Option<Vec<Vec<String>>>,
    /// The request body (send).
    pub body: Option<Buffer>,
}

impl XaLocalStep {
    fn of(kind: &str) -> XaLocalStep {
        XaLocalStep {
            kind: kind.to_string(),
            sql: None,
            params: None,
            method: None,
            url: None,
            headers: None,
            body: None,
        }
    }
}

/// One XA branch call (phase 1 `action`, phase 2 `commit` / `rollback`).
#[napi]
pub struct XaLocal {
    inner: Option<rm::XaLocal>,
}

impl XaLocal {
    fn live(&mut self) -> napi::Result<&mut rm::XaLocal, String> {
        js(self
            .inner
            .as_mut()
            .ok_or_else(|| invalid("the XA call is finished")))
    }
}

#[napi]
impl XaLocal {
    /// The call of `branch` keeping its barrier rows in `table`.
    #[napi(constructor, catch_unwind)]
    pub fn new(branch: Branch, table: &BarrierTable) -> napi::Result<Self, String> {
        Ok(XaLocal {
            inner: Some(js(rm::XaLocal::new(&branch.to_facade(), &table.inner))?),
        })
    }

    /// What to do now.
    #[napi(catch_unwind)]
    pub fn step(&mut self) -> napi::Result<XaLocalStep, String> {
        Ok(match self.live()?.step() {
            XaStep::Execute(s) => XaLocalStep {
                sql: Some(s.sql.clone()),
                params: Some(s.params.clone()),
                ..XaLocalStep::of("execute")
            },
            XaStep::QueryReason(s) => XaLocalStep {
                sql: Some(s.sql.clone()),
                params: Some(s.params.clone()),
                ..XaLocalStep::of("query")
            },
            XaStep::RunBusiness => XaLocalStep::of("business"),
            XaStep::Send(r) => XaLocalStep {
                method: Some(r.method.as_str().to_string()),
                url: Some(r.url.clone()),
                headers: Some(
                    r.headers
                        .iter()
                        .map(|(k, v)| vec![k.clone(), v.clone()])
                        .collect(),
                ),
                body: r.body.clone().map(Buffer::from),
                ..XaLocalStep::of("send")
            },
            XaStep::Done => XaLocalStep::of("done"),
        })
    }

    /// Rows affected by the `execute` step.
    #[napi(catch_unwind)]
    pub fn feed_affected(&mut self, rows: u32) -> napi::Result<(), String> {
        js(self.live()?.feed_affected(u64::from(rows)).map(|_| ()))
    }

    /// The reason read by the `query` step (`null`: no row).
    #[napi(catch_unwind)]
    pub fn feed_reason(&mut self, reason: Option<String>) -> napi::Result<(), String> {
        js(self.live()?.feed_reason(reason.as_deref()).map(|_| ()))
    }

    /// The database's error message for the `execute` or `query` step.
    #[napi(catch_unwind)]
    pub fn feed_sql_error(&mut self, message: String) -> napi::Result<(), String> {
        js(self.live()?.feed_sql_error(&message).map(|_| ()))
    }

    /// The business work's result: `failed` false for success, else `kind` is the dtmx
    /// kind of its error (`null`: the host's own error, see [`thrown`]).
    #[napi(catch_unwind)]
    pub fn feed_business(
        &mut self,
        failed: bool,
        kind: Option<String>,
        message: Option<String>,
    ) -> napi::Result<(), String> {
        let result = if failed {
            Err(thrown(kind.as_deref(), message.unwrap_or_default()))
        } else {
            Ok(())
        };
        js(self.live()?.feed_business(result).map(|_| ()))
    }

    /// dtm's reply to the `send` step.
    #[napi(catch_unwind)]
    pub fn feed_reply(&mut self, status: u32, body: Payload) -> napi::Result<(), String> {
        let status = u16::try_from(status).unwrap_or(u16::MAX);
        js(self.live()?.feed_reply(status, &bytes(body)).map(|_| ()))
    }

    /// The failure to send the `send` step.
    #[napi(catch_unwind)]
    pub fn feed_send_error(&mut self, message: String) -> napi::Result<(), String> {
        let e = Error::new(ErrorKind::Transport, message);
        js(self.live()?.feed_send_error(e).map(|_| ()))
    }

    /// Ends the call: throws the error to reply with, if any.
    #[napi(catch_unwind)]
    pub fn finish(&mut self) -> napi::Result<(), String> {
        let x = js(self
            .inner
            .take()
            .ok_or_else(|| invalid("the XA call is finished")))?;
        js(x.finish())
    }
}
