//! Generates the remote-write wire messages from the vendored `.proto` files in
//! `proto/prompb/` (see `proto/README.md`): protox parses them in pure Rust, so no
//! machine needs `protoc`, and prost-build writes the Rust types into `OUT_DIR`
//! (`prometheus.rs` for remote-write 1.0, `io.prometheus.write.v2.rs` for 2.0).

use std::error::Error;

const INCLUDE: &str = "proto/prompb";
const FILES: [&str; 3] = [
    "proto/prompb/remote.proto",
    "proto/prompb/types.proto",
    "proto/prompb/io/prometheus/write/v2/types.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors =
        protox::compile(FILES, [INCLUDE]).map_err(|e| format!("remote-write/{INCLUDE}: {e}"))?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
