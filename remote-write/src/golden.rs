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

/// `bytes` decoded as the message `M`, which they must be.
pub(crate) fn decode<M: prost::Message + Default>(bytes: Vec<u8>) -> M {
    M::decode(bytes.as_slice()).expect("golden bytes decode")
}

/// A remote-write 1.0 `WriteRequest` (see `prompb/wire_tests.rs`).
pub(crate) fn write_request() -> Vec<u8> {
    bytes(include_str!("../testdata/write_request.golden.hex"))
}

/// A remote-write 2.0 `Request` (see `write_v2/wire_tests.rs`).
pub(crate) fn write_v2_request() -> Vec<u8> {
    bytes(include_str!("../testdata/write_v2_request.golden.hex"))
}

/// The exponential integer histogram both golden requests carry, built as the calling
/// module's `Histogram` (1.0's and 2.0's generated messages are distinct types with these
/// fields in common; `histogram` and `span` resolve where the macro is used), plus any
/// fields only one version has.
macro_rules! integer_histogram {
    ($($field:ident: $value:expr),* $(,)?) => {
        Histogram {
            count: Some(histogram::Count::CountInt(9)),
            sum: -1.25,
            schema: 3,
            zero_threshold: 1e-128,
            zero_count: Some(histogram::ZeroCount::ZeroCountInt(2)),
            negative_spans: vec![span(-2, 1)],
            negative_deltas: vec![3],
            positive_spans: vec![span(-20, 2), span(5, 1)],
            positive_deltas: vec![1, 1, -2],
            reset_hint: histogram::ResetHint::No as i32,
            timestamp: 1_700_000_000_500,
            $($field: $value,)*
            ..Default::default()
        }
    };
}
pub(crate) use integer_histogram;
