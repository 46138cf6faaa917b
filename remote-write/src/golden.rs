//! Golden wire bytes for the tests, kept as hex text in `testdata/` so a diff shows
//! what changed.

/// The bytes of a golden file's hex text (whitespace ignored).
pub(crate) fn bytes(hex: &str) -> Vec<u8> {
    let hex: String = hex.split_whitespace().collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("golden file is hex"))
        .collect()
}

/// A remote-write 1.0 `WriteRequest` (see `prompb/wire_tests.rs`).
pub(crate) fn write_request() -> Vec<u8> {
    bytes(include_str!("../testdata/write_request.golden.hex"))
}

/// A remote-write 2.0 `Request` (see `write_v2/wire_tests.rs`).
pub(crate) fn write_v2_request() -> Vec<u8> {
    bytes(include_str!("../testdata/write_v2_request.golden.hex"))
}
