//! Flags of `redline locust-exporter`; every flag is also a `REDLINE_*` environment variable.

use std::time::Duration;

use redline_runtime::CommonArgs;

use crate::LocustExporterError;

#[derive(Debug, Clone, clap::Args)]
pub struct LocustExporterArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The Locust master's web UI (its /stats/requests is polled). The web UI must run:
    /// `--headless` turns it off, so use `--autostart` (with `--autoquit`) instead.
    #[arg(
        long,
        env = "REDLINE_LOCUST_URL",
        default_value = "http://127.0.0.1:8089"
    )]
    pub locust_url: String,
    /// How often to poll. Locust itself refreshes /stats/requests at most every 2 s.
    #[arg(long, env = "REDLINE_LOCUST_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// The `scenario` label of every series (the alerts' thresholds are chosen per scenario).
    #[arg(long, env = "REDLINE_LOCUST_SCENARIO", default_value = "locust")]
    pub scenario: String,
    /// Finish once a test that ran has stopped (after reading its final stats). Turn off for a
    /// long-lived web-UI master that runs several tests: counters then carry on across them.
    #[arg(long, env = "REDLINE_LOCUST_EXIT_ON_STOP", default_value_t = true, action = clap::ArgAction::Set)]
    pub exit_on_stop: bool,
    /// Finish when Locust, once seen, has not answered for this long (it exited). 0 = never.
    #[arg(long, env = "REDLINE_LOCUST_GONE_AFTER", default_value = "30s", value_parser = humantime::parse_duration)]
    pub gone_after: Duration,
    /// Timeout of one poll.
    #[arg(long, env = "REDLINE_LOCUST_REQUEST_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Distinct (name, method) endpoints given their own series; the rest count as name="other".
    #[arg(long, env = "REDLINE_LOCUST_MAX_ENDPOINTS", default_value_t = 100)]
    pub max_endpoints: usize,
    /// Distinct error messages given their own `error` label; the rest count as error="other".
    #[arg(long, env = "REDLINE_LOCUST_MAX_ERRORS", default_value_t = 50)]
    pub max_errors: usize,
}

impl LocustExporterArgs {
    /// For tests: polls `locust_url` every 500 ms, pushes to `remote_write_url`.
    pub fn for_test(locust_url: &str, remote_write_url: Option<&str>, testid: &str) -> Self {
        let common = match remote_write_url {
            Some(u) => CommonArgs::for_test(u, testid),
            None => CommonArgs {
                testid: Some(testid.into()),
                ..CommonArgs::default()
            },
        };
        Self {
            common,
            locust_url: locust_url.into(),
            interval: Duration::from_millis(500),
            scenario: "locust".into(),
            exit_on_stop: true,
            gone_after: Duration::from_secs(5),
            request_timeout: Duration::from_secs(2),
            max_endpoints: 100,
            max_errors: 50,
        }
    }

    /// `<locust-url>/stats/requests`, validated.
    pub fn stats_url(&self) -> Result<reqwest::Url, LocustExporterError> {
        let flag = |message: String| LocustExporterError::Flag {
            flag: "--locust-url",
            message,
        };
        let base = reqwest::Url::parse(self.locust_url.trim_end_matches('/'))
            .map_err(|e| flag(format!("{:?} is not a URL: {e}", self.redacted_url())))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(flag(format!(
                "{:?} must be http:// or https://",
                self.redacted_url()
            )));
        }
        if self.interval < Duration::from_millis(100) {
            return Err(LocustExporterError::Flag {
                flag: "--interval",
                message: "must be at least 100ms".into(),
            });
        }
        let path = format!("{}/stats/requests", base.path().trim_end_matches('/'));
        let mut url = base;
        url.set_path(&path);
        Ok(url)
    }

    /// The URL as it may appear in logs: without a password.
    pub fn redacted_url(&self) -> String {
        match reqwest::Url::parse(&self.locust_url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("redacted"));
                u.to_string()
            }
            Ok(u) => u.to_string(),
            Err(_) => "<unparseable URL>".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_the_stats_url() {
        let a = redline_runtime::parse_flags::<LocustExporterArgs>(&[]).unwrap();
        assert_eq!(a.locust_url, "http://127.0.0.1:8089");
        assert_eq!(a.interval, Duration::from_secs(2));
        assert!(a.exit_on_stop);
        assert_eq!(
            a.stats_url().unwrap().as_str(),
            "http://127.0.0.1:8089/stats/requests"
        );
        let a = redline_runtime::parse_flags::<LocustExporterArgs>(&[
            "--locust-url",
            "http://m:8089/locust/",
            "--exit-on-stop",
            "false",
        ])
        .unwrap();
        assert_eq!(
            a.stats_url().unwrap().as_str(),
            "http://m:8089/locust/stats/requests"
        );
        assert!(!a.exit_on_stop);
    }

    #[test]
    fn a_bad_url_is_named_without_its_password() {
        let mut a = LocustExporterArgs::for_test("ftp://u:hunter2@x/", None, "t");
        let e = a.stats_url().unwrap_err().to_string();
        assert!(e.contains("--locust-url") && !e.contains("hunter2"), "{e}");
        a.locust_url = "not a url".into();
        assert!(a.stats_url().unwrap_err().to_string().contains("not a URL"));
        a.locust_url = "http://u:hunter2@x:1".into();
        assert!(!a.redacted_url().contains("hunter2"));
    }
}
