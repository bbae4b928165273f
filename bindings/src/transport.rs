//! A [`Transport`] over a host callback: C function pointers, a Python callable, a JS
//! function. The callback answers synchronously; hosts with an async HTTP client use the
//! core's transport instead.

use dtmx::transport::{BoxFuture, HttpRequest, HttpResponse, MaybeSendSync, Transport};
use dtmx::Result;

/// Sends each request by calling `F` (which must not panic: hosts catch their own
/// exceptions and return them as errors of kind `transport`).
pub struct CallbackTransport<F> {
    send: F,
}

impl<F> CallbackTransport<F>
where
    F: Fn(HttpRequest) -> Result<HttpResponse> + MaybeSendSync,
{
    /// A transport calling `send` for every request.
    pub fn new(send: F) -> CallbackTransport<F> {
        CallbackTransport { send }
    }
}

impl<F> Transport for CallbackTransport<F>
where
    F: Fn(HttpRequest) -> Result<HttpResponse> + MaybeSendSync,
{
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>> {
        let reply = (self.send)(request);
        Box::pin(async move { reply })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Client, Options};
    use std::sync::{Arc, Mutex};

    #[test]
    fn calls_the_host() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let t = CallbackTransport::new(move |r: HttpRequest| {
            log.lock()
                .map_err(|_| crate::error::invalid("poisoned"))?
                .push(r.url);
            Ok(HttpResponse {
                status: 200,
                body: b"{}".to_vec(),
            })
        });
        let c = Client::with_transport("http://dtm/api", Arc::new(t)).expect("client");
        let mut saga = c.saga(Some("g"), &Options::default()).expect("saga");
        saga.add("http://a", "http://b", "{}");
        crate::runtime::block_on(async move { saga.submit().await }).expect("submit");
        assert_eq!(
            *seen.lock().expect("log"),
            vec!["http://dtm/api/submit".to_string()]
        );
    }
}
