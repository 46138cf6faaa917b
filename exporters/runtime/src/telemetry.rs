//! Logs go to stderr, as text for people or JSON for log pipelines.

use tracing_subscriber::EnvFilter;

use crate::{LogFormat, RuntimeError};

/// Installs the global subscriber; call once, from the binary.
pub fn init_tracing(format: LogFormat, filter: &str) -> Result<(), RuntimeError> {
    let filter = EnvFilter::try_new(filter).map_err(|e| RuntimeError::Flag {
        flag: "--log-level",
        message: e.to_string(),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let res = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    res.map_err(|e| RuntimeError::Tracing(e.to_string()))
}
