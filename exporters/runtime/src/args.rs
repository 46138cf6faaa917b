//! Flags every daemon shares; each is also an environment variable (`REDLINE_*`),
//! which is how the Helm chart sets them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `key=value`, for repeatable label and header flags.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not key=value"))?;
    if k.trim().is_empty() {
        return Err(format!("{s:?} has an empty key"));
    }
    Ok((k.trim().to_string(), v.trim().to_string()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `--native-histograms`: see [`redline_remote_write::NativeHistograms`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum NativeHistogramsArg {
    /// Send native histograms; fall back where the receiver says it does not take them.
    #[default]
    Offer,
    /// Never send native histograms; the fallback applies from the start.
    Never,
}

/// `--native-histogram-fallback`: see [`redline_remote_write::HistogramFallback`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum HistogramFallbackArg {
    /// Classic `_bucket{le}`/`_count`/`_sum` series at the native bucket bounds.
    #[default]
    Classic,
    /// Drop them; the run reports them lost (exit code 3).
    Drop,
}

/// `--remote-write-protocol`: see [`redline_remote_write::Protocol`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ProtocolArg {
    /// Remote-write 1.0 (`prometheus.WriteRequest`), which every receiver takes.
    #[value(name = "1.0")]
    V1,
    /// Remote-write 2.0 (`io.prometheus.write.v2.Request`) only.
    #[value(name = "2.0")]
    V2,
    /// 2.0, falling back to 1.0 (and resending) where the receiver shows it speaks only 1.0.
    #[default]
    Auto,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Prometheus remote-write endpoint, e.g. http://prometheus:9090/api/v1/write.
    /// Without it the daemon only serves /metrics (scrape mode).
    #[arg(long, env = "REDLINE_REMOTE_WRITE_URL")]
    pub remote_write_url: Option<String>,
    /// File holding a bearer token for remote-write; re-read when it changes.
    #[arg(long, env = "REDLINE_REMOTE_WRITE_BEARER_TOKEN_FILE")]
    pub remote_write_bearer_token_file: Option<PathBuf>,
    /// Basic-auth user for remote-write (the password comes from a file).
    #[arg(long, env = "REDLINE_REMOTE_WRITE_USERNAME")]
    pub remote_write_username: Option<String>,
    #[arg(long, env = "REDLINE_REMOTE_WRITE_PASSWORD_FILE")]
    pub remote_write_password_file: Option<PathBuf>,
    /// Extra remote-write header, e.g. X-Scope-OrgID=tenant (repeatable).
    #[arg(long = "remote-write-header", env = "REDLINE_REMOTE_WRITE_HEADERS", value_delimiter = ',', value_parser = parse_key_value)]
    pub remote_write_headers: Vec<(String, String)>,
    /// PEM CA bundle that signs the remote-write endpoint's certificate.
    #[arg(long, env = "REDLINE_REMOTE_WRITE_CA_FILE")]
    pub remote_write_ca_file: Option<PathBuf>,
    /// Accept any TLS certificate from the remote-write endpoint.
    #[arg(long, env = "REDLINE_REMOTE_WRITE_INSECURE_SKIP_VERIFY")]
    pub insecure_skip_verify: bool,
    /// Remote-write shards (parallel senders; one series always uses the same one).
    #[arg(long, env = "REDLINE_REMOTE_WRITE_SHARDS", default_value_t = 2)]
    pub remote_write_shards: usize,
    /// Samples the remote-write queue holds before it drops (and counts) new ones.
    #[arg(
        long,
        env = "REDLINE_REMOTE_WRITE_QUEUE_CAPACITY",
        default_value_t = 200_000
    )]
    pub remote_write_queue_capacity: usize,
    /// Native histograms over remote-write: offered (dropped to the fallback where the
    /// receiver answers "native histograms are disabled", as a stock Prometheus 2.x does),
    /// or never sent.
    #[arg(long, env = "REDLINE_NATIVE_HISTOGRAMS", value_enum, default_value_t)]
    pub native_histograms: NativeHistogramsArg,
    /// What a native histogram becomes where the receiver does not take it.
    #[arg(
        long,
        env = "REDLINE_NATIVE_HISTOGRAM_FALLBACK",
        value_enum,
        default_value_t
    )]
    pub native_histogram_fallback: HistogramFallbackArg,
    /// Remote-write protocol: 1.0, 2.0, or auto (2.0 where the receiver speaks it: it
    /// answers with the written-samples headers; else 1.0 from the first refusal on, the
    /// refused batch resent).
    #[arg(
        long,
        env = "REDLINE_REMOTE_WRITE_PROTOCOL",
        value_enum,
        default_value_t
    )]
    pub remote_write_protocol: ProtocolArg,
    /// How often the registry is collected and pushed.
    #[arg(long, env = "REDLINE_PUSH_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub push_interval: Duration,
    /// Run identifier, added to every series as `testid` (k6's convention).
    /// Default: <daemon>-<unix seconds>.
    #[arg(long, env = "REDLINE_TESTID")]
    pub testid: Option<String>,
    /// Label added to every pushed series that lacks it, e.g. cluster=prod (repeatable).
    #[arg(long = "external-label", env = "REDLINE_EXTERNAL_LABELS", value_delimiter = ',', value_parser = parse_key_value)]
    pub external_labels: Vec<(String, String)>,
    /// Address of the admin server (/metrics, /ready, /live). Default: 127.0.0.1:9470 (this
    /// machine only), or a free loopback port, logged, when another run holds 9470. When set
    /// (the chart sets 0.0.0.0:9470 in Pods), that address or a plain error.
    #[arg(long, env = "REDLINE_ADMIN_ADDR")]
    pub admin_addr: Option<SocketAddr>,
    #[arg(long, env = "REDLINE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. info or redline=debug.
    #[arg(long, env = "REDLINE_LOG", default_value = "info")]
    pub log_level: String,
    /// On SIGTERM or at the end: how long to keep flushing before giving up.
    #[arg(long, env = "REDLINE_SHUTDOWN_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
}

impl Default for CommonArgs {
    /// For tests: admin server on an ephemeral loopback port, no remote-write.
    fn default() -> Self {
        Self {
            remote_write_url: None,
            remote_write_bearer_token_file: None,
            remote_write_username: None,
            remote_write_password_file: None,
            remote_write_headers: Vec::new(),
            remote_write_ca_file: None,
            insecure_skip_verify: false,
            remote_write_shards: 2,
            remote_write_queue_capacity: 200_000,
            native_histograms: NativeHistogramsArg::Offer,
            native_histogram_fallback: HistogramFallbackArg::Classic,
            remote_write_protocol: ProtocolArg::Auto,
            push_interval: Duration::from_secs(1),
            testid: Some("test".into()),
            external_labels: Vec::new(),
            admin_addr: Some("127.0.0.1:0".parse().expect("literal address")),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl CommonArgs {
    /// For tests: push to `remote_write_url` every 200 ms under `testid`.
    pub fn for_test(remote_write_url: &str, testid: &str) -> Self {
        Self {
            remote_write_url: Some(remote_write_url.to_string()),
            testid: Some(testid.to_string()),
            push_interval: Duration::from_millis(200),
            ..Self::default()
        }
    }

    pub(crate) fn remote_write_config(
        &self,
    ) -> Result<Option<redline_remote_write::Config>, crate::RuntimeError> {
        use redline_remote_write::{Auth, Config, Secret};
        let Some(url) = &self.remote_write_url else {
            return Ok(None);
        };
        let auth = match (
            &self.remote_write_bearer_token_file,
            &self.remote_write_username,
            &self.remote_write_password_file,
        ) {
            (Some(_), Some(_), _) => {
                return Err(crate::RuntimeError::Flag {
                    flag: "--remote-write-bearer-token-file",
                    message: "use either a bearer token or basic auth, not both".into(),
                });
            }
            (Some(f), None, _) => Auth::BearerFile(f.clone()),
            (None, Some(user), Some(pw)) => {
                let password =
                    std::fs::read_to_string(pw).map_err(|e| crate::RuntimeError::Flag {
                        flag: "--remote-write-password-file",
                        message: format!("{}: {e}", pw.display()),
                    })?;
                Auth::Basic {
                    username: user.clone(),
                    password: Secret::new(password.trim_end_matches(['\n', '\r'])),
                }
            }
            (None, Some(_), None) => {
                return Err(crate::RuntimeError::Flag {
                    flag: "--remote-write-username",
                    message: "needs --remote-write-password-file".into(),
                });
            }
            (None, None, _) => Auth::None,
        };
        Ok(Some(Config {
            auth,
            headers: self.remote_write_headers.clone(),
            ca_file: self.remote_write_ca_file.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
            external_labels: self.external_labels.clone(),
            shards: self.remote_write_shards.max(1),
            queue_capacity: self.remote_write_queue_capacity,
            native_histograms: match self.native_histograms {
                NativeHistogramsArg::Offer => redline_remote_write::NativeHistograms::Offer,
                NativeHistogramsArg::Never => redline_remote_write::NativeHistograms::Never,
            },
            histogram_fallback: match self.native_histogram_fallback {
                HistogramFallbackArg::Classic => redline_remote_write::HistogramFallback::Classic,
                HistogramFallbackArg::Drop => redline_remote_write::HistogramFallback::Drop,
            },
            protocol: match self.remote_write_protocol {
                ProtocolArg::V1 => redline_remote_write::Protocol::V1,
                ProtocolArg::V2 => redline_remote_write::Protocol::V2,
                ProtocolArg::Auto => redline_remote_write::Protocol::Auto,
            },
            ..Config::new(url.clone())
        }))
    }
}

/// A daemon's flags (`A`, flattened into its subcommand) parsed from `flags` as its command
/// line would be: defaults, `REDLINE_*` variables and value parsers included. For the
/// daemons' tests and test constructors, which would otherwise each declare a one-field
/// `Parser` around their args.
pub fn parse_flags<A: clap::Args>(flags: &[&str]) -> Result<A, clap::Error> {
    let command = A::augment_args(clap::Command::new("redline"));
    let matches =
        command.try_get_matches_from(std::iter::once("redline").chain(flags.iter().copied()))?;
    A::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_flags_parse_and_reject_garbage() {
        let common = parse_flags::<CommonArgs>(&[
            "--external-label",
            "cluster=c1",
            "--external-label",
            "region=eu",
            "--remote-write-header",
            "X-Scope-OrgID=t1",
        ])
        .unwrap();
        assert_eq!(
            common.external_labels,
            [
                ("cluster".into(), "c1".into()),
                ("region".into(), "eu".into())
            ]
        );
        assert_eq!(
            common.remote_write_headers,
            [("X-Scope-OrgID".into(), "t1".into())]
        );
        let e = parse_flags::<CommonArgs>(&["--external-label", "nokey"]).unwrap_err();
        assert!(e.to_string().contains("not key=value"), "{e}");
    }

    #[test]
    fn defaults_are_documented_values() {
        let common = parse_flags::<CommonArgs>(&[]).unwrap();
        assert_eq!(common.push_interval, Duration::from_secs(5));
        assert_eq!(common.admin_addr, None, "127.0.0.1:9470 or a free port");
        assert!(common.remote_write_url.is_none());
        assert_eq!(common.remote_write_protocol, ProtocolArg::Auto);
    }

    #[test]
    fn the_protocol_flag_takes_the_spec_version_numbers() {
        for (flag, want) in [
            ("1.0", redline_remote_write::Protocol::V1),
            ("2.0", redline_remote_write::Protocol::V2),
            ("auto", redline_remote_write::Protocol::Auto),
        ] {
            let common = parse_flags::<CommonArgs>(&[
                "--remote-write-url",
                "http://x/api/v1/write",
                "--remote-write-protocol",
                flag,
            ])
            .unwrap();
            let cfg = common.remote_write_config().unwrap().unwrap();
            assert_eq!(cfg.protocol, want, "{flag}");
        }
        let e = parse_flags::<CommonArgs>(&["--remote-write-protocol", "3"])
            .err()
            .unwrap();
        assert!(e.to_string().contains("1.0"), "{e}");
    }

    #[test]
    fn bearer_and_basic_auth_together_are_refused() {
        let a = CommonArgs {
            remote_write_url: Some("http://x/api/v1/write".into()),
            remote_write_bearer_token_file: Some("/t".into()),
            remote_write_username: Some("u".into()),
            ..CommonArgs::default()
        };
        assert!(a.remote_write_config().is_err());
    }
}
