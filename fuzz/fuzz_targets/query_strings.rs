//! Query strings and gRPC metadata as business services read them (`dtmx` core):
//! `transport::decode_query` / `encode_query`, `Branch::from_query`,
//! `from_url` and `from_grpc_metadata`, and `Barrier::from_query` / `from_grpc_metadata`.
//!
//! Input: any bytes, read as a query string (lossy UTF-8). Invariants:
//! * decoding, encoding and decoding again gives the same pairs (sorted by key, stably);
//! * a branch identity survives `to_query` → `encode_query` → `from_query`, and
//!   `to_grpc_metadata` → `from_grpc_metadata`;
//! * from gRPC metadata, `Barrier` and `Branch` agree: the barrier is built exactly
//!   when the identity passes `validate_for_barrier`, with the same fields.
#![no_main]

use dtmx::barrier::Barrier;
use dtmx::transport::{decode_query, encode_query};
use dtmx::Branch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let pairs = decode_query(&query);
    let mut sorted = pairs.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        decode_query(&encode_query(&pairs)),
        sorted,
        "query round trip"
    );

    let branch = Branch::from_query(&query);
    let again = Branch::from_query(&encode_query(&branch.to_query()));
    assert_eq!(again, branch, "branch identity through a query string");
    assert_eq!(
        Branch::from_url(&format!("http://h/p?{query}")),
        branch,
        "branch identity from a URL"
    );
    assert_eq!(
        Branch::from_grpc_metadata(branch.to_grpc_metadata()),
        branch,
        "branch identity through gRPC metadata"
    );
    // The barrier from the HTTP query never panics (see docs/FUZZING.md on key case).
    let _ = Barrier::from_query_pairs(pairs.iter().map(|(k, v)| (k, v)));

    // The pairs as gRPC metadata: every key with the `dtm-` prefix.
    let metadata: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (format!("dtm-{k}"), v.clone()))
        .collect();
    let identity = Branch::from_grpc_metadata(metadata.iter().cloned());
    match Barrier::from_grpc_metadata(metadata.iter().cloned()) {
        Ok(b) => {
            assert!(identity.validate_for_barrier().is_ok(), "{identity:?}");
            assert_eq!(
                [b.trans_type(), b.gid(), b.branch_id(), b.op()],
                [
                    identity.trans_type.as_str(),
                    identity.gid.as_str(),
                    identity.branch_id.as_str(),
                    identity.op.as_str()
                ]
            );
        }
        Err(_) => assert!(identity.validate_for_barrier().is_err(), "{identity:?}"),
    }
});
