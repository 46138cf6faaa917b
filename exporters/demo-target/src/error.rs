//! Why the target could not start or stop.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that stops the target from starting or from shutting down cleanly.
/// Request-level failures never surface here: they become HTTP statuses.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid tiers file {path}: {message}")]
    Tiers { path: PathBuf, message: String },
    /// Only the line number is reported: the line holds a bearer token.
    #[error("invalid tokens file {path} line {line}: {message}")]
    Tokens {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("kv file {path}: {source}")]
    Kv {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("server task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}
