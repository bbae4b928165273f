//! Gid generation: 22 characters of base 57 over 128 random bits, the shape of DTM's
//! short UUIDs (no look-alike characters).

const ALPHABET: &[u8; 57] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// A new random gid of 22 characters.
pub fn new_gid() -> String {
    let mut n: u128 = rand::random();
    let mut out = [0u8; 22];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 57) as usize];
        n /= 57;
    }
    out.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let a = new_gid();
        assert_eq!(a.len(), 22);
        assert!(a.bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(a, new_gid());
    }
}
