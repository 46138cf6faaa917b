//! The embedded demo target: one small HTTP server that behaves like the systems the seed plans
//! load-test (Knative's autoscale-go, an OpenAI-style model gateway with tiered rate limits,
//! KubeServe's predict API) plus a tiny kv store for the chaos prober's lost-write check.
//!
//! It is started in-process by tests and benchmarks ([`spawn`]) and by `redline target`
//! ([`serve`]). Every injected delay is a lower bound the load generator's measurements are
//! checked against, so delays use deadlines (never early) and nothing blocks the runtime.

mod args;
mod autoscale;
mod body;
mod faults;
mod kv;
mod limits;
mod openai;
mod predict;
mod query;
mod server;
mod stats;

pub use args::TargetArgs;
pub use limits::{TierLimits, TiersConfig};
pub use server::{TargetHandle, serve, spawn};
pub use stats::{Endpoint, RequestStats};

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
