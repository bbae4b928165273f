//! Branch ids of TCC and XA branches made by the client (PROTOCOL.md §4.1): the parent's id
//! followed by a two-digit counter: `01`, `02`, ... at the top, `0101`, `0102`, ... inside
//! branch `01`.

use crate::error::{Error, ErrorKind, Result};
use std::sync::atomic::{AtomicU32, Ordering};

/// At most this many children per parent.
pub const MAX_SUB_BRANCHES: u32 = 99;
/// A parent id this long or longer gets no children.
pub const MAX_BRANCH_ID_PARENT_LEN: usize = 20;

/// Generates the ids of a parent's sub-branches; shared by clones of a [`Tcc`](super::Tcc)
/// or [`Xa`](super::Xa) (thread-safe).
#[derive(Debug, Default)]
pub struct BranchIdGen {
    parent: String,
    count: AtomicU32,
}

impl BranchIdGen {
    /// A generator of the children of `parent` (empty for a global transaction).
    pub fn new(parent: impl Into<String>) -> BranchIdGen {
        BranchIdGen {
            parent: parent.into(),
            count: AtomicU32::new(0),
        }
    }

    /// The parent id.
    pub fn parent(&self) -> &str {
        &self.parent
    }

    /// The next child id; an error after 99 children or under a parent of 20 or more
    /// characters.
    pub fn next_id(&self) -> Result<String> {
        if self.count.load(Ordering::SeqCst) >= MAX_SUB_BRANCHES {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "branch id is larger than 99",
            ));
        }
        if self.parent.len() >= MAX_BRANCH_ID_PARENT_LEN {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "total branch id is longer than 20",
            ));
        }
        let n = self
            .count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                (c < MAX_SUB_BRANCHES).then_some(c + 1)
            })
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "branch id is larger than 99"))?;
        Ok(format!("{}{:02}", self.parent, n + 1))
    }

    /// The last id handed out (the parent followed by `00` before the first).
    pub fn current(&self) -> String {
        format!("{}{:02}", self.parent, self.count.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let g = BranchIdGen::new("");
        assert_eq!(g.next_id().expect("id"), "01");
        assert_eq!(g.next_id().expect("id"), "02");
        let nested = BranchIdGen::new("01");
        assert_eq!(nested.next_id().expect("id"), "0101");
        for _ in 1..99 {
            nested.next_id().expect("id");
        }
        assert_eq!(nested.current(), "0199");
        assert!(nested.next_id().is_err());
        let deep = BranchIdGen::new("0101010101010101010");
        assert_eq!(
            deep.next_id().expect("19 chars ok"),
            "010101010101010101001"
        );
        let too_deep = BranchIdGen::new("01010101010101010101");
        assert_eq!(
            too_deep.next_id().map_err(|e| e.kind()),
            Err(ErrorKind::InvalidArgument)
        );
    }
}
