//! Locally unique gids, for when asking the server (`/newGid`) is not wanted.

use crate::transport::Clock;
use std::sync::atomic::{AtomicU64, Ordering};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Makes 22-character gids (the length of DTM's own) from the time, a per-process random
/// seed and a counter: sortable by creation millisecond, unique within the process, and
/// unique across processes with overwhelming probability.
#[derive(Debug)]
pub struct GidGenerator {
    seed: u64,
    counter: AtomicU64,
}

impl GidGenerator {
    /// A generator with a seed from the target's entropy (the hasher keys of the standard
    /// library natively, `Math.random()` on wasm32 with the `client` feature, the clock
    /// otherwise).
    pub fn new(clock: &dyn Clock) -> GidGenerator {
        GidGenerator::with_seed(entropy(clock))
    }

    /// A generator with a given seed (deterministic; tests, or a host with its own
    /// randomness).
    pub fn with_seed(seed: u64) -> GidGenerator {
        GidGenerator {
            seed,
            counter: AtomicU64::new(0),
        }
    }

    /// The next gid at `now_millis`.
    pub fn next_gid(&self, now_millis: u64) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let low = splitmix64(self.seed ^ splitmix64(n));
        let mut value = (u128::from(now_millis) << 64) | u128::from(low);
        let mut out = [b'0'; 22];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(value % 62) as usize];
            value /= 62;
        }
        out.iter().map(|&b| char::from(b)).collect()
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(not(target_arch = "wasm32"))]
fn entropy(clock: &dyn Clock) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(clock.now_millis());
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(all(target_arch = "wasm32", feature = "client"))]
fn entropy(clock: &dyn Clock) -> u64 {
    let a = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    let b = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    splitmix64((a << 32 | b) ^ clock.now_millis())
}

#[cfg(all(target_arch = "wasm32", not(feature = "client")))]
fn entropy(clock: &dyn Clock) -> u64 {
    splitmix64(clock.now_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn unique_and_sized() {
        let g = GidGenerator::with_seed(7);
        let gids: HashSet<String> = (0..1000).map(|_| g.next_gid(1_700_000_000_000)).collect();
        assert_eq!(gids.len(), 1000);
        assert!(gids.iter().all(|g| g.len() == 22));
        assert!(g.next_gid(1) < g.next_gid(2));
    }
}
