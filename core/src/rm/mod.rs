//! RM side: what a business service needs to take part in a transaction.
//!
//! * [`Branch`]: the branch identity dtm (or a TCC/XA client) sends with every
//!   branch call, read from HTTP query parameters or gRPC metadata (PROTOCOL.md §1.5, §2.4).
//! * [`reply`]: an [`Outcome`](crate::Outcome) turned into the HTTP status and body or the
//!   gRPC status code dtm expects, and back.
//! * [`xa`]: the local XA branch, driven sans-IO (the host runs the SQL).

pub mod reply;
pub mod xa;

pub use reply::{
    grpc_code, outcome_from_grpc, outcome_from_result, outcome_of_error, outcome_reply, reply,
    GrpcCode, HttpReply,
};
pub use xa::{is_missing_xa_error, xa_sql, XaCommand, XaLocal, XaPhase, XaStep};

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::strip;
use crate::transport::decode_query;

/// Key prefix of the gRPC metadata carrying the branch identity.
pub const GRPC_METADATA_PREFIX: &str = "dtm-";

/// The branch identity carried by a branch call: query parameters `gid`, `trans_type`,
/// `branch_id`, `op`, `dtm`, `phase2_url` (HTTP) or metadata `dtm-gid`, `dtm-trans_type`,
/// ... (gRPC). Values have `\n`, `\r` and `;` removed, as DTM's SDKs do; absent ones are
/// empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branch {
    /// Global transaction id.
    pub gid: String,
    /// `saga`, `msg`, `tcc`, `xa` or `workflow`.
    pub trans_type: String,
    /// Branch id (`01`, `0101`, `00` for the msg check-back, ...).
    pub branch_id: String,
    /// Operation (`action`, `compensate`, `try`, `confirm`, `cancel`, `commit`, `rollback`,
    /// `msg`).
    pub op: String,
    /// The DTM server URL (only calls made by TCC/XA clients carry it; dtm sends none).
    pub dtm: String,
    /// XA only: the URL dtm calls for phase 2.
    pub phase2_url: String,
}

impl Branch {
    /// Reads the identity from query parameters (the first value of a repeated key wins, as
    /// with Go's `url.Values.Get`).
    pub fn from_query_pairs<I, K, V>(pairs: I) -> Branch
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut out = Branch::default();
        let mut seen = [false; 6];
        for (k, v) in pairs {
            if let Some(i) = out.slot(k.as_ref()) {
                if !seen[i] {
                    seen[i] = true;
                    *out.field_mut(i) = clean(v.as_ref());
                }
            }
        }
        out
    }

    /// Reads the identity from a raw query string (`gid=...&op=...`, with or without `?`).
    pub fn from_query(query: &str) -> Branch {
        Branch::from_query_pairs(decode_query(query))
    }

    /// Reads the identity from a URL's query string.
    pub fn from_url(url: &str) -> Branch {
        Branch::from_query(url.split_once('?').map_or("", |(_, q)| q))
    }

    /// Reads the identity from gRPC metadata (`dtm-gid`, `dtm-trans_type`, `dtm-branch_id`,
    /// `dtm-op`, `dtm-dtm`, `dtm-phase2_url`; keys compared case-insensitively, first value
    /// wins).
    pub fn from_grpc_metadata<I, K, V>(metadata: I) -> Branch
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Branch::from_query_pairs(metadata.into_iter().filter_map(|(k, v)| {
            let k = k.as_ref().to_ascii_lowercase();
            k.strip_prefix(GRPC_METADATA_PREFIX)
                .map(|rest| (rest.to_string(), v.as_ref().to_string()))
        }))
    }

    /// The identity as query parameters, in Go's order (sorted by key), empty ones left out.
    pub fn to_query(&self) -> Vec<(&'static str, &str)> {
        let mut pairs: Vec<(&'static str, &str)> = KEYS
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, self.field(i)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        pairs
    }

    /// The identity as gRPC metadata (`dtm-` keys), empty ones left out.
    pub fn to_grpc_metadata(&self) -> Vec<(String, String)> {
        self.to_query()
            .into_iter()
            .map(|(k, v)| (format!("{GRPC_METADATA_PREFIX}{k}"), v.to_string()))
            .collect()
    }

    /// Checks what a barrier needs: `trans_type`, `gid`, `branch_id` and `op`.
    pub fn validate_for_barrier(&self) -> Result<()> {
        if self.trans_type.is_empty()
            || self.gid.is_empty()
            || self.branch_id.is_empty()
            || self.op.is_empty()
        {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "invalid trans info: trans_type: {:?} gid: {:?} branch_id: {:?} op: {:?}",
                    self.trans_type, self.gid, self.branch_id, self.op
                ),
            ));
        }
        Ok(())
    }

    /// Checks what a nested TCC needs: `dtm` and `gid`.
    pub fn validate_for_tcc(&self) -> Result<()> {
        if self.dtm.is_empty() || self.gid.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "bad tcc info: dtm: {:?} gid: {:?} branch_id: {:?}",
                    self.dtm, self.gid, self.branch_id
                ),
            ));
        }
        Ok(())
    }

    /// Checks what an XA branch needs: `gid`, `branch_id` and `op`.
    pub fn validate_for_xa(&self) -> Result<()> {
        if self.gid.is_empty() || self.branch_id.is_empty() || self.op.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "bad xa info: gid: {:?} branch_id: {:?} op: {:?} phase2_url: {:?}",
                    self.gid, self.branch_id, self.op, self.phase2_url
                ),
            ));
        }
        Ok(())
    }

    fn slot(&self, key: &str) -> Option<usize> {
        KEYS.iter().position(|k| *k == key)
    }

    fn field(&self, i: usize) -> &str {
        match i {
            0 => &self.gid,
            1 => &self.trans_type,
            2 => &self.branch_id,
            3 => &self.op,
            4 => &self.dtm,
            _ => &self.phase2_url,
        }
    }

    fn field_mut(&mut self, i: usize) -> &mut String {
        match i {
            0 => &mut self.gid,
            1 => &mut self.trans_type,
            2 => &mut self.branch_id,
            3 => &mut self.op,
            4 => &mut self.dtm,
            _ => &mut self.phase2_url,
        }
    }
}

const KEYS: [&str; 6] = ["gid", "trans_type", "branch_id", "op", "dtm", "phase2_url"];

fn clean(v: &str) -> String {
    let mut s = v.to_string();
    strip(&mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_query_and_metadata() {
        let b = Branch::from_query(
            "gid=g%3B1&trans_type=tcc&branch_id=01&op=try&dtm=http%3A%2F%2Fd%2Fapi&gid=other",
        );
        assert_eq!(b.gid, "g1");
        assert_eq!(b.dtm, "http://d/api");
        assert_eq!(b.op, "try");
        b.validate_for_tcc().expect("tcc ok");
        let m = Branch::from_grpc_metadata([
            ("dtm-gid", "g"),
            ("DTM-Trans_Type", "xa"),
            ("dtm-branch_id", "02"),
            ("dtm-op", "action"),
            ("dtm-phase2_url", "localhost:1/x.Y/Z"),
            ("other", "x"),
        ]);
        assert_eq!(m.trans_type, "xa");
        assert_eq!(m.phase2_url, "localhost:1/x.Y/Z");
        m.validate_for_xa().expect("xa ok");
        assert!(m.validate_for_tcc().is_err());
        assert_eq!(
            Branch::from_url("http://h/p?op=x").to_query(),
            vec![("op", "x")]
        );
    }
}
