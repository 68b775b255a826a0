//! Generates the gRPC client for the parts of SPIRE's server API Holt uses (entries, SVID minting, the
//! bundle) from the protos vendored in `proto/` (SPIRE's spire-api-sdk, Apache-2.0), parsed by protox so
//! no `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/spire/api/server/entry/v1/entry.proto",
        "proto/spire/api/server/svid/v1/svid.proto",
        "proto/spire/api/server/bundle/v1/bundle.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    println!("cargo:rerun-if-changed=proto/spire/api/types");
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(descriptors)?;
    Ok(())
}
