//! A small command-line parser: `--name value`, `--name=value` and boolean `--flag`s,
//! with an optional environment variable behind each option.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

/// Parsed command line.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<String, String>,
    flags: HashSet<String>,
    /// Arguments that are not options, in order.
    pub positional: Vec<String>,
}

impl Args {
    /// Parses the process arguments. `bool_flags` names the options that take no value;
    /// `valued` names those that take one. Anything else is an error.
    pub fn parse(bool_flags: &[&str], valued: &[&str]) -> Result<Args, String> {
        Self::parse_from(std::env::args().skip(1), bool_flags, valued)
    }

    /// Parses `items` (without the program name).
    pub fn parse_from(
        items: impl IntoIterator<Item = String>,
        bool_flags: &[&str],
        valued: &[&str],
    ) -> Result<Args, String> {
        let mut args = Args::default();
        let mut items = items.into_iter();
        while let Some(item) = items.next() {
            let Some(name) = item.strip_prefix("--") else {
                args.positional.push(item);
                continue;
            };
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (name.to_string(), None),
            };
            if bool_flags.contains(&name.as_str()) {
                match inline.as_deref() {
                    None | Some("1" | "true" | "yes") => {
                        args.flags.insert(name);
                    }
                    Some("0" | "false" | "no") => {}
                    Some(v) => return Err(format!("--{name} takes no value (got {v:?})")),
                }
            } else if valued.contains(&name.as_str()) {
                let value = match inline {
                    Some(v) => v,
                    None => items.next().ok_or(format!("--{name} needs a value"))?,
                };
                args.values.insert(name, value);
            } else {
                return Err(format!("unknown option --{name}"));
            }
        }
        Ok(args)
    }

    /// The value of `--name`, else of the environment variable `env` if given and set.
    pub fn str(&self, name: &str, env: Option<&str>) -> Option<String> {
        self.values
            .get(name)
            .cloned()
            .or_else(|| env.and_then(|e| std::env::var(e).ok()))
            .filter(|v| !v.is_empty())
    }

    /// The parsed value of `--name` (or `env`), or `default` when neither is set.
    pub fn get<T: FromStr>(&self, name: &str, env: Option<&str>, default: T) -> Result<T, String> {
        match self.str(name, env) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: cannot parse {v:?}")),
        }
    }

    /// The parsed value of `--name` (or `env`) if set.
    pub fn opt<T: FromStr>(&self, name: &str, env: Option<&str>) -> Result<Option<T>, String> {
        self.str(name, env)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("--{name}: cannot parse {v:?}"))
            })
            .transpose()
    }

    /// Whether the boolean `--name` was given, or `env` is set to 1/true/yes.
    pub fn flag(&self, name: &str, env: Option<&str>) -> bool {
        self.flags.contains(name)
            || env
                .and_then(|e| std::env::var(e).ok())
                .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(items: &[&str]) -> Result<Args, String> {
        Args::parse_from(
            items.iter().map(|s| s.to_string()),
            &["async"],
            &["in-flight", "dtm"],
        )
    }

    #[test]
    fn values_flags_and_positionals() {
        let a = parse(&["--in-flight", "64", "--async", "--dtm=http://x", "pos"]).expect("ok");
        assert_eq!(a.get("in-flight", None, 1usize), Ok(64));
        assert!(a.flag("async", None));
        assert_eq!(a.str("dtm", None).as_deref(), Some("http://x"));
        assert_eq!(a.positional, vec!["pos".to_string()]);
    }

    #[test]
    fn errors() {
        assert!(parse(&["--nope"]).is_err());
        assert!(parse(&["--in-flight"]).is_err());
        let a = parse(&["--in-flight", "x"]).expect("ok");
        assert!(a.get("in-flight", None, 1usize).is_err());
    }
}
