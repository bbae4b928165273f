//! The server configuration (`dtmx_server::config::Config`): DTM's YAML keys
//! (`apply_yaml`, what `dtmx -c file` reads), the environment names (`apply_env`) and
//! `validate`.
//!
//! Input: text before the first NUL byte is environment lines `NAME=value`; the rest
//! (or the whole input when there is no NUL) is the YAML document. Errors are expected;
//! a panic is a finding, and a configuration that validates must validate again after
//! the same YAML is applied a second time (setters are idempotent).
#![no_main]

use dtmx_server::config::Config;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let (env, yaml) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let env = String::from_utf8_lossy(env);
    let env: HashMap<&str, &str> = env.lines().filter_map(|l| l.split_once('=')).collect();
    let Ok(yaml) = std::str::from_utf8(yaml) else {
        return;
    };
    let mut config = Config::default();
    if config
        .apply_env(|name| env.get(name).map(|v| v.to_string()))
        .is_err()
    {
        return;
    }
    if config.apply_yaml(yaml).is_err() || config.validate().is_err() {
        return;
    }
    config
        .apply_yaml(yaml)
        .expect("the same YAML applies twice");
    config.validate().expect("still valid");
});
