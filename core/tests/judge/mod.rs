//! The scenario judge (tests/vectors/scenarios/judge.py) as a child process, for the Rust
//! replays of the scenario vectors (core's barrier scenarios, bindings' TM scenarios).

use dtmx::transport::{HttpRequest, ReqwestTransport, Transport};
use dtmx::Error;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The folder of the scenario vectors.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/scenarios")
}

/// Every scenario of every file, in file and then list order.
pub fn scenarios() -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("scenarios folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            let doc: Value = serde_json::from_slice(&std::fs::read(f).expect("read scenarios"))
                .expect("scenario JSON");
            doc["scenarios"].as_array().cloned().unwrap_or_default()
        })
        .collect()
}

/// The judge, stopped (its standard input closed) when dropped.
pub struct Judge {
    child: Child,
    url: String,
}

impl Judge {
    /// Starts judge.py and reads its address.
    pub fn start() -> Judge {
        let mut child = Command::new("python3")
            .arg(scenarios_dir().join("judge.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start judge.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("judge's first line");
        let v: Value = serde_json::from_str(&line).expect("judge's address");
        let url = v["url"].as_str().expect("url").to_string();
        Judge { child, url }
    }

    /// Loads scenario `name`; the URLs to substitute.
    pub async fn load(&self, name: &str) -> Value {
        self.post("/__scenario", &json!({ "name": name })).await
    }

    /// The judge's verdict on `outcome`: `None` when right, else the problems.
    pub async fn verdict(&self, outcome: &Value) -> Option<String> {
        let v = self.post("/__outcome", outcome).await;
        (v["ok"] != true).then(|| v["problems"].to_string())
    }

    async fn post(&self, route: &str, body: &Value) -> Value {
        let req = HttpRequest::post_json(format!("{}{route}", self.url), body.to_string().into());
        let reply = ReqwestTransport::default().send(req).await.expect("judge");
        serde_json::from_slice(&reply.body).expect("judge's JSON")
    }
}

impl Drop for Judge {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A body's own error (the host's exception in other languages): told apart from dtmx's
/// errors by this source.
#[derive(Debug)]
pub struct HostError;

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the body's own error")
    }
}

impl std::error::Error for HostError {}

/// An error as the judge reads it: kind `host` for a body's own error, else the dtmx kind
/// with its class name (`invalid_argument` → `InvalidArgumentError`).
pub fn error_json(e: &Error) -> Value {
    let host = std::error::Error::source(e).is_some_and(|s| s.is::<HostError>());
    let (kind, class) = if host {
        ("host".to_string(), "HostError".to_string())
    } else {
        let k = e.kind().as_str();
        let class: String = k
            .split('_')
            .map(|w| w[..1].to_uppercase() + &w[1..])
            .collect();
        (k.to_string(), class + "Error")
    };
    json!({"kind": kind, "class": class, "message": e.message(), "notes": e.notes(),
           "status": e.status().map(|s| s.as_str())})
}
