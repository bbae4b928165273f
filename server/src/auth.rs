//! Bearer-token authentication (dtmx extension, off by default for DTM compatibility).
//!
//! Tokens are configured per scope (`Auth.SubmitTokens`, `Auth.AdminTokens`,
//! `Auth.MetricsTokens`); the same token may be listed under several. `admin` grants
//! every scope. Only SHA-256 digests of the tokens are kept, and a presented token is
//! compared with every configured one in constant time, so neither the comparison's time
//! nor its early exit tells an attacker how much of a guess was right.

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The transaction API: newGid, prepare, submit, abort, register branches, query.
    Submit,
    /// Force-stop, listings, resets, topics and the console's data; grants every scope.
    Admin,
    /// `GET /api/metrics`.
    Metrics,
}

impl Scope {
    /// The scope's name in config and in `WWW-Authenticate`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Submit => "submit",
            Scope::Admin => "admin",
            Scope::Metrics => "metrics",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Scope::Submit => 1,
            Scope::Admin => 2,
            Scope::Metrics => 4,
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Bearer` credential (401).
    Missing,
    /// A token that is not configured (401).
    Invalid,
    /// A valid token without the scope the call needs (403).
    Insufficient(Scope),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Missing => {
                f.write_str("authentication required: send Authorization: Bearer <token>")
            }
            Refusal::Invalid => f.write_str("invalid bearer token"),
            Refusal::Insufficient(s) => write!(f, "this token lacks the {:?} scope", s.name()),
        }
    }
}

/// The configured tokens; empty means authentication is off.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<([u8; 32], u8)>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokens({} configured)", self.entries.len())
    }
}

/// Fewest characters a token may have.
pub const MIN_TOKEN_LEN: usize = 16;

impl Tokens {
    /// True when at least one token is configured.
    pub fn is_on(&self) -> bool {
        !self.entries.is_empty()
    }

    /// Replaces the tokens of `scope` with the comma list `list`, after checking each one
    /// (at least [`MIN_TOKEN_LEN`] characters of RFC 6750's token alphabet).
    pub fn set(&mut self, scope: Scope, list: &str) -> Result<(), String> {
        let mut tokens = Vec::new();
        for token in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            check_token(token)?;
            tokens.push(digest(token.as_bytes()));
        }
        for entry in &mut self.entries {
            entry.1 &= !scope.bit();
        }
        for d in tokens {
            match self.entries.iter_mut().find(|e| e.0 == d) {
                Some(entry) => entry.1 |= scope.bit(),
                None => self.entries.push((d, scope.bit())),
            }
        }
        self.entries.retain(|e| e.1 != 0);
        Ok(())
    }

    /// Checks the value of an `Authorization` header (or gRPC `authorization` metadata)
    /// against `need`.
    pub fn check(&self, authorization: Option<&[u8]>, need: Scope) -> Result<(), Refusal> {
        let token = authorization.and_then(bearer).ok_or(Refusal::Missing)?;
        let presented = digest(token);
        let mut scopes = 0u8;
        for (known, bits) in &self.entries {
            // All ones when equal, all zeros otherwise; no branch on the comparison.
            let mask = 0u8.wrapping_sub(known.ct_eq(&presented).unwrap_u8());
            scopes |= bits & mask;
        }
        if scopes == 0 {
            Err(Refusal::Invalid)
        } else if scopes & (need.bit() | Scope::Admin.bit()) != 0 {
            Ok(())
        } else {
            Err(Refusal::Insufficient(need))
        }
    }
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// The credential of `Bearer <token>` (the scheme is case-insensitive).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

fn check_token(token: &str) -> Result<(), String> {
    if token.len() < MIN_TOKEN_LEN {
        return Err(format!(
            "a token must have at least {MIN_TOKEN_LEN} characters (one has {})",
            token.len()
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if !token.chars().all(allowed) {
        return Err("a token may only hold letters, digits and -._~+/=".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBMIT: &str = "submit-token-0123456789";
    const ADMIN: &str = "admin-token-0123456789";
    const METRICS: &str = "metrics-token-0123456789";

    fn tokens() -> Tokens {
        let mut t = Tokens::default();
        t.set(Scope::Submit, &format!("{SUBMIT}, {METRICS}x"))
            .expect("valid tokens");
        t.set(Scope::Admin, ADMIN).expect("valid tokens");
        t.set(Scope::Metrics, METRICS).expect("valid tokens");
        t
    }

    fn header(token: &str) -> Vec<u8> {
        format!("Bearer {token}").into_bytes()
    }

    #[test]
    fn scopes_are_enforced() {
        let t = tokens();
        assert!(t.is_on());
        let check = |token: &str, need| t.check(Some(&header(token)), need);
        assert_eq!(check(SUBMIT, Scope::Submit), Ok(()));
        assert_eq!(
            check(SUBMIT, Scope::Admin),
            Err(Refusal::Insufficient(Scope::Admin))
        );
        assert_eq!(
            check(SUBMIT, Scope::Metrics),
            Err(Refusal::Insufficient(Scope::Metrics))
        );
        for need in [Scope::Submit, Scope::Admin, Scope::Metrics] {
            assert_eq!(check(ADMIN, need), Ok(()), "admin grants {need:?}");
        }
        assert_eq!(check(METRICS, Scope::Metrics), Ok(()));
        assert_eq!(
            check(METRICS, Scope::Submit),
            Err(Refusal::Insufficient(Scope::Submit))
        );
        assert_eq!(check(&format!("{METRICS}x"), Scope::Submit), Ok(()));
    }

    #[test]
    fn bad_credentials_are_refused() {
        let t = tokens();
        assert_eq!(t.check(None, Scope::Submit), Err(Refusal::Missing));
        for value in ["", "Bearer", "Bearer ", "Basic abc", SUBMIT, "Bearer  "] {
            assert_eq!(
                t.check(Some(value.as_bytes()), Scope::Submit),
                Err(Refusal::Missing),
                "{value:?}"
            );
        }
        let wrong = format!("{SUBMIT}0");
        assert_eq!(
            t.check(Some(&header(&wrong)), Scope::Submit),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            t.check(Some(format!("bEaReR {SUBMIT} ").as_bytes()), Scope::Submit),
            Ok(())
        );
    }

    #[test]
    fn tokens_are_validated_and_replaced() {
        let mut t = Tokens::default();
        assert!(!t.is_on());
        assert!(t
            .set(Scope::Submit, "short")
            .expect_err("refused")
            .contains("16"));
        assert!(t
            .set(Scope::Submit, "has space inside token")
            .expect_err("refused")
            .contains("letters"));
        t.set(Scope::Submit, SUBMIT).expect("valid tokens");
        t.set(Scope::Submit, "").expect("valid tokens");
        assert!(!t.is_on(), "an empty list removes the scope's tokens");
        assert_eq!(format!("{t:?}"), "Tokens(0 configured)");
    }
}
