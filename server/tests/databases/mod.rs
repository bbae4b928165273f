//! The database servers the tests use: PostgreSQL, MariaDB and Redis on loopback, as
//! `scripts/services` starts them. Each test gets a database (or schema, or key prefix) of
//! its own, named after it.

#![allow(dead_code)]

use dtmx_server::config::{Config, StoreConfig, StoreDriver};
use std::net::TcpStream;
use std::time::Duration;

fn require(service: &str, port: u16) {
    let addr = ([127, 0, 0, 1], port).into();
    if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
        panic!("{service} is not running on 127.0.0.1:{port}: start it with scripts/services");
    }
}

fn base() -> StoreConfig {
    Config::default().store
}

/// A store on PostgreSQL in a schema of its own.
pub fn postgres(test: &str) -> StoreConfig {
    require("PostgreSQL", 5432);
    StoreConfig {
        driver: StoreDriver::Postgres,
        host: "127.0.0.1".into(),
        port: 5432,
        user: "postgres".into(),
        password: "mysecretpassword".into(),
        db: "dtmx_test".into(),
        schema: format!("t_{test}"),
        ..base()
    }
}

/// A store on MariaDB in a database of its own.
pub fn mysql(test: &str) -> StoreConfig {
    require("MariaDB", 3306);
    StoreConfig {
        driver: StoreDriver::Mysql,
        host: "127.0.0.1".into(),
        port: 3306,
        user: "root".into(),
        password: String::new(),
        db: format!("dtmx_t_{test}"),
        ..base()
    }
}

/// A store on Redis under a key prefix of its own.
pub fn redis(test: &str) -> StoreConfig {
    require("Redis", 6379);
    StoreConfig {
        driver: StoreDriver::Redis,
        host: "127.0.0.1".into(),
        port: 6379,
        redis_prefix: format!("{{t_{test}}}"),
        ..base()
    }
}

/// The environment that points a `dtmx` binary at `config`.
pub fn env(config: &StoreConfig) -> Vec<(String, String)> {
    let driver = match config.driver {
        StoreDriver::Postgres => "postgres",
        StoreDriver::Mysql => "mysql",
        StoreDriver::Redis => "redis",
        _ => "sqlite",
    };
    vec![
        ("STORE_DRIVER".into(), driver.into()),
        ("STORE_HOST".into(), config.host.clone()),
        ("STORE_PORT".into(), config.port.to_string()),
        ("STORE_USER".into(), config.user.clone()),
        ("STORE_PASSWORD".into(), config.password.clone()),
        ("STORE_DB".into(), config.db.clone()),
        ("STORE_SCHEMA".into(), config.schema.clone()),
        ("STORE_REDIS_PREFIX".into(), config.redis_prefix.clone()),
    ]
}
