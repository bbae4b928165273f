//! Where the kit looks for the binary: the argument, DTMX_BIN, `dtmx` on PATH. One test in
//! its own process, since it changes the environment.

use dtmx_testkit::find_binary;
use std::path::Path;

#[cfg(unix)]
#[test]
fn argument_then_dtmx_bin_then_path_else_how() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("dtmx-testkit-lookup-{}", std::process::id()));
    let (empty, bin) = (dir.join("empty"), dir.join("bin"));
    std::fs::create_dir_all(&empty).expect("dir");
    std::fs::create_dir_all(&bin).expect("dir");
    let dtmx = bin.join("dtmx");
    std::fs::write(&dtmx, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&dtmx, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    std::env::remove_var("DTMX_BIN");
    std::env::set_var("PATH", &empty);
    let msg = find_binary(None).expect_err("nothing").to_string();
    assert!(msg.contains("not on PATH and DTMX_BIN is unset"), "{msg}");
    assert!(msg.contains("cargo install dtmx-server"), "{msg}");

    std::env::set_var("PATH", std::env::join_paths([&empty, &bin]).expect("join"));
    assert_eq!(find_binary(None).expect("on PATH"), dtmx);

    std::env::set_var("DTMX_BIN", "/nonexistent/dtmx");
    let msg = find_binary(None).expect_err("bad DTMX_BIN").to_string();
    assert!(msg.contains("/nonexistent/dtmx (DTMX_BIN)"), "{msg}");

    let other = dir.join("other-dtmx");
    std::fs::copy(&dtmx, &other).expect("copy");
    std::env::set_var("DTMX_BIN", &other);
    assert_eq!(find_binary(None).expect("DTMX_BIN"), other);
    assert_eq!(find_binary(Some(Path::new(&dtmx))).expect("argument"), dtmx);
    let _ = std::fs::remove_dir_all(&dir);
}
