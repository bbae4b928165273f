//! Group commit for the SQL stores.
//!
//! Writes are routed by gid to a few writer tasks (shards), so writes of one transaction
//! stay in submission order while different transactions commit in parallel on their own
//! connections. Each shard drains every queued write into one database transaction and
//! answers them all after one commit. On PostgreSQL a batch with no durable write commits
//! with `synchronous_commit = off`: it becomes durable with the next durable commit, as
//! DESIGN.md §2 allows for branch results and cron bookkeeping.
//!
//! If a batch fails, its writes are retried one by one, so one bad write (or a unique-key
//! race with another server) does not fail its neighbours.

use super::dialect::{Dialect, Statements};
use super::ops::{save_many, Applied, NewTrans, Op};
use super::rows::db_err;
use crate::store::{StoreError, StoreResult};
use sqlx::AnyPool;
use sqlx::{Acquire, Executor};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Largest number of writes committed together.
const MAX_BATCH: usize = 512;

struct Job {
    op: Op,
    durable: bool,
    reply: oneshot::Sender<StoreResult<i64>>,
}

/// The writer shards of one store.
pub struct Writer {
    shards: Vec<mpsc::UnboundedSender<Job>>,
}

impl Writer {
    /// Starts `shards` writer tasks on `pool`.
    pub fn start(pool: AnyPool, st: Arc<Statements>, shards: usize) -> Writer {
        let shards = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run_shard(pool.clone(), st.clone(), rx));
                tx
            })
            .collect();
        Writer { shards }
    }

    /// Queues a write; the receiver resolves after its batch commits.
    pub fn submit(&self, op: Op, durable: bool) -> oneshot::Receiver<StoreResult<i64>> {
        let (reply, rx) = oneshot::channel();
        let shard = crate::store::shard_index(op.shard_key(), self.shards.len());
        let job = Job { op, durable, reply };
        if let Err(mpsc::error::SendError(job)) = self.shards[shard].send(job) {
            let _ = job
                .reply
                .send(Err(StoreError::Db("the store writer stopped".into())));
        }
        rx
    }

    /// Queues a write and waits for its commit.
    pub async fn write(&self, op: Op, durable: bool) -> StoreResult<i64> {
        self.submit(op, durable)
            .await
            .map_err(|_| StoreError::Db("the store writer stopped".into()))?
    }

    /// Queues a write nobody waits for; a failure is logged.
    pub fn write_lazy(&self, what: &'static str, op: Op) {
        let rx = self.submit(op, false);
        tokio::spawn(async move {
            if let Ok(Err(e)) = rx.await {
                tracing::warn!("lazy write {what} failed: {e}");
            }
        });
    }

    /// Waits until every write queued so far, on every shard, is committed (and durable,
    /// if `durable`).
    pub async fn flush(&self, durable: bool) -> StoreResult<()> {
        let acks: Vec<_> = self
            .shards
            .iter()
            .map(|shard| {
                let (reply, rx) = oneshot::channel();
                let job = Job {
                    op: Op::Flush,
                    durable,
                    reply,
                };
                let _ = shard.send(job);
                rx
            })
            .collect();
        for ack in acks {
            ack.await
                .map_err(|_| StoreError::Db("the store writer stopped".into()))??;
        }
        Ok(())
    }
}

async fn run_shard(pool: AnyPool, st: Arc<Statements>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut batch: Vec<Job> = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let ops: Vec<&Op> = batch.iter().map(|j| &j.op).collect();
        let durable = batch.iter().any(|j| j.durable);
        let alone = batch.len() == 1;
        match commit(&pool, &st, &ops, durable, alone).await {
            Ok(results) => {
                for (job, result) in batch.drain(..).zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) if alone => {
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
            Err(e) => {
                tracing::debug!("batch of {} failed ({e}); retrying one by one", batch.len());
                for job in batch.drain(..) {
                    let result = commit(&pool, &st, &[&job.op], job.durable, true)
                        .await
                        .and_then(|mut r| r.pop().unwrap_or(Ok(0)));
                    let _ = job.reply.send(result);
                }
            }
        }
    }
}

/// Runs `ops` in one database transaction and commits it.
async fn commit(
    pool: &AnyPool,
    st: &Statements,
    ops: &[&Op],
    durable: bool,
    alone: bool,
) -> StoreResult<Vec<StoreResult<i64>>> {
    let mut conn = pool.acquire().await.map_err(db_err)?;
    let mut tx = conn.begin().await.map_err(db_err)?;
    if !durable && st.dialect == Dialect::Postgres {
        tx.execute("SET LOCAL synchronous_commit = off")
            .await
            .map_err(db_err)?;
    }
    // New transactions first, all in one statement: nothing else in a batch can refer to
    // a gid that does not exist yet.
    let news: Vec<NewTrans> = ops
        .iter()
        .filter_map(|op| match op {
            Op::SaveNew {
                trans,
                options,
                branches,
            } => Some((&**trans, options.as_str(), branches.as_slice())),
            _ => None,
        })
        .collect();
    let mut saved = if news.len() > 1 {
        save_many(&mut tx, st, &news).await.map_err(db_err)?
    } else {
        Vec::new()
    }
    .into_iter();
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let applied: Applied = match (op, news.len() > 1) {
            (Op::SaveNew { .. }, true) => Ok(saved.next().unwrap_or(Err(StoreError::NotFound))),
            _ => op.apply(&mut tx, st, alone).await,
        };
        results.push(applied.map_err(db_err)?);
    }
    tx.commit().await.map_err(db_err)?;
    Ok(results)
}
