//! What stops the verdict from being written at all (exit 2), among them a `--rules`
//! directory that cannot be read.

use std::path::PathBuf;

/// Problems that stop the verdict from being written at all. Prometheus being unreachable is
/// not one of them: that is a [`Verdict::CouldNotEvaluate`](crate::Verdict::CouldNotEvaluate) report (exit 2) with the reason.
#[derive(Debug, thiserror::Error)]
pub enum VerdictError {
    #[error("cannot read bearer token file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid --{flag} {value:?}: {message}")]
    BadArg {
        flag: &'static str,
        value: String,
        message: String,
    },
    #[error("{0}")]
    Rules(#[from] RuleFileError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl VerdictError {
    /// Any error means the run could not be judged.
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// Why `--rules DIR` could not be read: the file and, for bad YAML, the line.
#[derive(Debug, thiserror::Error)]
pub enum RuleFileError {
    #[error("cannot read rules directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read rule file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid rule file {path}{at}: {message}")]
    Parse {
        path: PathBuf,
        at: String,
        message: String,
    },
    #[error("no rule files (*.yml, *.yaml) in {0}")]
    Empty(PathBuf),
}
