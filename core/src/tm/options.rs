//! Option setters shared by every builder (the fields of `TransOptions`).

/// Implements the option setters on a builder with a `trans: TransRequest` field (or, with
/// a second argument `via`, a `via.trans` field).
macro_rules! option_setters {
    ($t:ty $(, $via:ident)?) => {
        impl $t {
            /// The options sent with every request of this transaction.
            pub fn options(&self) -> &$crate::protocol::TransOptions {
                &self$(.$via)?.trans.options
            }

            /// The options, to change several at once.
            pub fn options_mut(&mut self) -> &mut $crate::protocol::TransOptions {
                &mut self$(.$via)?.trans.options
            }

            /// Replaces all options (`concurrent` included).
            pub fn set_options(&mut self, options: $crate::protocol::TransOptions) -> &mut Self {
                self$(.$via)?.trans.options = options;
                self
            }

            /// Asks dtm to process the transaction inside the submit request and report its
            /// outcome (`wait_result`).
            pub fn wait_result(&mut self, on: bool) -> &mut Self {
                self$(.$via)?.trans.options.wait_result = on;
                self
            }

            /// Seconds after which dtm gives up and rolls back (`timeout_to_fail`; saga: 0
            /// never, others: 0 the server's default).
            pub fn timeout_to_fail(&mut self, seconds: i64) -> &mut Self {
                self$(.$via)?.trans.options.timeout_to_fail = seconds;
                self
            }

            /// Base retry interval in seconds (`retry_interval`; 0: the server's default).
            pub fn retry_interval(&mut self, seconds: i64) -> &mut Self {
                self$(.$via)?.trans.options.retry_interval = seconds;
                self
            }

            /// Seconds a call may take (`request_timeout`): dtm's calls to the branches,
            /// and this client's calls to dtm (0: the defaults).
            pub fn request_timeout(&mut self, seconds: i64) -> &mut Self {
                self$(.$via)?.trans.options.request_timeout = seconds;
                self
            }

            /// Saga: immediate retries of a non-final action within one pass before
            /// rolling back (`retry_limit`; 0: unlimited).
            pub fn retry_limit(&mut self, limit: i64) -> &mut Self {
                self$(.$via)?.trans.options.retry_limit = limit;
                self
            }

            /// Adds a header to every branch call, by dtm and by this client
            /// (`branch_headers`).
            pub fn branch_header(
                &mut self,
                name: impl Into<String>,
                value: impl Into<String>,
            ) -> &mut Self {
                self$(.$via)?.trans
                    .options
                    .branch_headers
                    .insert(name.into(), value.into());
                self
            }

            /// The global transaction id.
            pub fn gid(&self) -> &str {
                &self$(.$via)?.trans.gid
            }

            /// The transaction as it will be sent (before type-specific extras are added
            /// at submit).
            pub fn trans(&self) -> &$crate::protocol::TransRequest {
                &self$(.$via)?.trans
            }
        }
    };
}

pub(crate) use option_setters;

use crate::error::{Error, ErrorKind, Result};

/// The start of every invalid-payload error's message, in every package: the core's (a
/// payload that is not UTF-8) and the hosts' (a value they cannot encode as JSON).
pub const INVALID_PAYLOAD: &str = "invalid payload";

/// A payload as the text DTM carries in `payloads` (JSON strings must be UTF-8).
pub(crate) fn payload_text(payload: &[u8], what: &str) -> Result<String> {
    String::from_utf8(payload.to_vec()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{INVALID_PAYLOAD} of {what}: not UTF-8 text"),
        )
        .with_source(e)
    })
}

/// Rejects an empty gid.
pub(crate) fn require_gid(gid: &str) -> Result<()> {
    if gid.is_empty() {
        return Err(Error::new(ErrorKind::InvalidArgument, "gid is empty"));
    }
    Ok(())
}
