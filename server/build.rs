//! Compiles DTM's gRPC API (proto/dtmgimp.proto, proto/wf.proto) with protox, a protobuf
//! compiler written in Rust, so building needs no `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/dtmgimp.proto", "proto/wf.proto"];
    println!("cargo:rerun-if-changed=build.rs");
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    tonic_build::configure().compile_fds(fds)?;
    Ok(())
}
