//! tests/vectors/api.json read back: the names it asks of a package, and the parity table
//! of docs/BINDINGS.md it renders (each package's spelling, or why it is absent).

use serde_json::Value;
use std::path::PathBuf;

/// The packages, in the manifest's (and the table's) column order.
const PACKAGES: [&str; 7] = ["rust", "python", "node", "wasm", "c", "php", "ruby"];

/// A path inside the repository.
pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
}

/// One name of the manifest: a class member or a module function.
struct Entry<'a> {
    class: Option<&'a str>,
    spec: &'a Value,
}

impl Entry<'_> {
    fn name(&self) -> &str {
        self.spec["name"].as_str().expect("entry name")
    }

    fn key(&self) -> String {
        match self.class {
            Some(c) => format!("{c}.{}", self.name()),
            None => self.name().to_string(),
        }
    }

    fn absent(&self, package: &str) -> Option<&str> {
        self.spec["absent"][package].as_str()
    }

    fn is_static(&self) -> bool {
        self.spec["static"].as_bool().unwrap_or(false)
    }

    /// How `package` spells this name (see docs/BINDINGS.md#the-manifest).
    fn spelling(&self, package: &str) -> String {
        let own = self.spec[package].as_str();
        let name = own.unwrap_or(self.name());
        let camel = camel(name);
        match (self.class, package) {
            (_, "rust") if own.is_some() => name.to_string(),
            (_, "c") if own.is_some() => name.to_string(),
            (Some(c), "rust") => format!("{c}::{name}"),
            (Some(c), "python") => format!("{c}.{name}"),
            (Some(c), "node" | "wasm") if self.is_static() => format!("{c}.{camel}"),
            (Some(c), "node" | "wasm") => format!("{c}#{camel}"),
            (Some(c), "c") => format!("dtmx_{}_{name}", snake(c)),
            (Some(c), "php") if self.is_static() => format!("{c}::{camel}"),
            (Some(c), "php") => format!("{c}->{camel}"),
            (Some(c), "ruby") if self.is_static() => format!("{c}.{name}"),
            (Some(c), _) => format!("{c}#{name}"),
            (None, "rust") => match self.spec["rust_home"].as_str() {
                Some(home) => format!("{home}::{name}"),
                None => name.to_string(),
            },
            (None, "python") => format!("dtmx.{name}"),
            (None, "node" | "wasm") => camel,
            (None, "c") => format!("dtmx_{name}"),
            (None, "php") => {
                let home = self.spec["php_home"].as_str().expect("php_home");
                format!("{home}::{camel}")
            }
            (None, _) if own.is_some() => format!("Dtmx::{name}"),
            (None, _) => format!("Dtmx.{name}"),
        }
    }
}

/// tests/vectors/api.json.
pub struct Manifest {
    json: Value,
}

impl Manifest {
    /// Reads and parses the manifest.
    pub fn load() -> Manifest {
        let path = repo_path("tests/vectors/api.json");
        let text = std::fs::read_to_string(&path).expect("tests/vectors/api.json");
        let json: Value = serde_json::from_str(&text).expect("api.json is JSON");
        let packages: Vec<&str> = json["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(packages, PACKAGES, "the manifest's packages");
        Manifest { json }
    }

    fn entries(&self) -> Vec<Entry<'_>> {
        let mut out = Vec::new();
        for class in self.json["classes"].as_array().expect("classes") {
            let name = class["name"].as_str().expect("class name");
            for m in class["members"].as_array().expect("members") {
                out.push(Entry {
                    class: Some(name),
                    spec: m,
                });
            }
        }
        for f in self.json["functions"].as_array().expect("functions") {
            out.push(Entry {
                class: None,
                spec: f,
            });
        }
        out
    }

    /// `Class.member` and function names `package` must have.
    pub fn names_for(&self, package: &str) -> Vec<String> {
        self.entries()
            .iter()
            .filter(|e| e.absent(package).is_none())
            .map(Entry::key)
            .collect()
    }

    /// The error kinds, in order.
    pub fn error_kinds(&self) -> Vec<&str> {
        self.json["errors"]["kinds"]
            .as_array()
            .expect("error kinds")
            .iter()
            .filter_map(Value::as_str)
            .collect()
    }

    /// The parity table: one row per name, one column per package, absences numbered
    /// with their reasons below.
    pub fn render_table(&self) -> String {
        let mut out = String::from("| Name | Rust | Python | Node.js | WASM | C | PHP | Ruby |\n");
        out.push_str("|---|---|---|---|---|---|---|---|\n");
        let mut notes: Vec<String> = Vec::new();
        for e in self.entries() {
            let cells: Vec<String> = PACKAGES
                .iter()
                .map(|p| match e.absent(p) {
                    Some(why) => {
                        notes.push(format!("{}. {} in {p}: {why}.", notes.len() + 1, e.key()));
                        format!("— ({})", notes.len())
                    }
                    None => format!("`{}`", e.spelling(p)),
                })
                .collect();
            out.push_str(&format!("| {} | {} |\n", e.key(), cells.join(" | ")));
        }
        let base = self.json["errors"]["base"].as_str().expect("errors.base");
        out.push_str(&format!(
            "| errors | `Error` | `{base}` | `{base}` | `{base}` | `DtmxError` | `{base}` | `{base}` |\n"
        ));
        for kind in self.error_kinds() {
            let class = format!("{}Error", pascal(kind));
            out.push_str(&format!(
                "| error `{kind}` | `ErrorKind::{}` | `{class}` | `{class}` | `{class}` | `DTMX_{}` | `{class}` | `{class}` |\n",
                pascal(kind),
                kind.to_ascii_uppercase()
            ));
        }
        out.push('\n');
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
        out
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn pascal(snake: &str) -> String {
    let c = camel(snake);
    let mut chars = c.chars();
    match chars.next() {
        Some(f) => f.to_uppercase().chain(chars).collect(),
        None => c,
    }
}

fn snake(pascal: &str) -> String {
    let mut out = String::new();
    for (i, c) in pascal.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}
