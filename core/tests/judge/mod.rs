//! The scenario judge (tests/vectors/scenarios/judge.py) as a child process, for the Rust
//! replays of the scenario vectors (core's barrier scenarios, bindings' TM scenarios).

use dtmx::transport::{HttpRequest, ReqwestTransport, Transport};
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
