//! Group commit for the Redis store.
//!
//! Writes are routed by gid (or KV key) to a few writer tasks (shards), so the writes of
//! one transaction keep their submission order while different transactions proceed in
//! parallel. Each shard drains every queued write into one pipeline of `EVALSHA` calls,
//! sends it in one round trip and answers each write with its own script's reply once
//! Redis has answered the whole pipeline. Each script is atomic on its own; a pipeline
//! is not a transaction, so one refused write does not affect its neighbours. Reads of
//! one transaction go through its shard too, so they see every write queued before them,
//! lazy ones included.

use super::scripts::Scripts;
use super::{db_err, outcome};
use crate::store::{StoreError, StoreResult};
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, Pipeline, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Largest number of writes sent in one pipeline.
const MAX_BATCH: usize = 512;

/// One request: the calls to run in order, answered together.
struct Job {
    calls: Vec<Cmd>,
    reply: oneshot::Sender<StoreResult<Value>>,
}

/// The writer shards of one store.
pub struct Writer {
    shards: Vec<mpsc::UnboundedSender<Job>>,
}

fn stopped() -> StoreError {
    StoreError::Db("the store writer stopped".into())
}

impl Writer {
    /// Starts `shards` writer tasks sending on `conn`.
    pub fn start(conn: ConnectionManager, scripts: Arc<Scripts>, shards: usize) -> Writer {
        let shards = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run_shard(conn.clone(), scripts.clone(), rx));
                tx
            })
            .collect();
        Writer { shards }
    }

    /// Queues the calls (scripts, or a read) of one request on the shard of `key`; the
    /// receiver resolves with the first refusal or error among their replies, or else the
    /// last reply.
    pub fn submit(&self, key: &str, calls: Vec<Cmd>) -> oneshot::Receiver<StoreResult<Value>> {
        let (reply, rx) = oneshot::channel();
        let shard = crate::store::shard_index(key, self.shards.len());
        if let Err(mpsc::error::SendError(job)) = self.shards[shard].send(Job { calls, reply }) {
            let _ = job.reply.send(Err(stopped()));
        }
        rx
    }

    /// Queues a write and waits for Redis to acknowledge it.
    pub async fn write(&self, key: &str, calls: Vec<Cmd>) -> StoreResult<Value> {
        self.submit(key, calls).await.map_err(|_| stopped())?
    }

    /// Queues a write nobody waits for; a failure is logged.
    pub fn write_lazy(&self, what: &'static str, key: &str, calls: Vec<Cmd>) {
        let rx = self.submit(key, calls);
        tokio::spawn(async move {
            if let Ok(Err(e)) = rx.await {
                tracing::warn!("lazy write {what} failed: {e}");
            }
        });
    }

    /// Resolves once every write queued so far, on every shard, is acknowledged.
    pub async fn flush(&self) -> StoreResult<()> {
        let acks: Vec<_> = self
            .shards
            .iter()
            .map(|shard| {
                let (reply, rx) = oneshot::channel();
                let _ = shard.send(Job {
                    calls: Vec::new(),
                    reply,
                });
                rx
            })
            .collect();
        for ack in acks {
            ack.await.map_err(|_| stopped())??;
        }
        Ok(())
    }
}

async fn run_shard(
    mut conn: ConnectionManager,
    scripts: Arc<Scripts>,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    let mut batch: Vec<Job> = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        let mut counts = Vec::with_capacity(batch.len());
        for job in &mut batch {
            counts.push(job.calls.len());
            for call in job.calls.drain(..) {
                pipe.add_command(call);
            }
        }
        match send(&mut conn, &scripts, &pipe).await {
            Ok(replies) => {
                let mut replies = replies.into_iter();
                for (job, count) in batch.drain(..).zip(counts) {
                    let mut result = Ok(Value::Nil);
                    for reply in replies.by_ref().take(count) {
                        if result.is_ok() {
                            result = outcome(reply);
                        }
                    }
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Sends `pipe` in one round trip; calls refused with NOSCRIPT (Redis restarted or its
/// script cache was flushed) are sent again after loading the scripts. (A read in the same
/// pipeline as such a call may then miss its write.)
async fn send(
    conn: &mut ConnectionManager,
    scripts: &Scripts,
    pipe: &Pipeline,
) -> StoreResult<Vec<Value>> {
    let mut replies = round_trip(conn, pipe).await?;
    let missing: Vec<usize> = (0..replies.len())
        .filter(|i| matches!(&replies[*i], Value::ServerError(e) if e.code() == "NOSCRIPT"))
        .collect();
    if !missing.is_empty() {
        super::load_scripts(conn, scripts).await?;
        let mut again = redis::pipe();
        for (i, call) in pipe.cmd_iter().enumerate() {
            if missing.contains(&i) {
                again.add_command(call.clone());
            }
        }
        for (i, reply) in missing.into_iter().zip(round_trip(conn, &again).await?) {
            replies[i] = reply;
        }
    }
    Ok(replies)
}

async fn round_trip(conn: &mut ConnectionManager, pipe: &Pipeline) -> StoreResult<Vec<Value>> {
    if pipe.is_empty() {
        return Ok(Vec::new());
    }
    let replies = conn
        .req_packed_commands(pipe, 0, pipe.len())
        .await
        .map_err(db_err)?;
    if replies.len() != pipe.len() {
        return Err(StoreError::Db(format!(
            "Redis answered {} of {} pipelined calls",
            replies.len(),
            pipe.len()
        )));
    }
    Ok(replies)
}
