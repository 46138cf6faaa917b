use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Flags of `redline target`. Every flag can also come from `REDLINE_TARGET_*` and from a
/// config document (kebab-case keys, durations as humantime strings such as "250ms" or "2m",
/// read by `humantime_serde` as on the command line), so a scenario file can
/// embed the target it runs against.
#[derive(Debug, Clone, PartialEq, clap::Args, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct TargetArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "REDLINE_TARGET_LISTEN", default_value = "127.0.0.1:8099")]
    pub listen: SocketAddr,

    /// Time between two generated tokens of an OpenAI-style completion, streamed or not:
    /// token `i` (from 0) is ready at `ttft-delay + i * token-delay`.
    /// Per request: header `x-redline-token-delay-ms` or query `token_delay_ms`.
    #[arg(long, env = "REDLINE_TARGET_TOKEN_DELAY", default_value = "10ms", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub token_delay: Duration,

    /// Time to the first generated token.
    /// Per request: header `x-redline-ttft-ms` or query `ttft_ms`.
    #[arg(long, env = "REDLINE_TARGET_TTFT_DELAY", default_value = "0s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub ttft_delay: Duration,

    /// YAML or JSON file of rate-limit tiers; replaces the built-in free/premium/enterprise tiers.
    #[arg(long, env = "REDLINE_TARGET_TIERS")]
    pub tiers: Option<PathBuf>,

    /// Bearer tokens, one `tier,token` per line (the file `redline http-load` reads).
    #[arg(long, env = "REDLINE_TARGET_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,

    /// Answer 401 to requests whose bearer token is missing or maps to no tier.
    #[arg(long, env = "REDLINE_TARGET_REQUIRE_AUTH")]
    pub require_auth: bool,

    /// Make kv writes durable: appended and fsynced to this file before they are acknowledged,
    /// and reloaded at start.
    #[arg(long, env = "REDLINE_TARGET_KV_FILE")]
    pub kv_file: Option<PathBuf>,

    /// Acknowledge kv writes without persisting them, so a restart loses every write
    /// acknowledged since start: the fault the chaos prober's lost-write check must catch.
    #[arg(long, env = "REDLINE_TARGET_KV_ACK_BEFORE_WRITE")]
    pub kv_ack_before_write: bool,

    /// Largest request body read, in bytes; larger bodies get 413.
    #[arg(long, env = "REDLINE_TARGET_MAX_BODY", default_value_t = 16 * 1024 * 1024)]
    pub max_body: usize,

    /// Largest `prime` query accepted by autoscale.
    #[arg(long, env = "REDLINE_TARGET_MAX_PRIME", default_value_t = 10_000_000)]
    pub max_prime: u64,

    /// Largest `bloat` query (MB) accepted by autoscale; also the total MB that concurrent
    /// bloat requests may hold at once, so a burst queues instead of exhausting memory.
    #[arg(long, env = "REDLINE_TARGET_MAX_BLOAT_MB", default_value_t = 512)]
    pub max_bloat_mb: u32,

    /// Completion tokens generated when a request sets no `max_tokens` (OpenAI's legacy default).
    #[arg(long, env = "REDLINE_TARGET_DEFAULT_MAX_TOKENS", default_value_t = 16)]
    pub default_max_tokens: u32,

    /// Model id reported when a request names none, and listed by `GET /v1/models`.
    #[arg(long, env = "REDLINE_TARGET_MODEL", default_value = "redline-demo")]
    pub model: String,

    /// Bind at once but accept no connection before this delay, like a cold-starting pod
    /// (the Knative scenario's 5 s / 15 s startup delays).
    #[arg(long, env = "REDLINE_TARGET_STARTUP_DELAY", default_value = "0s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub startup_delay: Duration,

    /// How long a graceful shutdown waits for in-flight requests before dropping them.
    #[arg(long, env = "REDLINE_TARGET_SHUTDOWN_GRACE", default_value = "5s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for TargetArgs {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8099)),
            token_delay: Duration::from_millis(10),
            ttft_delay: Duration::ZERO,
            tiers: None,
            tokens_file: None,
            require_auth: false,
            kv_file: None,
            kv_ack_before_write: false,
            max_body: 16 * 1024 * 1024,
            max_prime: 10_000_000,
            max_bloat_mb: 512,
            default_max_tokens: 16,
            model: "redline-demo".to_owned(),
            startup_delay: Duration::ZERO,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl TargetArgs {
    /// Defaults on an ephemeral loopback port: what in-process tests and benchmarks want.
    pub fn ephemeral() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TargetArgs,
    }

    #[test]
    fn clap_defaults_match_default_impl() {
        // Guards against the two sources of defaults drifting apart. Skipped when the
        // environment sets any REDLINE_TARGET_* variable, since clap would read it.
        if std::env::vars().any(|(k, _)| k.starts_with("REDLINE_TARGET_")) {
            return;
        }
        let parsed = Cli::try_parse_from(["target"]).unwrap().args;
        assert_eq!(parsed, TargetArgs::default());
    }

    #[test]
    fn flags_parse() {
        let parsed = Cli::try_parse_from([
            "target",
            "--listen",
            "0.0.0.0:9000",
            "--token-delay",
            "25ms",
            "--require-auth",
            "--kv-file",
            "/tmp/kv.log",
        ])
        .unwrap()
        .args;
        assert_eq!(parsed.listen.port(), 9000);
        assert_eq!(parsed.token_delay, Duration::from_millis(25));
        assert!(parsed.require_auth);
        assert_eq!(
            parsed.kv_file.as_deref(),
            Some(std::path::Path::new("/tmp/kv.log"))
        );
    }

    #[test]
    fn deserializes_kebab_case_with_defaults() {
        let args: TargetArgs = serde_json::from_str(
            r#"{"listen":"127.0.0.1:0","ttft-delay":"150ms","require-auth":true}"#,
        )
        .unwrap();
        assert_eq!(args.ttft_delay, Duration::from_millis(150));
        assert!(args.require_auth);
        assert_eq!(args.token_delay, Duration::from_millis(10));
        assert!(serde_json::from_str::<TargetArgs>(r#"{"no-such-flag":1}"#).is_err());
        let e = serde_json::from_str::<TargetArgs>(r#"{"ttft-delay":"soon"}"#).unwrap_err();
        assert!(
            e.to_string().contains("soon") || e.to_string().contains("unit"),
            "{e}"
        );
    }
}
