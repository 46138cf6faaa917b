//! What stops the sampler or `redline pprof diff`: bad flags, an unreadable profile or
//! archive, a client that cannot be built, the runtime failing.

use std::path::PathBuf;

use redline_runtime::RuntimeError;

use crate::{archive, args, profile};

/// The errors of the daemon and of `redline pprof diff`, naming the file where there is one.
#[derive(Debug, thiserror::Error)]
pub enum PprofError {
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Profile {
        path: PathBuf,
        #[source]
        source: profile::ProfileError,
    },
    #[error(transparent)]
    Config(#[from] args::ConfigError),
    #[error(transparent)]
    Archive(#[from] archive::ArchiveError),
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("Kubernetes client: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}
