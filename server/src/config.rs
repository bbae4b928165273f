//! Configuration: DTM's YAML keys and environment names (PROTOCOL.md §8).
//!
//! Defaults come first, then environment variables, then the YAML file given with `-c`
//! overlays the keys it contains. Every key is parsed by one setter, whichever source it
//! comes from, so a bad value gets the same clear error from either.

use crate::auth::{Scope, Tokens};
use crate::engine::allowlist::Allowlist;
use std::path::Path;

/// Which store holds the transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreDriver {
    /// The embedded SQLite database (DTM's `boltdb` maps here).
    Sqlite,
    /// PostgreSQL, on DTM's schema.
    Postgres,
    /// MySQL or MariaDB, on DTM's schema.
    Mysql,
    /// Redis, on DTM's key layout.
    Redis,
    /// A store this build knows by name but does not implement yet.
    Unsupported(String),
}

/// How log lines are written (`Log.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Store settings (`Store.*`).
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub driver: StoreDriver,
    pub host: String,
    pub port: i64,
    pub user: String,
    pub password: String,
    pub db: String,
    pub schema: String,
    pub max_open_conns: i64,
    pub max_idle_conns: i64,
    pub conn_max_life_time: i64,
    pub data_expire: i64,
    pub finished_data_expire: i64,
    pub redis_prefix: String,
    /// File of the embedded store (dtmx extension: `Store.Path`, `STORE_PATH`).
    pub path: String,
}

/// The whole server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreConfig,
    /// Seconds the cron sleeps when nothing is due.
    pub trans_cron_interval: i64,
    /// Seconds after their creation at which finished transactions are deleted (dtmx
    /// extension: `FinishedRetention`); 0 keeps them forever.
    pub finished_retention: i64,
    /// Transactions retention examines per store query (`RetentionBatch`).
    pub retention_batch: i64,
    /// Default timeout of xa, tcc and msg transactions, in seconds.
    pub timeout_to_fail: i64,
    /// Base retry interval and cron lease, in seconds.
    pub retry_interval: i64,
    /// Default branch call timeout, in seconds.
    pub request_timeout: i64,
    pub http_port: u16,
    pub grpc_port: u16,
    pub json_rpc_port: u16,
    pub update_branch_sync: i64,
    pub update_branch_async_goroutine_num: i64,
    pub log_level: String,
    /// Comma list of `stderr`, `stdout` or file paths (`Log.Outputs`).
    pub log_outputs: String,
    /// `text` (the default) or `json`, one object per line (dtmx extension: `Log.Format`).
    pub log_format: LogFormat,
    /// Base URL of an OTLP/HTTP collector; spans go to `{it}/v1/traces`. Empty: no spans
    /// (dtmx extension: `Tracing.OtlpEndpoint`).
    pub otlp_endpoint: String,
    /// The `service.name` of exported spans (dtmx extension: `Tracing.ServiceName`).
    pub service_name: String,
    /// gRPC resolver driver (`MicroService.Driver`); only `default` is built in.
    pub micro_service_driver: String,
    pub micro_service_target: String,
    pub micro_service_end_point: String,
    /// Default gRPC client service config (`GrpcServiceConfig`), JSON.
    pub grpc_service_config: String,
    pub time_zone_offset: String,
    pub config_update_interval: i64,
    pub alert_retry_limit: i64,
    pub alert_web_hook: String,
    pub admin_base_path: String,
    /// Largest accepted request body, in bytes (dtmx extension: `HttpMaxBodyBytes`).
    pub http_max_body_bytes: usize,
    /// Address the HTTP server binds (dtmx extension: `HttpHost`, default all interfaces).
    pub http_host: String,
    /// Origins allowed to call the HTTP API from a browser (dtmx extension:
    /// `HttpCors.AllowedOrigins`); empty: CORS off, `*`: any origin.
    pub http_cors_allowed_origins: Vec<String>,
    /// Largest accepted gRPC request message, in bytes (dtmx extension:
    /// `GrpcMaxMessageBytes`); 0: the same as `HttpMaxBodyBytes`.
    pub grpc_max_message_bytes: usize,
    /// Most header fields of one HTTP request (dtmx extension: `HttpMaxHeaders`).
    pub http_max_headers: usize,
    /// Most bytes of all header names and values of one HTTP request, and of the metadata
    /// of one gRPC request (dtmx extension: `HttpMaxHeaderBytes`).
    pub http_max_header_bytes: usize,
    /// Most steps of a saga or msg, and most branches registered to one transaction
    /// (dtmx extension: `MaxBranches`).
    pub max_branches: usize,
    /// Largest payload of one step or branch, in bytes (dtmx extension: `MaxPayloadBytes`).
    pub max_payload_bytes: usize,
    /// Most `branch_headers` of one transaction (dtmx extension: `MaxBranchHeaders`).
    pub max_branch_headers: usize,
    /// Most bytes of all `branch_headers` names and values of one transaction (dtmx
    /// extension: `MaxBranchHeaderBytes`).
    pub max_branch_header_bytes: usize,
    /// Threads running requests and branch calls (dtmx extension: `WorkerThreads`); 0:
    /// one per CPU (see [`Config::runtime_workers`]).
    pub worker_threads: usize,
    /// Hosts that branch URLs may target (dtmx extension: `BranchHostAllowlist`); empty:
    /// any host.
    pub branch_host_allowlist: Allowlist,
    /// Bearer tokens and their scopes (dtmx extension: `Auth.SubmitTokens`,
    /// `Auth.AdminTokens`, `Auth.MetricsTokens`); none: authentication off.
    pub auth: Tokens,
    /// Enables the time-travel endpoints used by the conformance tests (`DTMX_TEST_HOOKS`).
    pub test_hooks: bool,
}

/// Most header fields hyper's HTTP/1 parser reads; a request with more gets 431 from it.
pub const HTTP_HEADER_COUNT_CAP: usize = 100;

/// Most header bytes hyper's HTTP/1 parser buffers (its default read buffer, 400 KiB);
/// a request head over it gets 431 from it.
pub const HTTP_HEADER_BYTES_CAP: usize = 8192 + 4096 * 100;

impl Config {
    /// The async worker threads to run: `WorkerThreads`, or by default one per CPU. On a
    /// small box shared with other busy processes fewer workers cost less CPU per saga, but
    /// bursts then wait longer (docs/PERFORMANCE.md).
    pub fn runtime_workers(&self) -> usize {
        if self.worker_threads > 0 {
            return self.worker_threads;
        }
        std::thread::available_parallelism().map_or(1, usize::from)
    }

    /// The effective gRPC message limit.
    pub fn grpc_message_limit(&self) -> usize {
        match self.grpc_max_message_bytes {
            0 => self.http_max_body_bytes,
            n => n,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            store: StoreConfig {
                driver: StoreDriver::Sqlite,
                host: String::new(),
                port: 0,
                user: String::new(),
                password: String::new(),
                db: "dtm".into(),
                schema: "public".into(),
                max_open_conns: 500,
                max_idle_conns: 500,
                conn_max_life_time: 5,
                data_expire: 604_800,
                finished_data_expire: 86_400,
                redis_prefix: "{a}".into(),
                path: "dtmx.db".into(),
            },
            trans_cron_interval: 3,
            finished_retention: 0,
            retention_batch: 500,
            timeout_to_fail: 35,
            retry_interval: 10,
            request_timeout: 3,
            http_port: 36789,
            grpc_port: 36790,
            json_rpc_port: 36791,
            update_branch_sync: 1,
            update_branch_async_goroutine_num: 1,
            log_level: "info".into(),
            log_outputs: "stderr".into(),
            log_format: LogFormat::Text,
            otlp_endpoint: String::new(),
            service_name: "dtmx".into(),
            micro_service_driver: "default".into(),
            micro_service_target: String::new(),
            micro_service_end_point: String::new(),
            grpc_service_config: r#"{"loadBalancingConfig": [{"round_robin":{}}]}"#.into(),
            time_zone_offset: String::new(),
            config_update_interval: 3,
            alert_retry_limit: 3,
            alert_web_hook: String::new(),
            admin_base_path: String::new(),
            http_max_body_bytes: 8 << 20,
            http_host: "0.0.0.0".into(),
            http_cors_allowed_origins: Vec::new(),
            grpc_max_message_bytes: 0,
            http_max_headers: HTTP_HEADER_COUNT_CAP,
            http_max_header_bytes: 64 << 10,
            max_branches: 1000,
            max_payload_bytes: 8 << 20,
            max_branch_headers: 100,
            max_branch_header_bytes: 64 << 10,
            worker_threads: 0,
            branch_host_allowlist: Allowlist::default(),
            auth: Tokens::default(),
            test_hooks: false,
        }
    }
}

/// A configuration error, naming the key and the bad value.
#[derive(Debug, thiserror::Error)]
#[error("config: {0}")]
pub struct ConfigError(String);

type Setter = fn(&mut Config, &str) -> Result<(), String>;

/// Every known key: YAML path, environment name, setter.
const KEYS: &[(&str, &str, Setter)] = &[
    ("Store.Driver", "STORE_DRIVER", |c, v| {
        c.store.driver = match v {
            "boltdb" | "sqlite" | "embedded" => StoreDriver::Sqlite,
            "postgres" => StoreDriver::Postgres,
            "mysql" => StoreDriver::Mysql,
            "redis" => StoreDriver::Redis,
            "sqlserver" => StoreDriver::Unsupported(v.into()),
            _ => return Err(format!("unknown store driver {v:?}")),
        };
        Ok(())
    }),
    ("Store.Host", "STORE_HOST", |c, v| {
        set_str(&mut c.store.host, v)
    }),
    ("Store.Port", "STORE_PORT", |c, v| {
        set_int(&mut c.store.port, v)
    }),
    ("Store.User", "STORE_USER", |c, v| {
        set_str(&mut c.store.user, v)
    }),
    ("Store.Password", "STORE_PASSWORD", |c, v| {
        set_str(&mut c.store.password, v)
    }),
    ("Store.Db", "STORE_DB", |c, v| set_str(&mut c.store.db, v)),
    ("Store.Schema", "STORE_SCHEMA", |c, v| {
        set_str(&mut c.store.schema, v)
    }),
    ("Store.MaxOpenConns", "STORE_MAX_OPEN_CONNS", |c, v| {
        set_int(&mut c.store.max_open_conns, v)
    }),
    ("Store.MaxIdleConns", "STORE_MAX_IDLE_CONNS", |c, v| {
        set_int(&mut c.store.max_idle_conns, v)
    }),
    (
        "Store.ConnMaxLifeTime",
        "STORE_CONN_MAX_LIFE_TIME",
        |c, v| set_int(&mut c.store.conn_max_life_time, v),
    ),
    ("Store.DataExpire", "STORE_DATA_EXPIRE", |c, v| {
        set_int(&mut c.store.data_expire, v)
    }),
    (
        "Store.FinishedDataExpire",
        "STORE_FINISHED_DATA_EXPIRE",
        |c, v| set_int(&mut c.store.finished_data_expire, v),
    ),
    ("Store.RedisPrefix", "STORE_REDIS_PREFIX", |c, v| {
        set_str(&mut c.store.redis_prefix, v)
    }),
    ("Store.Path", "STORE_PATH", |c, v| {
        set_str(&mut c.store.path, v)
    }),
    ("TransCronInterval", "TRANS_CRON_INTERVAL", |c, v| {
        set_int(&mut c.trans_cron_interval, v)
    }),
    ("FinishedRetention", "FINISHED_RETENTION", |c, v| {
        set_int(&mut c.finished_retention, v)
    }),
    ("RetentionBatch", "RETENTION_BATCH", |c, v| {
        set_int(&mut c.retention_batch, v)
    }),
    ("TimeoutToFail", "TIMEOUT_TO_FAIL", |c, v| {
        set_int(&mut c.timeout_to_fail, v)
    }),
    ("RetryInterval", "RETRY_INTERVAL", |c, v| {
        set_int(&mut c.retry_interval, v)
    }),
    ("RequestTimeout", "REQUEST_TIMEOUT", |c, v| {
        set_int(&mut c.request_timeout, v)
    }),
    ("HttpPort", "HTTP_PORT", |c, v| {
        set_port(&mut c.http_port, v)
    }),
    ("GrpcPort", "GRPC_PORT", |c, v| {
        set_port(&mut c.grpc_port, v)
    }),
    ("JsonRpcPort", "JSON_RPC_PORT", |c, v| {
        set_port(&mut c.json_rpc_port, v)
    }),
    ("UpdateBranchSync", "UPDATE_BRANCH_SYNC", |c, v| {
        set_int(&mut c.update_branch_sync, v)
    }),
    (
        "UpdateBranchAsyncGoroutineNum",
        "UPDATE_BRANCH_ASYNC_GOROUTINE_NUM",
        |c, v| set_int(&mut c.update_branch_async_goroutine_num, v),
    ),
    ("Log.Outputs", "LOG_OUTPUTS", |c, v| {
        set_str(&mut c.log_outputs, v)
    }),
    ("Log.Format", "LOG_FORMAT", |c, v| {
        c.log_format = match v.trim() {
            "" | "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(format!("unknown log format {other:?} (text, json)")),
        };
        Ok(())
    }),
    ("Tracing.OtlpEndpoint", "TRACING_OTLP_ENDPOINT", |c, v| {
        let v = v.trim();
        if !v.is_empty() {
            let url = url::Url::parse(v).map_err(|e| format!("{v:?} is not a URL: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(format!("{v:?} is not an http(s) URL"));
            }
        }
        set_str(&mut c.otlp_endpoint, v)
    }),
    ("Tracing.ServiceName", "TRACING_SERVICE_NAME", |c, v| {
        if v.trim().is_empty() {
            return Err("the service name must not be empty".into());
        }
        set_str(&mut c.service_name, v.trim())
    }),
    (
        "Log.RotationEnable",
        "LOG_ROTATION_ENABLE",
        |_, v| match v {
            "" | "0" | "false" => Ok(()),
            _ => Err("log rotation is not built in; rotate with logrotate (copytruncate)".into()),
        },
    ),
    (
        "Log.RotationConfigJSON",
        "LOG_ROTATION_CONFIG_JSON",
        |_, v| {
            serde_json::from_str::<serde_json::Value>(v)
                .map(|_| ())
                .map_err(|e| format!("invalid JSON: {e}"))
        },
    ),
    (
        "MicroService.Driver",
        "MICRO_SERVICE_DRIVER",
        |c, v| match v {
            "" | "default" => set_str(&mut c.micro_service_driver, "default"),
            other => Err(format!(
                "micro-service driver {other:?} is not available; use default"
            )),
        },
    ),
    ("MicroService.Target", "MICRO_SERVICE_TARGET", |c, v| {
        set_str(&mut c.micro_service_target, v)
    }),
    (
        "MicroService.EndPoint",
        "MICRO_SERVICE_END_POINT",
        |c, v| set_str(&mut c.micro_service_end_point, v),
    ),
    ("GrpcServiceConfig", "GRPC_SERVICE_CONFIG", |c, v| {
        serde_json::from_str::<serde_json::Value>(v).map_err(|e| format!("invalid JSON: {e}"))?;
        set_str(&mut c.grpc_service_config, v)
    }),
    ("LogLevel", "LOG_LEVEL", |c, v| {
        match v {
            "debug" | "info" | "warn" | "error" => c.log_level = v.into(),
            _ => {
                return Err(format!(
                    "unknown log level {v:?} (debug, info, warn, error)"
                ))
            }
        }
        Ok(())
    }),
    ("TimeZoneOffset", "TIME_ZONE_OFFSET", |c, v| {
        if !v.is_empty() {
            v.parse::<i32>()
                .ok()
                .filter(|h| (-12..=14).contains(h))
                .ok_or_else(|| format!("{v:?} is not an offset in hours"))?;
        }
        set_str(&mut c.time_zone_offset, v)
    }),
    ("ConfigUpdateInterval", "CONFIG_UPDATE_INTERVAL", |c, v| {
        set_int(&mut c.config_update_interval, v)
    }),
    ("AlertRetryLimit", "ALERT_RETRY_LIMIT", |c, v| {
        set_int(&mut c.alert_retry_limit, v)
    }),
    ("AlertWebHook", "ALERT_WEB_HOOK", |c, v| {
        set_str(&mut c.alert_web_hook, v)
    }),
    ("AdminBasePath", "ADMIN_BASE_PATH", |c, v| {
        set_str(&mut c.admin_base_path, v)
    }),
    ("HttpMaxBodyBytes", "HTTP_MAX_BODY_BYTES", |c, v| {
        c.http_max_body_bytes = v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1024)
            .ok_or_else(|| format!("{v:?} is not a byte count of at least 1024"))?;
        Ok(())
    }),
    ("HttpHost", "HTTP_HOST", |c, v| set_str(&mut c.http_host, v)),
    (
        "HttpCors.AllowedOrigins",
        "HTTP_CORS_ALLOWED_ORIGINS",
        |c, v| {
            let origins: Vec<String> = v
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(String::from)
                .collect();
            for o in &origins {
                crate::api::cors::check_origin(o)?;
            }
            c.http_cors_allowed_origins = origins;
            Ok(())
        },
    ),
    ("GrpcMaxMessageBytes", "GRPC_MAX_MESSAGE_BYTES", |c, v| {
        c.grpc_max_message_bytes = parse_count(v, 0, usize::MAX)?;
        if c.grpc_max_message_bytes != 0 && c.grpc_max_message_bytes < 1024 {
            return Err(format!("{v:?} is not 0 or a byte count of at least 1024"));
        }
        Ok(())
    }),
    ("HttpMaxHeaders", "HTTP_MAX_HEADERS", |c, v| {
        c.http_max_headers = parse_count(v, 8, HTTP_HEADER_COUNT_CAP)?;
        Ok(())
    }),
    ("HttpMaxHeaderBytes", "HTTP_MAX_HEADER_BYTES", |c, v| {
        c.http_max_header_bytes = parse_count(v, 1024, HTTP_HEADER_BYTES_CAP)?;
        Ok(())
    }),
    ("WorkerThreads", "WORKER_THREADS", |c, v| {
        c.worker_threads = parse_count(v, 0, 1024)?;
        Ok(())
    }),
    ("MaxBranches", "MAX_BRANCHES", |c, v| {
        c.max_branches = parse_count(v, 1, usize::MAX)?;
        Ok(())
    }),
    ("MaxPayloadBytes", "MAX_PAYLOAD_BYTES", |c, v| {
        c.max_payload_bytes = parse_count(v, 0, usize::MAX)?;
        Ok(())
    }),
    ("MaxBranchHeaders", "MAX_BRANCH_HEADERS", |c, v| {
        c.max_branch_headers = parse_count(v, 0, usize::MAX)?;
        Ok(())
    }),
    ("MaxBranchHeaderBytes", "MAX_BRANCH_HEADER_BYTES", |c, v| {
        c.max_branch_header_bytes = parse_count(v, 0, usize::MAX)?;
        Ok(())
    }),
    ("BranchHostAllowlist", "BRANCH_HOST_ALLOWLIST", |c, v| {
        c.branch_host_allowlist = Allowlist::parse(v)?;
        Ok(())
    }),
    ("Auth.SubmitTokens", "AUTH_SUBMIT_TOKENS", |c, v| {
        c.auth.set(Scope::Submit, v)
    }),
    ("Auth.AdminTokens", "AUTH_ADMIN_TOKENS", |c, v| {
        c.auth.set(Scope::Admin, v)
    }),
    ("Auth.MetricsTokens", "AUTH_METRICS_TOKENS", |c, v| {
        c.auth.set(Scope::Metrics, v)
    }),
    ("TestHooks", "DTMX_TEST_HOOKS", |c, v| {
        c.test_hooks = matches!(v, "1" | "true" | "yes");
        Ok(())
    }),
];

fn set_str(field: &mut String, v: &str) -> Result<(), String> {
    *field = v.to_string();
    Ok(())
}

fn set_int(field: &mut i64, v: &str) -> Result<(), String> {
    *field = v
        .trim()
        .parse()
        .map_err(|_| format!("{v:?} is not an integer"))?;
    Ok(())
}

/// A count between `min` and `max` (inclusive); the error states the range.
fn parse_count(v: &str, min: usize, max: usize) -> Result<usize, String> {
    v.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            if max == usize::MAX {
                format!("{v:?} is not a whole number of at least {min}")
            } else {
                format!("{v:?} is not a whole number from {min} to {max}")
            }
        })
}

fn set_port(field: &mut u16, v: &str) -> Result<(), String> {
    *field = v
        .trim()
        .parse()
        .map_err(|_| format!("{v:?} is not a port number"))?;
    Ok(())
}

/// The text of a scalar YAML value.
fn scalar(path: &str, node: &serde_yaml::Value) -> Result<String, ConfigError> {
    match node {
        serde_yaml::Value::String(s) => Ok(s.clone()),
        serde_yaml::Value::Number(n) => Ok(n.to_string()),
        serde_yaml::Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ConfigError(format!("{path}: expected a scalar value"))),
    }
}

impl Config {
    /// Loads defaults, then the environment, then the YAML file (if any), then validates.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config.apply_env(|name| std::env::var(name).ok())?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
            config.apply_yaml(&text)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Applies every known environment variable that `lookup` finds.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for (path, env, set) in KEYS {
            if let Some(value) = lookup(env) {
                set(self, &value).map_err(|e| ConfigError(format!("{env} (or {path}): {e}")))?;
            }
        }
        Ok(())
    }

    /// Applies every known key present in a YAML document; unknown keys are ignored.
    pub fn apply_yaml(&mut self, text: &str) -> Result<(), ConfigError> {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| ConfigError(format!("invalid YAML: {e}")))?;
        if doc.is_null() {
            return Ok(());
        }
        if !doc.is_mapping() {
            return Err(ConfigError("the YAML document must be a mapping".into()));
        }
        for (path, _, set) in KEYS {
            let mut node = &doc;
            let mut found = true;
            for part in path.split('.') {
                match node.get(part) {
                    Some(child) => node = child,
                    None => {
                        found = false;
                        break;
                    }
                }
            }
            if !found || node.is_null() {
                continue;
            }
            // A list (e.g. `AllowedOrigins: [a, b]`) is read as its comma-joined items.
            let value = match node {
                serde_yaml::Value::Sequence(items) => items
                    .iter()
                    .map(|i| scalar(path, i))
                    .collect::<Result<Vec<_>, _>>()?
                    .join(","),
                other => scalar(path, other)?,
            };
            set(self, &value).map_err(|e| ConfigError(format!("{path}: {e}")))?;
        }
        Ok(())
    }

    /// Checks the rules DTM enforces, plus dtmx's own.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |msg: String| Err(ConfigError(msg));
        if self.retry_interval < 10 {
            return fail(format!(
                "RetryInterval must be at least 10, got {}",
                self.retry_interval
            ));
        }
        if self.timeout_to_fail < self.retry_interval {
            return fail(format!(
                "TimeoutToFail ({}) must be at least RetryInterval ({})",
                self.timeout_to_fail, self.retry_interval
            ));
        }
        if self.request_timeout <= 0 {
            return fail("RequestTimeout must be positive".into());
        }
        if self.trans_cron_interval <= 0 {
            return fail("TransCronInterval must be positive".into());
        }
        if self.finished_retention < 0 {
            return fail("FinishedRetention must not be negative (0 keeps everything)".into());
        }
        if self.retention_batch <= 0 {
            return fail("RetentionBatch must be positive".into());
        }
        if let StoreDriver::Unsupported(name) = &self.store.driver {
            return fail(format!(
                "Store.Driver {name:?} is not available in this build yet; use the embedded store (sqlite)"
            ));
        }
        let s = &self.store;
        match s.driver {
            StoreDriver::Sqlite if s.path.is_empty() => {
                return fail("Store.Path must not be empty".into());
            }
            StoreDriver::Postgres | StoreDriver::Mysql => {
                for (key, empty) in [
                    ("Store.Host", s.host.is_empty()),
                    ("Store.Port", s.port <= 0),
                    ("Store.User", s.user.is_empty()),
                    ("Store.Schema", s.schema.is_empty()),
                    ("Store.Db", s.db.is_empty()),
                ] {
                    if empty {
                        return fail(format!("{key} must be set for the {:?} store", s.driver));
                    }
                }
            }
            StoreDriver::Redis if s.host.is_empty() || s.port <= 0 => {
                return fail("redis needs Host and Port (Store.Host, Store.Port)".into());
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn env_then_yaml() {
        let env: HashMap<&str, &str> =
            [("HTTP_PORT", "4000"), ("STORE_MAX_OPEN_CONNS", "7")].into();
        let mut c = Config::default();
        c.apply_env(|k| env.get(k).map(|v| v.to_string()))
            .expect("env applies");
        assert_eq!(c.http_port, 4000);
        assert_eq!(c.store.max_open_conns, 7);
        c.apply_yaml(
            "HttpPort: 4001\nStore:\n  Driver: boltdb\n  DataExpire: 5\nGrpcBalancer: x\n",
        )
        .expect("yaml applies");
        assert_eq!(c.http_port, 4001);
        assert_eq!(c.store.driver, StoreDriver::Sqlite);
        assert_eq!(c.store.data_expire, 5);
        c.validate().expect("valid");
    }

    #[test]
    fn clear_errors() {
        let mut c = Config::default();
        let err = c
            .apply_env(|k| (k == "RETRY_INTERVAL").then(|| "ten".to_string()))
            .expect_err("rejects");
        assert!(err.to_string().contains("RETRY_INTERVAL"), "{err}");
        let err = c.apply_yaml("HttpPort: 99999").expect_err("rejects");
        assert!(err.to_string().contains("HttpPort"), "{err}");
        let c = Config {
            retry_interval: 5,
            ..Config::default()
        };
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.apply_yaml("Store:\n  Driver: sqlserver")
            .expect("known driver");
        assert!(c
            .validate()
            .expect_err("unsupported")
            .to_string()
            .contains("sqlserver"));
        let mut c = Config::default();
        c.apply_yaml("Store:\n  Driver: postgres\n  Host: localhost\n  Port: 5432")
            .expect("known driver");
        assert!(c
            .validate()
            .expect_err("needs a user")
            .to_string()
            .contains("Store.User"));
    }

    #[test]
    fn cors_origins() {
        let mut c = Config::default();
        assert!(c.http_cors_allowed_origins.is_empty());
        c.apply_env(|k| {
            (k == "HTTP_CORS_ALLOWED_ORIGINS").then(|| "http://a.test, https://b.test:8443".into())
        })
        .expect("env list");
        assert_eq!(
            c.http_cors_allowed_origins,
            ["http://a.test", "https://b.test:8443"]
        );
        c.apply_yaml("HttpCors:\n  AllowedOrigins: ['*']")
            .expect("yaml list");
        assert_eq!(c.http_cors_allowed_origins, ["*"]);
        c.apply_yaml("HttpCors:\n  AllowedOrigins: http://c.test")
            .expect("yaml scalar");
        assert_eq!(c.http_cors_allowed_origins, ["http://c.test"]);
        let err = c
            .apply_yaml("HttpCors:\n  AllowedOrigins: [http://c.test/x]")
            .expect_err("a path is refused");
        assert!(err.to_string().contains("HttpCors.AllowedOrigins"), "{err}");
        assert!(c.apply_yaml("HttpCors:\n  AllowedOrigins: [[x]]").is_err());
    }

    #[test]
    fn limits_and_allowlist() {
        let c = Config::default();
        assert_eq!(c.grpc_message_limit(), c.http_max_body_bytes);
        assert_eq!(
            (c.http_max_headers, c.http_max_header_bytes, c.max_branches),
            (100, 65536, 1000)
        );
        assert!(c.branch_host_allowlist.is_off());
        let mut c = Config::default();
        c.apply_yaml(
            "MaxBranches: 5\nMaxPayloadBytes: 10\nGrpcMaxMessageBytes: 2048\n\
             BranchHostAllowlist: [busi.test, '10.0.0.0/8']",
        )
        .expect("yaml");
        assert_eq!((c.max_branches, c.max_payload_bytes), (5, 10));
        assert!(c.runtime_workers() >= 1, "the default is at least one");
        c.apply_yaml("WorkerThreads: 3").expect("yaml");
        assert_eq!(c.runtime_workers(), 3);
        assert_eq!(c.grpc_message_limit(), 2048);
        assert_eq!(c.branch_host_allowlist.to_string(), "busi.test,10.0.0.0/8");
        for bad in [
            "MaxBranches: 0",
            "WorkerThreads: 5000",
            "HttpMaxHeaders: 101",
            "HttpMaxHeaderBytes: 1000000",
            "GrpcMaxMessageBytes: 5",
            "BranchHostAllowlist: 'a.test, *'",
        ] {
            let err = c.apply_yaml(bad).expect_err(bad);
            let key = bad.split(':').next().unwrap_or_default();
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn auth_tokens() {
        let mut c = Config::default();
        assert!(!c.auth.is_on(), "authentication is off by default");
        c.apply_env(|k| (k == "AUTH_SUBMIT_TOKENS").then(|| "env-submit-token-00001".into()))
            .expect("env");
        c.apply_yaml("Auth:\n  AdminTokens: [yaml-admin-token-000001, yaml-admin-token-000002]")
            .expect("yaml");
        let bearer = |t: &str| format!("Bearer {t}").into_bytes();
        let ok = |t: &str, s| c.auth.check(Some(&bearer(t)), s).is_ok();
        assert!(ok("env-submit-token-00001", Scope::Submit));
        assert!(!ok("env-submit-token-00001", Scope::Admin));
        assert!(ok("yaml-admin-token-000002", Scope::Admin));
        let err = c
            .apply_yaml("Auth:\n  MetricsTokens: tiny")
            .expect_err("too short");
        assert!(err.to_string().contains("Auth.MetricsTokens"), "{err}");
    }

    #[test]
    fn tracing_and_log_format() {
        let mut c = Config::default();
        assert_eq!(
            (
                c.otlp_endpoint.as_str(),
                c.service_name.as_str(),
                c.log_format
            ),
            ("", "dtmx", LogFormat::Text)
        );
        c.apply_env(|k| match k {
            "TRACING_OTLP_ENDPOINT" => Some("http://collector:4318".into()),
            "LOG_FORMAT" => Some("json".into()),
            _ => None,
        })
        .expect("env");
        assert_eq!(c.otlp_endpoint, "http://collector:4318");
        assert_eq!(c.log_format, LogFormat::Json);
        c.apply_yaml("Tracing:\n  OtlpEndpoint: ''\n  ServiceName: tm-1\nLog:\n  Format: text")
            .expect("yaml");
        assert_eq!(
            (
                c.otlp_endpoint.as_str(),
                c.service_name.as_str(),
                c.log_format
            ),
            ("", "tm-1", LogFormat::Text)
        );
        for bad in [
            "Tracing:\n  OtlpEndpoint: collector:4318",
            "Tracing:\n  OtlpEndpoint: ftp://collector",
            "Tracing:\n  ServiceName: ''",
            "Log:\n  Format: xml",
        ] {
            let err = c.apply_yaml(bad).expect_err(bad);
            assert!(
                err.to_string().contains("Tracing.") || err.to_string().contains("Log.Format"),
                "{err}"
            );
        }
    }

    #[test]
    fn redis_needs_host_and_port() {
        let mut c = Config::default();
        c.apply_yaml("Store:\n  Driver: redis\n  Host: localhost")
            .expect("known driver");
        assert_eq!(c.store.driver, StoreDriver::Redis);
        assert!(c
            .validate()
            .expect_err("needs a port")
            .to_string()
            .contains("redis needs Host and Port"));
        c.apply_yaml("Store:\n  Port: 6379").expect("port");
        c.validate().expect("valid");
        assert_eq!(c.store.redis_prefix, "{a}");
    }
}
