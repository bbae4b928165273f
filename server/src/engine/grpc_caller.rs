//! gRPC branch calls (PROTOCOL.md §2.5): a URL `host:port/package.Service/Method` is
//! called as a generic unary call whose request is the stored payload, byte for byte, with
//! the branch identity as `dtm-*` metadata; the reply message is ignored and the status
//! code is the outcome (§1.6).

use bytes::{Buf, BufMut, Bytes};
use dtmx::{rm::outcome_from_grpc, Outcome};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::{Authority, PathAndQuery};
use tonic::metadata::{AsciiMetadataValue, BinaryMetadataValue, MetadataKey, MetadataMap};
use tonic::transport::{Channel, Endpoint};
use tonic::Status;

/// A codec that passes messages through as raw bytes (DTM's `dtm_raw`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

/// Encoder and decoder of [`RawCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RawBytes;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawBytes;
    type Decoder = RawBytes;

    fn encoder(&mut self) -> RawBytes {
        RawBytes
    }

    fn decoder(&mut self) -> RawBytes {
        RawBytes
    }
}

impl Encoder for RawBytes {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawBytes {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Splits a gRPC branch URL into its target (`host:port`) and method path
/// (`/package.Service/Method`), as DTM's default resolver driver does.
pub fn split_url(url: &str) -> Result<(&str, &str), String> {
    let bad =
        || format!("invalid grpc branch url {url:?}: expected host:port/package.Service/Method");
    if url.contains("://") {
        return Err(bad());
    }
    let slash = url.find('/').ok_or_else(bad)?;
    let (target, method) = url.split_at(slash);
    if Authority::try_from(target).is_err()
        || method.len() < 2
        || PathAndQuery::try_from(method).is_err()
    {
        return Err(bad());
    }
    Ok((target, method))
}

/// Makes gRPC branch calls over one cached HTTP/2 connection per target.
#[derive(Default)]
pub struct GrpcCaller {
    channels: Mutex<HashMap<String, Channel>>,
}

impl GrpcCaller {
    /// Calls `url` with `body` as the request message and `metadata` as request metadata,
    /// giving up after `timeout`. Returns the outcome and the gRPC status code, when the
    /// branch answered.
    pub async fn call(
        &self,
        url: &str,
        body: Bytes,
        metadata: &[(&str, &str)],
        timeout: Duration,
    ) -> (Outcome, Option<i64>) {
        match self.try_call(url, body, metadata, timeout).await {
            Ok(()) => (Outcome::Success, Some(0)),
            Err(CallError::Status(s)) => {
                let code = s.code() as i32;
                (outcome_from_grpc(code, s.message()), Some(code.into()))
            }
            Err(CallError::Local(text)) => {
                (Outcome::Unknown(format!("call {url} failed: {text}")), None)
            }
        }
    }

    async fn try_call(
        &self,
        url: &str,
        body: Bytes,
        metadata: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<(), CallError> {
        let (target, method) = split_url(url).map_err(CallError::Local)?;
        let path = PathAndQuery::try_from(method).map_err(|e| CallError::Local(e.to_string()))?;
        let channel = self.channel(target, timeout)?;
        let mut req = tonic::Request::new(body);
        req.set_timeout(timeout);
        fill_metadata(req.metadata_mut(), metadata).map_err(CallError::Local)?;
        let mut grpc = tonic::client::Grpc::new(channel);
        let call = async {
            grpc.ready()
                .await
                .map_err(|e| CallError::Local(format!("connect to {target}: {e}")))?;
            grpc.unary::<Bytes, Bytes, _>(req, path, RawCodec)
                .await
                .map_err(|s| CallError::Status(Box::new(s)))
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(reply) => reply.map(|_| ()),
            Err(_) => Err(CallError::Local(format!("no reply within {timeout:?}"))),
        }
    }

    /// The cached channel to `target`, created (lazily connecting) on first use.
    fn channel(&self, target: &str, timeout: Duration) -> Result<Channel, CallError> {
        let mut channels = self
            .channels
            .lock()
            .map_err(|_| CallError::Local("grpc channel cache poisoned".into()))?;
        if let Some(c) = channels.get(target) {
            return Ok(c.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{target}"))
            .map_err(|e| CallError::Local(format!("invalid grpc target {target:?}: {e}")))?
            .tcp_nodelay(true)
            .connect_timeout(timeout);
        let channel = endpoint.connect_lazy();
        channels.insert(target.to_string(), channel.clone());
        Ok(channel)
    }
}

enum CallError {
    /// The branch answered with this status (or the transport reported it).
    Status(Box<Status>),
    /// The call could not be made.
    Local(String),
}

/// Adds `pairs` as metadata; a later pair replaces an earlier one with the same key. Keys
/// are lower-cased; `-bin` keys carry their value as bytes.
fn fill_metadata(md: &mut MetadataMap, pairs: &[(&str, &str)]) -> Result<(), String> {
    for (k, v) in pairs {
        let key = k.to_ascii_lowercase();
        if key.ends_with("-bin") {
            let name = MetadataKey::from_bytes(key.as_bytes())
                .map_err(|e| format!("invalid metadata key {k:?}: {e}"))?;
            md.insert_bin(name, BinaryMetadataValue::from_bytes(v.as_bytes()));
        } else {
            let name = MetadataKey::from_bytes(key.as_bytes())
                .map_err(|e| format!("invalid metadata key {k:?}: {e}"))?;
            let value = AsciiMetadataValue::try_from(*v)
                .map_err(|e| format!("invalid value of metadata {k}: {e}"))?;
            md.insert(name, value);
        }
    }
    Ok(())
}

/// The protobuf encoding of `workflow.WorkflowData { Data = 1 }` holding `data`: the body
/// of a gRPC workflow resume call.
pub fn workflow_data(data: &[u8]) -> Bytes {
    let mut buf = Vec::with_capacity(data.len() + 8);
    if !data.is_empty() {
        prost::encoding::bytes::encode(1, &data.to_vec(), &mut buf);
    }
    Bytes::from(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        assert_eq!(
            split_url("localhost:58081/busi.Busi/TransOut"),
            Ok(("localhost:58081", "/busi.Busi/TransOut"))
        );
        assert!(split_url("localhost:58081").is_err());
        assert!(split_url("http://h/busi.Busi/X").is_err());
        assert!(split_url("/busi.Busi/X").is_err());
        assert!(split_url("h:1/").is_err());
        assert!(split_url("a b:1/x.Y/Z").is_err());
    }

    #[test]
    fn metadata_rules() {
        let mut md = MetadataMap::new();
        fill_metadata(
            &mut md,
            &[("Dtm-Gid", "g1"), ("dtm-gid", "g2"), ("x-bin", "\u{1}")],
        )
        .expect("valid metadata");
        assert_eq!(md.get("dtm-gid").and_then(|v| v.to_str().ok()), Some("g2"));
        assert!(md.get_bin("x-bin").is_some());
        assert!(fill_metadata(&mut md, &[("bad key", "v")]).is_err());
        assert!(fill_metadata(&mut md, &[("k", "line\nbreak")]).is_err());
    }

    #[test]
    fn encodes_workflow_data() {
        assert_eq!(&workflow_data(b"ab")[..], &[0x0a, 2, b'a', b'b']);
        assert!(workflow_data(b"").is_empty());
    }
}
