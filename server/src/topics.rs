//! Topics (PROTOCOL.md §4.7): named lists of subscriber URLs kept in the KV table under
//! category `topics`, and the expansion of a `topic://name` msg step into one branch per
//! subscriber. Subscribers are read from the store at expansion time, so a topic
//! subscribed a moment ago (on any server sharing the store) is usable at once.

use crate::error::DtmError;
use crate::service::Service;
use crate::store::{KvRow, StoreError};
use serde::{Deserialize, Serialize};

/// KV category of topics.
pub const TOPICS: &str = "topics";

/// Prefix of a msg step URL that names a topic.
pub const TOPIC_PREFIX: &str = "topic://";

/// One subscriber of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    pub url: String,
    #[serde(default)]
    pub remark: String,
}

fn err(text: &str) -> DtmError {
    DtmError::Server(text.to_string())
}

fn parse_subscribers(row: &KvRow) -> Result<Vec<Subscriber>, DtmError> {
    if row.v.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(&row.v)
        .map_err(|e| DtmError::Server(format!("topic {} holds invalid JSON: {e}", row.k)))
}

fn encode(subs: &[Subscriber]) -> String {
    serde_json::to_string(subs).unwrap_or_else(|_| "[]".into())
}

impl Service {
    async fn find_topic(&self, topic: &str) -> Result<Option<KvRow>, DtmError> {
        Ok(self
            .engine
            .store
            .kv_find(TOPICS, topic)
            .await?
            .into_iter()
            .next())
    }

    /// `subscribe`: adds `url` to `topic`, creating the topic if needed.
    pub async fn subscribe(&self, topic: &str, url: &str, remark: &str) -> Result<(), DtmError> {
        if topic.is_empty() {
            return Err(err("empty topic"));
        }
        if url.is_empty() {
            return Err(err("empty url"));
        }
        // A subscriber is called over HTTP when its URL is http(s), else over gRPC.
        self.check_host(url, true)?;
        let now = self.engine.now();
        let store = &self.engine.store;
        let sub = Subscriber {
            url: url.into(),
            remark: remark.into(),
        };
        match self.find_topic(topic).await? {
            None => match store.kv_create(TOPICS, topic, &encode(&[sub]), now).await {
                Err(StoreError::UniqueConflict) => {
                    Err(err("the topic was created concurrently, subscribe again"))
                }
                other => Ok(other?),
            },
            Some(row) => {
                let mut subs = parse_subscribers(&row)?;
                if subs.iter().any(|s| s.url == url) {
                    return Err(err("this url exists"));
                }
                subs.push(sub);
                Ok(store
                    .kv_update(TOPICS, topic, &encode(&subs), row.version, now)
                    .await?)
            }
        }
    }

    /// `unsubscribe`: removes `url` from `topic` (an emptied topic stays, with no subscriber).
    pub async fn unsubscribe(&self, topic: &str, url: &str) -> Result<(), DtmError> {
        if topic.is_empty() {
            return Err(err("empty topic"));
        }
        if url.is_empty() {
            return Err(err("empty url"));
        }
        let row = self
            .find_topic(topic)
            .await?
            .ok_or_else(|| err("no such a topic"))?;
        let mut subs = parse_subscribers(&row)?;
        if subs.is_empty() {
            return Err(err("this topic is empty"));
        }
        let before = subs.len();
        subs.retain(|s| s.url != url);
        if subs.len() == before {
            return Err(err("no such an url "));
        }
        let now = self.engine.now();
        Ok(self
            .engine
            .store
            .kv_update(TOPICS, topic, &encode(&subs), row.version, now)
            .await?)
    }

    /// `DELETE topic/:name`.
    pub async fn delete_topic(&self, topic: &str) -> Result<(), DtmError> {
        Ok(self.engine.store.kv_delete(TOPICS, topic).await?)
    }

    /// `queryKV`: rows of `cat` (with key `key` when non-empty).
    pub async fn query_kv(&self, cat: &str, key: &str) -> Result<Vec<KvRow>, DtmError> {
        Ok(self.engine.store.kv_find(cat, key).await?)
    }

    /// `scanKV`: a page of rows of `cat`.
    pub async fn scan_kv(
        &self,
        cat: &str,
        position: &str,
        limit: i64,
    ) -> Result<(Vec<KvRow>, String), DtmError> {
        Ok(self.engine.store.kv_scan(cat, position, limit).await?)
    }

    /// Subscriber URLs of `topic`; `topic not found` when it has none.
    pub async fn topic_urls(&self, topic: &str) -> Result<Vec<String>, DtmError> {
        let subs = match self.find_topic(topic).await? {
            Some(row) => parse_subscribers(&row)?,
            None => Vec::new(),
        };
        if subs.is_empty() {
            return Err(DtmError::Server(format!("topic not found: {topic}")));
        }
        Ok(subs.into_iter().map(|s| s.url).collect())
    }
}
