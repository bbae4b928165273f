//! The header drift check: `include/dtmx.h` (for C) and `include/dtmx_ffi.h` (the same
//! declarations without preprocessor lines or comments, for PHP's `FFI::cdef`) must be
//! what cbindgen makes of this crate now. `DTMX_BLESS=1 cargo test -p dtmx-c header`
//! rewrites them.

use std::path::Path;

/// cbindgen's header for this crate.
fn generate() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let config =
        cbindgen::Config::from_file(Path::new(dir).join("cbindgen.toml")).expect("c/cbindgen.toml");
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen")
        .write(&mut out);
    String::from_utf8(out).expect("UTF-8 header")
}

/// The header without preprocessor lines (and the C++ linkage block they guard) and
/// without comments.
fn ffi_variant(header: &str) -> String {
    let mut out = String::new();
    let (mut in_cplusplus, mut in_comment) = (false, false);
    for line in header.lines() {
        let t = line.trim_start();
        if in_comment || t.starts_with("/*") {
            in_comment = !t.contains("*/");
        } else if t.starts_with("#ifdef __cplusplus") {
            in_cplusplus = true;
        } else if in_cplusplus {
            in_cplusplus = !t.starts_with("#endif");
        } else if !(t.starts_with('#')
            || t.starts_with("//")
            || line.is_empty() && (out.is_empty() || out.ends_with("\n\n")))
        {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn header_is_current() {
    let header = generate();
    let ffi = ffi_variant(&header);
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    for (name, text) in [("dtmx.h", &header), ("dtmx_ffi.h", &ffi)] {
        let path = include.join(name);
        if std::env::var_os("DTMX_BLESS").is_some() {
            std::fs::write(&path, text).expect("write header");
            continue;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == *text,
            "c/include/{name} is out of date: run `DTMX_BLESS=1 cargo test -p dtmx-c header` \
             and commit it"
        );
    }
    assert!(
        !ffi.contains('#'),
        "the FFI header holds no preprocessor lines"
    );
    assert!(ffi.contains("DtmxCode dtmx_saga_submit("));
}

#[test]
fn codes_match_the_bindings_table() {
    use crate::error::DtmxCode;
    for row in dtmx_bindings::error::table() {
        assert_eq!(DtmxCode::of(row.kind) as i32, row.code, "{}", row.name);
    }
    assert_eq!(DtmxCode::DTMX_OK as i32, dtmx_bindings::error::OK);
}
