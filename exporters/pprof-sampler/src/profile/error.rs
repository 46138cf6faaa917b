//! What can go wrong reading a profile, and the size bound it is read under.

/// A decoded profile holds the whole string table in memory; gzip bombs and runaway
/// responses are cut off here. Real activator heap profiles are well under 10 MB raw.
pub const MAX_DECODED_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("gunzip: {0}")]
    Gzip(#[source] std::io::Error),
    #[error("profile larger than {MAX_DECODED_BYTES} bytes once decompressed")]
    TooLarge,
    #[error("decode profile.proto: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("profile has no sample type {0:?} (has {1})")]
    NoSampleType(String, String),
    #[error("malformed profile.proto: {0}")]
    Malformed(&'static str),
    #[error("profile references {0} {1} which it does not define")]
    Dangling(&'static str, u64),
}
