//! Flags of `redline k6-relay`; every flag is also a `REDLINE_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use redline_remote_write::valid_label_name;
use redline_runtime::CommonArgs;

use crate::K6RelayError;

/// `old=new`, for `--rename-label`.
fn parse_rename(s: &str) -> Result<(String, String), String> {
    let (from, to) = redline_runtime::parse_key_value(s)?;
    for name in [&from, &to] {
        if !valid_label_name(name) || name.starts_with("__") {
            return Err(format!(
                "{s:?}: {name:?} is not a label name the relay may rename (must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __)"
            ));
        }
    }
    Ok((from, to))
}

fn parse_label_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    if !valid_label_name(s) || s.starts_with("__") {
        return Err(format!(
            "{s:?} is not a label name the relay may drop (must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __)"
        ));
    }
    Ok(s.to_string())
}

#[derive(Debug, Clone, clap::Args)]
pub struct K6RelayArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Where k6 writes: point K6_PROMETHEUS_RW_SERVER_URL at http://<this>/api/v1/write.
    /// Loopback by default: the relay is a sidecar in k6's pod.
    #[arg(long, env = "REDLINE_RELAY_LISTEN", default_value = "127.0.0.1:9471")]
    pub listen: SocketAddr,
    /// Finish (flush + staleness markers) after no write arrived for this long; the clock
    /// starts at the first write, so the relay may start long before k6. 0 = only on SIGTERM.
    #[arg(long, env = "REDLINE_RELAY_IDLE_EXIT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub idle_exit: Duration,
    /// Drop this label from every relayed series, e.g. k6's high-cardinality `url` (repeatable).
    #[arg(long = "drop-label", env = "REDLINE_RELAY_DROP_LABELS", value_delimiter = ',', value_parser = parse_label_name)]
    pub drop_labels: Vec<String>,
    /// Rename a label, old=new (repeatable); a label the series already has under the new name wins.
    #[arg(long = "rename-label", env = "REDLINE_RELAY_RENAME_LABELS", value_delimiter = ',', value_parser = parse_rename)]
    pub rename_labels: Vec<(String, String)>,
    /// Spill requests to segment files here when the in-memory queue is full, and replay them
    /// in order when it has room. Without it a full queue holds the request (--queue-full-wait).
    #[arg(long, env = "REDLINE_RELAY_BUFFER_DIR")]
    pub buffer_dir: Option<PathBuf>,
    /// Without --buffer-dir: how long a write waits for room in a full queue before it is
    /// answered 503 and its samples counted dropped. k6 never retries a refused write, so
    /// waiting (backpressure) keeps its samples; k6 gives up on an answer after 5 s, and
    /// meanwhile holds its next flush, so keep this below that. 0 = answer 503 at once.
    #[arg(long, env = "REDLINE_RELAY_QUEUE_FULL_WAIT", default_value = "3s", value_parser = humantime::parse_duration)]
    pub queue_full_wait: Duration,
    /// The disk buffer's bound in bytes (snappy-compressed samples); beyond it writes get 503.
    #[arg(long, env = "REDLINE_RELAY_BUFFER_MAX_BYTES", default_value_t = 512 * 1024 * 1024)]
    pub buffer_max_bytes: u64,
    /// Largest compressed request body accepted (413 beyond); its decoded size may be 8x this.
    #[arg(long, env = "REDLINE_RELAY_MAX_BODY_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,
}

impl K6RelayArgs {
    /// For tests: listen on an ephemeral loopback port, push to `remote_write_url`.
    pub fn for_test(remote_write_url: &str, testid: &str) -> Self {
        Self {
            common: CommonArgs::for_test(remote_write_url, testid),
            listen: "127.0.0.1:0".parse().expect("literal address"),
            idle_exit: Duration::from_secs(3),
            drop_labels: Vec::new(),
            rename_labels: Vec::new(),
            buffer_dir: None,
            queue_full_wait: Duration::from_secs(3),
            buffer_max_bytes: 64 * 1024 * 1024,
            max_body_bytes: 32 * 1024 * 1024,
        }
    }

    pub fn validate(&self) -> Result<(), K6RelayError> {
        if self.buffer_dir.is_some() && self.buffer_max_bytes < 64 * 1024 {
            return Err(K6RelayError::Flag {
                flag: "--buffer-max-bytes",
                message: format!(
                    "{} is too small for a disk buffer (at least 65536)",
                    self.buffer_max_bytes
                ),
            });
        }
        if self.max_body_bytes == 0 {
            return Err(K6RelayError::Flag {
                flag: "--max-body-bytes",
                message: "must be positive".into(),
            });
        }
        for (from, _) in &self.rename_labels {
            if self.drop_labels.contains(from) {
                return Err(K6RelayError::Flag {
                    flag: "--rename-label",
                    message: format!("{from:?} is both dropped and renamed"),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_with_documented_defaults() {
        let cli = redline_runtime::parse_flags::<K6RelayArgs>(&[
            "--drop-label",
            "url",
            "--rename-label",
            "name=endpoint",
            "--remote-write-url",
            "http://127.0.0.1:9090/api/v1/write",
        ])
        .unwrap();
        let a = cli;
        assert_eq!(a.listen.to_string(), "127.0.0.1:9471");
        assert_eq!(a.idle_exit, Duration::from_secs(30));
        assert_eq!(a.drop_labels, ["url"]);
        assert_eq!(a.rename_labels, [("name".into(), "endpoint".into())]);
        assert!(a.buffer_dir.is_none());
        assert_eq!(a.queue_full_wait, Duration::from_secs(3));
        a.validate().unwrap();
    }

    #[test]
    fn reserved_or_invalid_label_flags_are_refused_with_the_name() {
        let e = redline_runtime::parse_flags::<K6RelayArgs>(&["--drop-label", "__name__"])
            .err()
            .unwrap();
        assert!(e.to_string().contains("__name__"), "{e}");
        let e = redline_runtime::parse_flags::<K6RelayArgs>(&["--rename-label", "a=b-c"])
            .err()
            .unwrap();
        assert!(e.to_string().contains("b-c"), "{e}");
        let e = redline_runtime::parse_flags::<K6RelayArgs>(&["--rename-label", "nokey"])
            .err()
            .unwrap();
        assert!(e.to_string().contains("key=value"), "{e}");
    }

    #[test]
    fn a_tiny_disk_buffer_is_refused() {
        let mut a = K6RelayArgs::for_test("http://127.0.0.1:1/api/v1/write", "t");
        a.buffer_dir = Some("/tmp/x".into());
        a.buffer_max_bytes = 10;
        assert!(
            a.validate()
                .unwrap_err()
                .to_string()
                .contains("--buffer-max-bytes")
        );
    }
}
