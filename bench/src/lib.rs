//! dtmx-bench: the branch service, load generator, verifier and report of the dtmx
//! benchmarks (see `/work/shared/BENCHMARK.md` for the method and `docs/PERFORMANCE.md`
//! for how to run them). Everything here speaks DTM's HTTP wire format only, so the same
//! binaries measure any DTM-compatible server.

pub mod args;
pub mod client;
pub mod counts;
pub mod gidlog;
pub mod load;
pub mod procfs;
pub mod stats;
pub mod verify;
pub mod wire;
