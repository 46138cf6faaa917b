//! What can go wrong talking to the test cluster.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        source: kube::config::KubeconfigError,
    },
    #[error("kubeconfig {path}: {what}")]
    KubeconfigContent { path: PathBuf, what: String },
    #[error("kube client: {0}")]
    Kube(#[from] kube::Error),
    #[error("kube client config: {0}")]
    KubeConfig(#[from] kube::config::KubeconfigError),
    #[error("{what}: not done within {waited:?}")]
    Timeout { what: String, waited: Duration },
    #[error("YAML document {document} (line {line}): {message}")]
    Yaml {
        document: usize,
        line: usize,
        message: String,
    },
    #[error("API server /metrics line {line}: {message}")]
    Exposition { line: usize, message: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
