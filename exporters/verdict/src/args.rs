//! Flags of `redline verdict`; each is also a `REDLINE_*` environment variable.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct VerdictArgs {
    /// Prometheus base URL (the HTTP API), e.g. http://127.0.0.1:9090.
    #[arg(long, env = "REDLINE_PROMETHEUS_URL")]
    pub prometheus: String,

    /// The run to judge: its `testid` label.
    #[arg(long, env = "REDLINE_TESTID")]
    pub testid: String,

    /// Start of the run window (RFC 3339 or Unix seconds). Default: the run's first sample.
    #[arg(long, env = "REDLINE_VERDICT_FROM")]
    pub from: Option<String>,

    /// End of the run window (RFC 3339 or Unix seconds). Default: the run's last sample.
    #[arg(long, env = "REDLINE_VERDICT_TO")]
    pub to: Option<String>,

    /// How far back from now to look for the run when --from is not given.
    #[arg(long, env = "REDLINE_VERDICT_LOOKBACK", default_value = "24h", value_parser = humantime::parse_duration)]
    pub lookback: Duration,

    /// Time after the run's last sample during which alerts still count (the rules' last
    /// evaluations over the run's data). Default: twice the longest rule-group interval.
    /// The verdict waits until it has passed.
    #[arg(long, env = "REDLINE_VERDICT_SETTLE", value_parser = humantime::parse_duration)]
    pub settle: Option<Duration>,

    /// Write a JUnit XML report (one test case per alert rule).
    #[arg(long, env = "REDLINE_VERDICT_JUNIT")]
    pub junit: Option<PathBuf>,

    /// Write the whole report as JSON.
    #[arg(long, env = "REDLINE_VERDICT_JSON")]
    pub json: Option<PathBuf>,

    /// Write one self-contained HTML report with SVG charts.
    #[arg(long, env = "REDLINE_VERDICT_HTML")]
    pub html: Option<PathBuf>,

    /// Write the step table as CSV (one row per step; RPS per pod when hpa-watch ran).
    #[arg(long, env = "REDLINE_VERDICT_CSV")]
    pub csv: Option<PathBuf>,

    /// Directory of rule files (alerts/): every alert rule in it must be loaded in
    /// Prometheus, otherwise the run cannot be judged by it (exit 2).
    #[arg(long, env = "REDLINE_VERDICT_RULES")]
    pub rules: Option<PathBuf>,

    /// File holding a bearer token for the Prometheus API (never printed).
    #[arg(long, env = "REDLINE_PROMETHEUS_BEARER_TOKEN_FILE")]
    pub bearer_token_file: Option<PathBuf>,

    /// A run in which fewer than this share of requests got any HTTP response, none of
    /// them in its first 30 s, is invalid (exit 2), not a failed application.
    #[arg(
        long,
        env = "REDLINE_VERDICT_MIN_RESPONSE_RATIO",
        default_value_t = 0.01
    )]
    pub min_response_ratio: f64,

    /// The seed scenario the run is (repeatable; e.g. maas-tokens, vps-load): every rule
    /// that judges it must have had data, or the run is unjudged (exit 2). Scenarios whose
    /// name is the run's `scenario` label are checked without it.
    #[arg(long = "seed", env = "REDLINE_VERDICT_SEED", value_delimiter = ',')]
    pub seeds: Vec<String>,

    /// Timeout of each Prometheus API request.
    #[arg(long, env = "REDLINE_VERDICT_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

impl VerdictArgs {
    /// Defaults for a Prometheus URL and testid (what clap would fill in).
    pub fn new(prometheus: impl Into<String>, testid: impl Into<String>) -> Self {
        Self {
            prometheus: prometheus.into(),
            testid: testid.into(),
            from: None,
            to: None,
            lookback: Duration::from_secs(24 * 3600),
            settle: None,
            junit: None,
            json: None,
            html: None,
            csv: None,
            rules: None,
            bearer_token_file: None,
            min_response_ratio: 0.01,
            seeds: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A time flag: Unix seconds (fractions allowed) or RFC 3339.
pub(crate) fn parse_time(
    flag: &'static str,
    value: &str,
) -> Result<f64, crate::error::VerdictError> {
    if let Ok(secs) = value.trim().parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Ok(secs);
    }
    humantime::parse_rfc3339_weak(value.trim())
        .map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0)
        })
        .map_err(|e| crate::error::VerdictError::BadArg {
            flag,
            value: value.to_string(),
            message: format!("{e}; want RFC 3339 (2024-05-01T12:00:00Z) or Unix seconds"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: VerdictArgs,
    }

    #[test]
    fn flags_parse_with_defaults() {
        let cli = Cli::try_parse_from([
            "verdict",
            "--prometheus",
            "http://127.0.0.1:9090",
            "--testid",
            "run-1",
            "--settle",
            "5s",
        ])
        .unwrap();
        assert_eq!(cli.args.testid, "run-1");
        assert_eq!(cli.args.lookback, Duration::from_secs(86400));
        assert_eq!(cli.args.settle, Some(Duration::from_secs(5)));
        assert_eq!(cli.args.min_response_ratio, 0.01);
    }

    #[test]
    fn times_are_unix_seconds_or_rfc3339() {
        assert_eq!(parse_time("from", "1700000000.5").unwrap(), 1_700_000_000.5);
        assert_eq!(
            parse_time("from", "2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000.0
        );
        let e = parse_time("to", "yesterday").unwrap_err().to_string();
        assert!(e.contains("--to") && e.contains("yesterday"), "{e}");
    }
}
