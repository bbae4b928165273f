//! Compact binary encoding of a transaction's branch rows, stored in one column of the
//! embedded store so that a saga is one row: written once at submit, rewritten once when
//! it finishes.
//!
//! Layout (little-endian): version byte `1`, `u32` count, then per branch: url,
//! branch_id and op as `u32`-length-prefixed UTF-8, the payload as `u32`-length-prefixed
//! bytes, a status byte, and create/update/finish/rollback times as `i64` milliseconds
//! (`i64::MIN` for none). A branch's `id` is its position plus one.

use super::{BranchRow, StoreError, StoreResult};
use bytes::Bytes;
use dtmx::TransStatus;

const VERSION: u8 = 1;
const NONE: i64 = i64::MIN;
const STATUSES: [TransStatus; 5] = [
    TransStatus::Prepared,
    TransStatus::Submitted,
    TransStatus::Aborting,
    TransStatus::Succeed,
    TransStatus::Failed,
];

/// Encodes branch rows (their `gid` and `id` are implied by where they are stored).
pub fn encode(branches: &[BranchRow]) -> Vec<u8> {
    let size: usize = branches
        .iter()
        .map(|b| 49 + b.url.len() + b.branch_id.len() + b.op.len() + b.bin_data.len())
        .sum();
    let mut out = Vec::with_capacity(5 + size);
    out.push(VERSION);
    out.extend_from_slice(&(branches.len() as u32).to_le_bytes());
    for b in branches {
        for field in [
            b.url.as_bytes(),
            b.branch_id.as_bytes(),
            b.op.as_bytes(),
            &b.bin_data,
        ] {
            out.extend_from_slice(&(field.len() as u32).to_le_bytes());
            out.extend_from_slice(field);
        }
        let status = STATUSES.iter().position(|s| *s == b.status).unwrap_or(0);
        out.push(status as u8);
        for t in [
            b.create_time,
            b.update_time,
            b.finish_time.unwrap_or(NONE),
            b.rollback_time.unwrap_or(NONE),
        ] {
            out.extend_from_slice(&t.to_le_bytes());
        }
    }
    out
}

/// Decodes the branch rows of transaction `gid`.
pub fn decode(gid: &str, data: &[u8]) -> StoreResult<Vec<BranchRow>> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let mut r = Reader { data, pos: 0 };
    let version = r.take(1)?[0];
    if version != VERSION {
        return Err(corrupt(format!("unknown branch encoding {version}")));
    }
    let count = r.u32()? as usize;
    let mut branches = Vec::with_capacity(count.min(4096));
    for i in 0..count {
        let url = r.text()?;
        let branch_id = r.text()?;
        let op = r.text()?;
        let len = r.u32()? as usize;
        let bin_data = Bytes::copy_from_slice(r.take(len)?);
        let status = *STATUSES
            .get(r.take(1)?[0] as usize)
            .ok_or_else(|| corrupt("unknown branch status".into()))?;
        let create_time = r.i64()?;
        let update_time = r.i64()?;
        let finish_time = Some(r.i64()?).filter(|t| *t != NONE);
        let rollback_time = Some(r.i64()?).filter(|t| *t != NONE);
        branches.push(BranchRow {
            id: i as i64 + 1,
            gid: gid.to_string(),
            url,
            bin_data,
            branch_id,
            op,
            status,
            create_time,
            update_time,
            finish_time,
            rollback_time,
        });
    }
    Ok(branches)
}

/// Applies branch results to stored rows: each update replaces the status and times of
/// the row with the same `(branch_id, op)`.
pub fn merge(stored: &mut [BranchRow], updates: &[BranchRow]) {
    for u in updates {
        if let Some(b) = stored
            .iter_mut()
            .find(|b| b.branch_id == u.branch_id && b.op == u.op)
        {
            b.status = u.status;
            b.update_time = u.update_time;
            b.finish_time = u.finish_time;
            b.rollback_time = u.rollback_time;
        }
    }
}

fn corrupt(msg: String) -> StoreError {
    StoreError::Db(format!("corrupt branch data: {msg}"))
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> StoreResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| corrupt("truncated".into()))?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn u32(&mut self) -> StoreResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self) -> StoreResult<i64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(a))
    }

    fn text(&mut self) -> StoreResult<String> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|e| corrupt(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(branch_id: &str, op: &str, status: TransStatus) -> BranchRow {
        BranchRow {
            id: 0,
            gid: "g".into(),
            url: "http://x/a".into(),
            bin_data: Bytes::from_static(b"{\"a\":1}"),
            branch_id: branch_id.into(),
            op: op.into(),
            status,
            create_time: 1,
            update_time: 2,
            finish_time: None,
            rollback_time: Some(5),
        }
    }

    #[test]
    fn round_trip_and_merge() {
        let rows = vec![
            row("01", "compensate", TransStatus::Prepared),
            row("01", "action", TransStatus::Failed),
        ];
        let mut back = decode("g", &encode(&rows)).expect("decodes");
        assert_eq!(back[1].status, TransStatus::Failed);
        assert_eq!(back[1].id, 2);
        assert_eq!(back[0].bin_data, rows[0].bin_data);
        assert_eq!(back[0].rollback_time, Some(5));
        assert_eq!(back[0].finish_time, None);
        let mut done = row("01", "compensate", TransStatus::Succeed);
        done.finish_time = Some(9);
        merge(&mut back, &[done]);
        assert_eq!(back[0].status, TransStatus::Succeed);
        assert_eq!(back[0].finish_time, Some(9));
        assert!(decode("g", &[]).expect("empty").is_empty());
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let data = encode(&[row("01", "action", TransStatus::Prepared)]);
        assert!(decode("g", &data[..data.len() - 1]).is_err());
        assert!(decode("g", &[9]).is_err());
    }
}
