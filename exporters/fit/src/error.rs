//! What can go wrong in `redline fit`; every message names the file, field and line, or
//! the object, it is about.

use std::path::PathBuf;

use redline_runtime::RuntimeError;

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {field}: {message}", file.display())]
    Manifest {
        file: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
    #[error("{object}: {message}")]
    Cluster { object: String, message: String },
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("Kubernetes client configuration: {0}")]
    KubeConfig(String),
    #[error("{0}")]
    Flags(String),
    #[error("cannot write the report: {0}")]
    Write(#[source] std::io::Error),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}
