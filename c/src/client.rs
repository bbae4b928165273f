//! `DtmxClient`: a DTM server and how to reach it (libdtmx's HTTP client, or a host
//! callback), plus the queries that are not transactions.

use crate::error::{DtmxCode, DtmxError};
use crate::ffi::{
    boxed, bytes, c_string, free_boxed, guard, guard_code, guard_plain, handle, handle_mut,
    opt_text, owned, text,
};
use dtmx_bindings::dtmx::transport::{HttpRequest, HttpResponse};
use dtmx_bindings::error::invalid;
use dtmx_bindings::options::Naming;
use dtmx_bindings::runtime::block_on;
use dtmx_bindings::transport::CallbackTransport;
use dtmx_bindings::{Client, Error, ErrorKind, Options, Result};
use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;
use std::time::Duration;

/// A DTM server to talk to. Thread-safe: one client may be used from many threads at once.
pub struct DtmxClient {
    pub(crate) inner: Client,
}

/// An HTTP request dtmx asks a host callback to send. Borrowed: valid during the callback.
pub struct DtmxHttpRequest {
    method: CString,
    url: CString,
    headers: Vec<(CString, CString)>,
    body: Option<Vec<u8>>,
    timeout_ms: u64,
}

/// Where a host callback puts the reply (`dtmx_response_set`) or why it could not send
/// the request (`dtmx_response_fail`). Borrowed: valid during the callback.
#[derive(Default)]
pub struct DtmxHttpResponse {
    status: u16,
    body: Vec<u8>,
    failure: Option<String>,
}

/// Sends `request` and fills `response`. Called on the thread that made the blocking
/// dtmx call; it must not call back into dtmx with the same handle.
pub type DtmxSendFn = Option<
    extern "C" fn(
        user: *mut c_void,
        request: *const DtmxHttpRequest,
        response: *mut DtmxHttpResponse,
    ),
>;

/// The host's callback and its context pointer.
struct HostSender {
    send: extern "C" fn(*mut c_void, *const DtmxHttpRequest, *mut DtmxHttpResponse),
    user: *mut c_void,
}

// The host promises (in the header) that `user` may be used from the threads that call
// dtmx with this client.
unsafe impl Send for HostSender {}
unsafe impl Sync for HostSender {}

impl From<&HttpRequest> for DtmxHttpRequest {
    fn from(request: &HttpRequest) -> DtmxHttpRequest {
        DtmxHttpRequest {
            method: c_string(request.method.as_str()),
            url: c_string(&request.url),
            headers: request
                .headers
                .iter()
                .map(|(k, v)| (c_string(k), c_string(v)))
                .collect(),
            body: request.body.clone(),
            timeout_ms: request
                .timeout
                .map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

impl HostSender {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let req = DtmxHttpRequest::from(&request);
        let mut resp = DtmxHttpResponse::default();
        (self.send)(self.user, &req, &mut resp);
        if let Some(why) = resp.failure {
            return Err(Error::new(ErrorKind::Transport, why));
        }
        if resp.status == 0 {
            return Err(Error::new(
                ErrorKind::Transport,
                "the send callback set no response",
            ));
        }
        Ok(HttpResponse {
            status: resp.status,
            body: resp.body,
        })
    }
}

/// A client of `server` (`http://host:36789/api/dtmsvr`) sending over libdtmx's own HTTP
/// client. NULL on error. Free with `dtmx_client_free`.
#[no_mangle]
pub extern "C" fn dtmx_client_new(server: *const c_char, error: *mut DtmxError) -> *mut DtmxClient {
    guard(error, std::ptr::null_mut(), || {
        let inner = Client::new(text(server, "server")?)?;
        Ok(boxed(DtmxClient { inner }))
    })
}

/// A client of `server` that sends every request through `send` (with `user` as its
/// first argument): for hosts that bring their own HTTP stack, and for tests. `user` must
/// outlive the client and every transaction made from it (they keep sending through it).
/// NULL on error. Free with `dtmx_client_free`.
#[no_mangle]
pub extern "C" fn dtmx_client_new_with_transport(
    server: *const c_char,
    send: DtmxSendFn,
    user: *mut c_void,
    error: *mut DtmxError,
) -> *mut DtmxClient {
    guard(error, std::ptr::null_mut(), || {
        let send = send.ok_or_else(|| invalid("send must not be NULL"))?;
        let host = HostSender { send, user };
        let transport = CallbackTransport::new(move |r| host.send(r));
        let inner = Client::with_transport(text(server, "server")?, Arc::new(transport))?;
        Ok(boxed(DtmxClient { inner }))
    })
}

/// Makes `client` send `Authorization: Bearer <token>` on every request to the server
/// (not to branches), for servers with authentication on. The token must be non-NULL,
/// non-empty, without whitespace or control characters (`DTMX_INVALID_ARGUMENT`
/// otherwise, and the client is unchanged); a second call replaces the token. Call it
/// before the client is shared with other threads; transactions made before keep what
/// the client had when they were made.
#[no_mangle]
pub extern "C" fn dtmx_client_set_token(
    client: *mut DtmxClient,
    token: *const c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let c = handle_mut(client, "client")?;
        let token = text(token, "token")?;
        c.inner = c.inner.clone().with_token(token)?;
        Ok(())
    })
}

/// Frees a client. NULL-safe. Transactions made from it stay usable.
#[no_mangle]
pub extern "C" fn dtmx_client_free(client: *mut DtmxClient) {
    guard_plain((), || free_boxed(client));
}

/// The server URL the client talks to, as given to `dtmx_client_new`. Owned; NULL on
/// error.
#[no_mangle]
pub extern "C" fn dtmx_client_server(
    client: *const DtmxClient,
    error: *mut DtmxError,
) -> *mut c_char {
    guard(error, std::ptr::null_mut(), || {
        Ok(owned(handle(client, "client")?.inner.server()))
    })
}

/// A new gid from the server (`GET /newGid`). Owned; NULL on error.
#[no_mangle]
pub extern "C" fn dtmx_client_new_gid(
    client: *const DtmxClient,
    error: *mut DtmxError,
) -> *mut c_char {
    guard(error, std::ptr::null_mut(), || {
        let c = handle(client, "client")?.inner.dtm().clone();
        Ok(owned(&block_on(async move { c.new_gid().await })?))
    })
}

/// A new gid made locally (unique without asking the server). Owned.
#[no_mangle]
pub extern "C" fn dtmx_client_local_gid(
    client: *const DtmxClient,
    error: *mut DtmxError,
) -> *mut c_char {
    guard(error, std::ptr::null_mut(), || {
        Ok(owned(&handle(client, "client")?.inner.dtm().local_gid()))
    })
}

/// The server's JSON view of transaction `gid` (`GET /query`): `{"transaction":..,
/// "branches":[..]}`. Owned; NULL on error.
#[no_mangle]
pub extern "C" fn dtmx_client_query(
    client: *const DtmxClient,
    gid: *const c_char,
    error: *mut DtmxError,
) -> *mut c_char {
    guard(error, std::ptr::null_mut(), || {
        let c = handle(client, "client")?.inner.dtm().clone();
        let gid = text(gid, "gid")?.to_string();
        let v = block_on(async move { c.query(&gid).await })?;
        Ok(owned(&v.to_string()))
    })
}

/// Waits until transaction `gid` is final (`succeed` or `failed`) and returns that
/// status, polling every 100 ms for at most `timeout_ms`. Owned; NULL on error
/// (`DTMX_TIMEOUT` when the time runs out).
#[no_mangle]
pub extern "C" fn dtmx_client_wait_final(
    client: *const DtmxClient,
    gid: *const c_char,
    timeout_ms: u64,
    error: *mut DtmxError,
) -> *mut c_char {
    guard(error, std::ptr::null_mut(), || {
        let c = handle(client, "client")?.inner.dtm().clone();
        let gid = text(gid, "gid")?.to_string();
        let status = block_on(async move {
            c.wait_final(
                &gid,
                Duration::from_millis(timeout_ms),
                Duration::from_millis(100),
            )
            .await
        })?;
        Ok(owned(status.as_str()))
    })
}

/// The request's method (`"GET"` or `"POST"`).
#[no_mangle]
pub extern "C" fn dtmx_request_method(request: *const DtmxHttpRequest) -> *const c_char {
    with_request(request, |r| r.method.as_ptr())
}

/// The request's full URL, query string included.
#[no_mangle]
pub extern "C" fn dtmx_request_url(request: *const DtmxHttpRequest) -> *const c_char {
    with_request(request, |r| r.url.as_ptr())
}

/// How many headers the request has.
#[no_mangle]
pub extern "C" fn dtmx_request_header_count(request: *const DtmxHttpRequest) -> usize {
    guard_plain(0, || {
        handle(request, "request").map_or(0, |r| r.headers.len())
    })
}

/// The name of header `index`; NULL when out of range.
#[no_mangle]
pub extern "C" fn dtmx_request_header_name(
    request: *const DtmxHttpRequest,
    index: usize,
) -> *const c_char {
    with_request(request, |r| {
        r.headers
            .get(index)
            .map_or(std::ptr::null(), |h| h.0.as_ptr())
    })
}

/// The value of header `index`; NULL when out of range.
#[no_mangle]
pub extern "C" fn dtmx_request_header_value(
    request: *const DtmxHttpRequest,
    index: usize,
) -> *const c_char {
    with_request(request, |r| {
        r.headers
            .get(index)
            .map_or(std::ptr::null(), |h| h.1.as_ptr())
    })
}

/// The request's body and its length in `len`; NULL (length 0) when it has none.
#[no_mangle]
pub extern "C" fn dtmx_request_body(request: *const DtmxHttpRequest, len: *mut usize) -> *const u8 {
    guard_plain(std::ptr::null(), || {
        let body = handle(request, "request")
            .ok()
            .and_then(|r| r.body.as_deref());
        crate::ffi::put(len, body.map_or(0, <[u8]>::len));
        body.map_or(std::ptr::null(), <[u8]>::as_ptr)
    })
}

/// How long the whole exchange may take, in milliseconds; 0 for the host's default.
#[no_mangle]
pub extern "C" fn dtmx_request_timeout_ms(request: *const DtmxHttpRequest) -> u64 {
    guard_plain(0, || handle(request, "request").map_or(0, |r| r.timeout_ms))
}

/// Sets the reply: its status code and a copy of its `len` body bytes.
#[no_mangle]
pub extern "C" fn dtmx_response_set(
    response: *mut DtmxHttpResponse,
    status: u16,
    body: *const u8,
    len: usize,
) {
    guard_plain((), || {
        if let Ok(r) = crate::ffi::handle_mut(response, "response") {
            r.status = status;
            r.body = bytes(body, len).to_vec();
        }
    });
}

/// Reports that the request could not be sent (a `DTMX_TRANSPORT` error with a copy of
/// `message`).
#[no_mangle]
pub extern "C" fn dtmx_response_fail(response: *mut DtmxHttpResponse, message: *const c_char) {
    guard_plain((), || {
        if let Ok(r) = crate::ffi::handle_mut(response, "response") {
            let m = opt_text(message, "message")
                .ok()
                .flatten()
                .unwrap_or("send failed");
            r.failure = Some(m.to_string());
        }
    });
}

fn with_request(
    request: *const DtmxHttpRequest,
    f: impl FnOnce(&DtmxHttpRequest) -> *const c_char,
) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        handle(request, "request").map_or(std::ptr::null(), f)
    })
}

/// Reads options from JSON text (`NULL` or empty: the defaults) with the bindings' one
/// option reader, e.g. `{"wait_result":true,"retry_limit":3,"branch_headers":{"X-Req":"1"}}`
/// (unknown names and wrong types are `DTMX_INVALID_ARGUMENT`: `unknown option "x"`).
pub fn options(json: *const c_char) -> Result<Options> {
    Options::from_json_text(opt_text(json, "options")?.unwrap_or(""), Naming::Snake)
}
