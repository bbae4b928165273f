//! The `dtmx` command-line client: list, show, force-stop and retry transactions, and
//! manage topics, on any DTM-compatible server through its HTTP API (`/api/dtmsvr`).
//!
//! `dtmx [--server URL] [--json] COMMAND ...`; the server defaults to `$DTMX_SERVER`, then
//! `http://localhost:36789/api/dtmsvr`, and a server with authentication on gets the
//! bearer token of `$DTMX_TOKEN` (or `--token`). Exit codes: 0 done, 1 the server refused or could
//! not be reached, 2 bad usage.

mod api;
mod render;

use api::Api;
use serde_json::Value;
use std::process::ExitCode;

/// The commands, as `dtmx -h` lists them.
pub const USAGE: &str = "usage: dtmx [--server URL] [--json] COMMAND ...
  list [--status S] [--type T] [--limit N] [--position P]
                            transactions, newest first (next page: --position)
  show GID                  a transaction, its branches and its timeline
  force-stop GID            stop an unfinished transaction (it becomes failed)
  retry GID                 process a transaction now instead of at its next retry
  topics                    topics and their subscribers
  subscribe TOPIC URL [REMARK]
  unsubscribe TOPIC URL
  delete-topic TOPIC
  --server URL              the server's API (default $DTMX_SERVER, else
                            http://localhost:36789/api/dtmsvr)
  --json                    print the server's JSON instead of tables
  --token TOKEN             bearer token for a server with Auth.* on (default
                            $DTMX_TOKEN; prefer the variable: arguments show in ps)";

/// The words that start a client command (anything else is a server flag).
pub const COMMANDS: &[&str] = &[
    "list",
    "show",
    "force-stop",
    "retry",
    "topics",
    "subscribe",
    "unsubscribe",
    "delete-topic",
    "--server",
    "--json",
    "--token",
];

/// What the user asked for.
#[derive(Debug, PartialEq, Eq)]
struct Invocation {
    server: String,
    json: bool,
    token: Option<String>,
    command: String,
    args: Vec<String>,
    options: Vec<(String, String)>,
}

/// Runs the client with the arguments after the program name.
pub fn run(args: Vec<String>) -> ExitCode {
    let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let inv = match parse(args, env("DTMX_SERVER"), env("DTMX_TOKEN")) {
        Ok(inv) => inv,
        Err(e) => {
            eprintln!("dtmx: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dtmx: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(&inv)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dtmx: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(
    args: Vec<String>,
    env_server: Option<String>,
    env_token: Option<String>,
) -> Result<Invocation, String> {
    let mut inv = Invocation {
        server: env_server
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "http://localhost:36789/api/dtmsvr".into()),
        json: false,
        token: env_token,
        command: String::new(),
        args: Vec::new(),
        options: Vec::new(),
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--server" => inv.server = it.next().ok_or("--server needs a URL")?,
            "--json" => inv.json = true,
            "--token" => inv.token = Some(it.next().ok_or("--token needs a value")?),
            opt if opt.starts_with("--") => {
                let value = it.next().ok_or(format!("{opt} needs a value"))?;
                inv.options
                    .push((opt.trim_start_matches("--").to_string(), value));
            }
            _ if inv.command.is_empty() => inv.command = a,
            _ => inv.args.push(a),
        }
    }
    inv.server = inv.server.trim_end_matches('/').to_string();
    if !(inv.server.starts_with("http://") || inv.server.starts_with("https://")) {
        return Err(format!(
            "--server must be an http(s) URL, got {:?}",
            inv.server
        ));
    }
    let (min, max, options): (usize, usize, &[&str]) = match inv.command.as_str() {
        "list" => (0, 0, &["status", "type", "limit", "position"]),
        "show" | "force-stop" | "retry" | "delete-topic" => (1, 1, &[]),
        "topics" => (0, 0, &[]),
        "subscribe" => (2, 3, &[]),
        "unsubscribe" => (2, 2, &[]),
        "" => return Err("no command given".into()),
        other => return Err(format!("unknown command {other:?}")),
    };
    if inv.args.len() < min || inv.args.len() > max {
        return Err(format!("{} takes {min} to {max} arguments", inv.command));
    }
    if let Some((k, _)) = inv
        .options
        .iter()
        .find(|(k, _)| !options.contains(&k.as_str()))
    {
        return Err(format!("{} has no option --{k}", inv.command));
    }
    Ok(inv)
}

async fn execute(inv: &Invocation) -> Result<String, String> {
    let api = Api::new(&inv.server, inv.token.clone())?;
    let arg = |i: usize| inv.args.get(i).map(String::as_str).unwrap_or_default();
    let value = match inv.command.as_str() {
        "list" => {
            let mut query: Vec<(&str, &str)> = vec![("limit", "20")];
            for (k, v) in &inv.options {
                let key = if k == "type" { "transType" } else { k.as_str() };
                query.retain(|(q, _)| *q != key);
                query.push((key, v));
            }
            api.get("all", &query).await?
        }
        "show" => {
            let v = api.get("query", &[("gid", arg(0))]).await?;
            if v.get("transaction").map_or(true, Value::is_null) {
                return Err(format!("no transaction {:?}", arg(0)));
            }
            v
        }
        "force-stop" => api.post("forceStop", arg(0)).await?,
        "retry" => api.post("resetNextCronTime", arg(0)).await?,
        "topics" => api.get("queryKV", &[("cat", "topics")]).await?,
        "subscribe" => {
            let q = [("topic", arg(0)), ("url", arg(1)), ("remark", arg(2))];
            api.get("subscribe", &q).await?
        }
        "unsubscribe" => {
            api.get("unsubscribe", &[("topic", arg(0)), ("url", arg(1))])
                .await?
        }
        "delete-topic" => {
            api.delete(&format!("topic/{}", api::escape(arg(0))))
                .await?
        }
        _ => return Err(format!("unknown command {:?}", inv.command)),
    };
    if inv.json {
        return Ok(format!("{value}\n"));
    }
    Ok(match inv.command.as_str() {
        "list" => render::list(&value),
        "show" => render::show(&value),
        "topics" => render::topics(&value),
        _ => format!("{}: done\n", inv.command),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_commands_and_options() {
        let inv = parse(args("--json list --status failed --limit 5"), None, None).expect("list");
        assert!(inv.json);
        assert_eq!(inv.server, "http://localhost:36789/api/dtmsvr");
        assert_eq!(inv.options.len(), 2);
        let inv = parse(
            args("show g1"),
            Some("http://dtm:1/api/dtmsvr/".into()),
            Some("t".into()),
        )
        .expect("show");
        assert_eq!(inv.server, "http://dtm:1/api/dtmsvr");
        assert_eq!(inv.args, ["g1"]);
        assert_eq!(inv.token.as_deref(), Some("t"), "$DTMX_TOKEN");
        let inv = parse(args("--token x topics"), None, Some("t".into())).expect("topics");
        assert_eq!(
            inv.token.as_deref(),
            Some("x"),
            "--token wins over $DTMX_TOKEN"
        );
        for bad in [
            "",
            "show",
            "show a b",
            "list --bogus 1",
            "frobnicate",
            "list --limit",
            "--server ftp://x list",
            "subscribe t",
            "topics --token",
        ] {
            assert!(parse(args(bad), None, None).is_err(), "{bad}");
        }
    }
}
