//! What can go wrong starting or asking a receiver.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The receiver's program is not on this machine; `install` is the step that fixes it.
    #[error("{receiver} is not available: {why}\n  install it with: {install}")]
    Missing {
        receiver: &'static str,
        why: String,
        install: &'static str,
    },
    #[error("cannot start {binary}: {source}\n  install it with: {install}")]
    Spawn {
        binary: String,
        source: std::io::Error,
        install: &'static str,
    },
    /// `REDLINE_PROMETHEUS_BIN` or `REDLINE_PROMETHEUS3_BIN` names a binary of the other major
    /// version: a test that asked for one must never silently run against the other.
    #[error("{binary} is Prometheus {found}, but {expected} was asked for")]
    WrongVersion {
        binary: PathBuf,
        expected: &'static str,
        found: String,
    },
    #[error("{variable}={value:?}: {why}")]
    BadEnv {
        variable: &'static str,
        value: String,
        why: &'static str,
    },
    /// A combination the chosen receiver cannot honour (rules on VictoriaMetrics, native
    /// histograms switched off on Prometheus 3, ...): refused rather than silently ignored.
    #[error("{receiver} cannot run as asked: {why}")]
    Unsupported { receiver: &'static str, why: String },
    #[error("{receiver} did not become ready within {limit:?}; its log:\n{log}")]
    NotReady {
        receiver: &'static str,
        limit: Duration,
        log: String,
    },
    #[error("rule file {path}: {source}")]
    RuleFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("query {query:?} failed: {message}")]
    Query { query: String, message: String },
}
