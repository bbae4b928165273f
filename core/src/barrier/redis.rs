//! The Redis barrier (PROTOCOL.md §7.7): an atomic Lua script that adjusts an amount at
//! most once per barrier, and the msg check-back on Redis.
//!
//! The core hands out the script text, its keys and its arguments; the host runs them with
//! `EVAL` (or `EVALSHA`) and hands the reply (a string or nil) to `decide`. With the `redis`
//! feature, `check_adjust_amount` and `query_prepared` in this module do it on the redis crate.

use super::call::duplicated;
use super::{Barrier, FIRST_BARRIER_ID, MSG_BRANCH_ID, MSG_OP};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::DtmResult;
use std::fmt;

/// Lua script of [`Barrier::redis_check_adjust_amount_call`].
///
/// `KEYS[1]` the amount, `KEYS[2]` this op's barrier key, `KEYS[3]` (only for `cancel` and
/// `compensate`) the barrier key of the op it compensates; `ARGV[1]` the amount to add,
/// `ARGV[2]` the op, `ARGV[3]` the expiry of barrier keys in seconds.
///
/// Replies: `FAILURE` (amount key missing, or the amount would go below zero), `DUPLICATE`
/// (this op already ran), `SUSPENDED` (the compensation already fenced this op),
/// `NULL_COMPENSATION` (nothing to compensate; the origin op is now fenced), `SUCCESS`
/// (adjusted). Unlike DTM's script, the duplicate and null-compensation checks come before
/// the balance check, so that repeating or fencing never fails for lack of funds.
pub const CHECK_ADJUST_AMOUNT_SCRIPT: &str = r#"-- dtmx redis barrier: adjust an amount at most once
local amount = redis.call('GET', KEYS[1])
if not amount then
  return 'FAILURE'
end
local done = redis.call('GET', KEYS[2])
if done then
  if done == ARGV[2] then
    return 'DUPLICATE'
  end
  return 'SUSPENDED'
end
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
  redis.call('SET', KEYS[3], 'rollback', 'EX', ARGV[3])
  return 'NULL_COMPENSATION'
end
if tonumber(amount) + tonumber(ARGV[1]) < 0 then
  return 'FAILURE'
end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('INCRBY', KEYS[1], ARGV[1])
return 'SUCCESS'
"#;

/// Lua script of [`Barrier::redis_query_prepared_call`].
///
/// `KEYS[1]` the msg barrier key `<gid>-00-msg-01`, `ARGV[1]` its expiry in seconds.
/// Sets the key to `rollback` when missing; replies `FAILURE` when it holds `rollback`,
/// `SUCCESS` otherwise.
pub const QUERY_PREPARED_SCRIPT: &str = r#"-- dtmx redis msg check-back
local v = redis.call('GET', KEYS[1])
if not v then
  v = 'rollback'
  redis.call('SET', KEYS[1], v, 'EX', ARGV[1])
end
if v == 'rollback' then
  return 'FAILURE'
end
return 'SUCCESS'
"#;

/// The op whose Redis barrier key a compensating op sets to fence it: `cancel` → `try`,
/// `compensate` → `action` (the Redis barrier has no XA `rollback`).
pub fn redis_origin_op(op: &str) -> Option<&'static str> {
    match op {
        "cancel" => Some("try"),
        "compensate" => Some("action"),
        _ => None,
    }
}

/// What the Redis barrier script did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedisDecision {
    /// The amount was adjusted.
    Applied,
    /// A compensation whose op never ran: nothing adjusted, the op is fenced.
    NullCompensation,
    /// This op already ran: nothing adjusted.
    Duplicate,
    /// The op came after its compensation: nothing adjusted.
    Suspended,
}

impl RedisDecision {
    /// The stable name: `applied`, `null_compensation`, `duplicate`, `suspended`.
    pub fn as_str(self) -> &'static str {
        match self {
            RedisDecision::Applied => "applied",
            RedisDecision::NullCompensation => "null_compensation",
            RedisDecision::Duplicate => "duplicate",
            RedisDecision::Suspended => "suspended",
        }
    }
}

impl fmt::Display for RedisDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run of [`CHECK_ADJUST_AMOUNT_SCRIPT`]: its keys and arguments, and the meaning of
/// its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisCall {
    op: String,
    keys: Vec<String>,
    args: Vec<String>,
}

impl RedisCall {
    /// The Lua script text.
    pub fn script(&self) -> &'static str {
        CHECK_ADJUST_AMOUNT_SCRIPT
    }

    /// `KEYS` of the script: the amount key, this op's barrier key, and for `cancel` and
    /// `compensate` the origin op's barrier key.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// `ARGV` of the script: amount, op, expiry in seconds.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Maps the script's reply: `SUCCESS` (or nil, what DTM's own script replies) →
    /// `Applied`; `NULL_COMPENSATION`, `DUPLICATE`, `SUSPENDED` → the same decision, except
    /// that for op `msg` a taken key is the error `Duplicated`; `FAILURE` → the error
    /// `Failure` (reply FAILURE to DTM); anything else → `Internal`.
    pub fn decide(&self, reply: Option<&str>) -> Result<RedisDecision> {
        let msg = self.op == MSG_OP;
        match reply {
            None | Some("SUCCESS") => Ok(RedisDecision::Applied),
            Some("NULL_COMPENSATION") => Ok(RedisDecision::NullCompensation),
            Some("DUPLICATE" | "SUSPENDED") if msg => Err(duplicated()),
            Some("DUPLICATE") => Ok(RedisDecision::Duplicate),
            Some("SUSPENDED") => Ok(RedisDecision::Suspended),
            Some("FAILURE") => Err(Error::new(ErrorKind::Failure, "FAILURE")),
            Some(other) => Err(unexpected_reply(other)),
        }
    }
}

/// One run of [`QUERY_PREPARED_SCRIPT`]: its keys and arguments, and the meaning of its
/// reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisQueryPrepared {
    keys: Vec<String>,
    args: Vec<String>,
}

impl RedisQueryPrepared {
    /// The Lua script text.
    pub fn script(&self) -> &'static str {
        QUERY_PREPARED_SCRIPT
    }

    /// `KEYS` of the script: `<gid>-00-msg-01`.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// `ARGV` of the script: the expiry in seconds.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Maps the script's reply: `SUCCESS` → `Success`, `FAILURE` → `Failure`, anything
    /// else → `Internal` error.
    pub fn decide(&self, reply: Option<&str>) -> Result<DtmResult> {
        match reply {
            Some("SUCCESS") => Ok(DtmResult::Success),
            Some("FAILURE") => Ok(DtmResult::Failure),
            other => Err(unexpected_reply(other.unwrap_or("nil"))),
        }
    }
}

fn unexpected_reply(reply: &str) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("unexpected redis barrier reply {reply:?}"),
    )
}

/// How long Redis barrier keys live when the caller does not say: one week, as DTM.
pub const REDIS_DEFAULT_EXPIRE: u64 = 7 * 24 * 3600;

fn check_expire(expire_secs: u64) -> Result<()> {
    if expire_secs == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "redis barrier expiry must be at least 1 second",
        ));
    }
    Ok(())
}

impl Barrier {
    /// The Redis barrier of one amount adjustment (PROTOCOL.md §7.7) with the next barrier
    /// id: add `amount` to `key` unless this op already ran, was fenced, or is a null
    /// compensation. Barrier keys are `<gid>-<branch_id>-<op>-<barrier id>` and expire after
    /// `expire_secs` (at least 1). `InvalidArgument` (and no barrier id used) for an empty
    /// key or a zero expiry.
    pub fn redis_check_adjust_amount_call(
        &mut self,
        key: &str,
        amount: i64,
        expire_secs: u64,
    ) -> Result<RedisCall> {
        check_expire(expire_secs)?;
        if key.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "redis barrier amount key is empty",
            ));
        }
        let bid = self.next_barrier_id();
        let barrier_key = |op: &str| format!("{}-{}-{op}-{bid}", self.gid, self.branch_id);
        let mut keys = vec![key.to_owned(), barrier_key(&self.op)];
        keys.extend(redis_origin_op(&self.op).map(barrier_key));
        Ok(RedisCall {
            op: self.op.clone(),
            keys,
            args: vec![amount.to_string(), self.op.clone(), expire_secs.to_string()],
        })
    }

    /// The msg check-back on Redis: key `<gid>-00-msg-01`, set to `rollback` when missing.
    /// `InvalidArgument` for a zero expiry.
    pub fn redis_query_prepared_call(&self, expire_secs: u64) -> Result<RedisQueryPrepared> {
        check_expire(expire_secs)?;
        Ok(RedisQueryPrepared {
            keys: vec![format!(
                "{}-{MSG_BRANCH_ID}-{MSG_OP}-{FIRST_BARRIER_ID}",
                self.gid
            )],
            args: vec![expire_secs.to_string()],
        })
    }
}

#[cfg(feature = "redis")]
fn redis_error(e: ::redis::RedisError) -> Error {
    Error::new(ErrorKind::Database, format!("redis barrier: {e}")).with_source(e)
}

#[cfg(feature = "redis")]
fn cached_script(text: &'static str) -> &'static ::redis::Script {
    use std::sync::OnceLock;
    static ADJUST: OnceLock<::redis::Script> = OnceLock::new();
    static QUERY: OnceLock<::redis::Script> = OnceLock::new();
    let cell = if text == CHECK_ADJUST_AMOUNT_SCRIPT {
        &ADJUST
    } else {
        &QUERY
    };
    cell.get_or_init(|| ::redis::Script::new(text))
}

#[cfg(feature = "redis")]
async fn eval<C>(
    conn: &mut C,
    text: &'static str,
    keys: &[String],
    args: &[String],
) -> Result<Option<String>>
where
    C: ::redis::aio::ConnectionLike + Send,
{
    let mut invocation = cached_script(text).prepare_invoke();
    for key in keys {
        invocation.key(key);
    }
    for arg in args {
        invocation.arg(arg);
    }
    invocation.invoke_async(conn).await.map_err(redis_error)
}

/// Runs [`Barrier::redis_check_adjust_amount_call`] on a redis connection (`EVALSHA`, falling
/// back to `EVAL`). `Failure` when the amount is missing or would go below zero,
/// `Duplicated` for a msg barrier that exists, `Database` for Redis errors.
#[cfg(feature = "redis")]
pub async fn check_adjust_amount<C>(
    conn: &mut C,
    barrier: &mut Barrier,
    key: &str,
    amount: i64,
    expire_secs: u64,
) -> Result<RedisDecision>
where
    C: ::redis::aio::ConnectionLike + Send,
{
    let call = barrier.redis_check_adjust_amount_call(key, amount, expire_secs)?;
    let reply = eval(conn, call.script(), call.keys(), call.args()).await?;
    call.decide(reply.as_deref())
}

/// Runs [`Barrier::redis_query_prepared_call`] on a redis connection: `Success` when the msg's
/// local transaction committed, `Failure` when it did not (and now never will).
#[cfg(feature = "redis")]
pub async fn query_prepared<C>(
    conn: &mut C,
    barrier: &Barrier,
    expire_secs: u64,
) -> Result<DtmResult>
where
    C: ::redis::aio::ConnectionLike + Send,
{
    let query = barrier.redis_query_prepared_call(expire_secs)?;
    let reply = eval(conn, query.script(), query.keys(), query.args()).await?;
    query.decide(reply.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_args() {
        let mut b = Barrier::new("tcc", "g", "01", "cancel").expect("valid");
        let call = b
            .redis_check_adjust_amount_call("acct", 30, 86400)
            .expect("valid");
        assert_eq!(call.keys(), ["acct", "g-01-cancel-01", "g-01-try-01"]);
        assert_eq!(call.args(), ["30", "cancel", "86400"]);
        let call = b
            .redis_check_adjust_amount_call("acct", -5, 10)
            .expect("valid");
        assert_eq!(call.keys()[1], "g-01-cancel-02");
        assert!(b.redis_check_adjust_amount_call("acct", 1, 0).is_err());
        assert!(b.redis_check_adjust_amount_call("", 1, 1).is_err());
        assert_eq!(b.calls(), 2);
        let q = b.redis_query_prepared_call(60).expect("valid");
        assert_eq!(q.keys(), ["g-00-msg-01"]);
    }

    #[test]
    fn replies() {
        let mut b = Barrier::new("saga", "g", "01", "action").expect("valid");
        let call = b
            .redis_check_adjust_amount_call("acct", 30, 60)
            .expect("valid");
        assert_eq!(call.decide(None).expect("ok"), RedisDecision::Applied);
        assert_eq!(
            call.decide(Some("SUSPENDED")).expect("ok"),
            RedisDecision::Suspended
        );
        let err = call.decide(Some("FAILURE")).expect_err("failure");
        assert_eq!(err.kind(), ErrorKind::Failure);
        let err = call.decide(Some("what")).expect_err("unknown");
        assert_eq!(err.kind(), ErrorKind::Internal);
        let mut m = Barrier::new("msg", "g", "00", "msg").expect("valid");
        let call = m
            .redis_check_adjust_amount_call("acct", 1, 60)
            .expect("valid");
        let err = call.decide(Some("DUPLICATE")).expect_err("dup");
        assert_eq!(err.kind(), ErrorKind::Duplicated);
    }
}
