//! `Prometheus::builder()`: choosing the receiver and its flags in one readable chain, and
//! skipping (loudly) a test whose optional receiver is not installed.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::HarnessError;
use crate::options::Options;
use crate::receiver::Receiver;
use crate::server::Prometheus;

/// Fluent [`Options`]: `Prometheus::builder().v3().stock().start().await`.
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until .start()"]
pub struct Builder {
    options: Options,
}

impl Prometheus {
    /// Starts from the defaults of [`Options`]: the `REDLINE_TEST_PROMETHEUS` Prometheus with
    /// the harness's flags.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl Builder {
    /// Debian's Prometheus 2.42, whatever `REDLINE_TEST_PROMETHEUS` says.
    pub fn v2(self) -> Self {
        self.receiver(Receiver::Prometheus2)
    }

    /// Prometheus 3 from `hack/go-tools.sh prometheus`, whatever `REDLINE_TEST_PROMETHEUS` says.
    pub fn v3(self) -> Self {
        self.receiver(Receiver::Prometheus3)
    }

    /// VictoriaMetrics single-node (no rules).
    pub fn victoria_metrics(self) -> Self {
        self.receiver(Receiver::VictoriaMetrics)
    }

    pub fn receiver(mut self, receiver: Receiver) -> Self {
        self.options.receiver = Some(receiver);
        self
    }

    /// As users start it: `--web.enable-remote-write-receiver` and nothing else.
    pub fn stock(mut self) -> Self {
        self.options.stock = true;
        self
    }

    /// Insist on native histograms being taken (or refused); see [`Options::native_histograms`].
    pub fn native_histograms(mut self, on: bool) -> Self {
        self.options.native_histograms = Some(on);
        self
    }

    pub fn rule_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.rule_files.push(path.into());
        self
    }

    pub fn rule_files(mut self, paths: impl IntoIterator<Item = impl Into<PathBuf>>) -> Self {
        self.options
            .rule_files
            .extend(paths.into_iter().map(Into::into));
        self
    }

    pub fn evaluation_interval(mut self, interval: Duration) -> Self {
        self.options.evaluation_interval = interval;
        self
    }

    /// One scrape config as a raw YAML list item (starting with `- job_name:`).
    pub fn scrape_config(mut self, yaml: impl Into<String>) -> Self {
        self.options.scrape_configs.push(yaml.into());
        self
    }

    pub fn lookback_delta(mut self, lookback: Duration) -> Self {
        self.options.lookback_delta = Some(lookback);
        self
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    pub async fn start(self) -> Result<Prometheus, HarnessError> {
        Prometheus::start_with(self.options).await
    }

    /// For a test of a receiver this machine may lack: `None`, after a loud banner on stderr
    /// naming the install step, when its program is missing. Under `CI=true` a missing program
    /// is an error instead, so CI can never pass by skipping.
    pub async fn start_or_skip(self) -> Result<Option<Prometheus>, HarnessError> {
        match self.start().await {
            Err(e @ HarnessError::Missing { .. }) if !in_ci() => {
                // Straight to the process' stderr: libtest captures eprintln! and shows it
                // only for failing tests, and a skip must be seen.
                let _ = writeln!(std::io::stderr(), "{}", skip_banner(&e));
                Ok(None)
            }
            other => other.map(Some),
        }
    }
}

/// `CI` set to anything but empty, `0` or `false` (GitHub Actions, GitLab and `.ci/run` set
/// `CI=true`).
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

fn skip_banner(e: &HarnessError) -> String {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    let rule = "=".repeat(78);
    format!("{rule}\nSKIPPED {test}: {e}\n  (with CI=true this is a failure)\n{rule}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_fills_the_options() {
        let b = Prometheus::builder()
            .v3()
            .stock()
            .rule_file("a.yml")
            .rule_files(["b.yml"])
            .scrape_config("- job_name: x")
            .lookback_delta(Duration::from_secs(30))
            .evaluation_interval(Duration::from_millis(500));
        let o = b.options();
        assert_eq!(o.receiver, Some(Receiver::Prometheus3));
        assert!(o.stock);
        assert_eq!(
            o.rule_files,
            [PathBuf::from("a.yml"), PathBuf::from("b.yml")]
        );
        assert_eq!(o.scrape_configs, ["- job_name: x"]);
        assert_eq!(o.lookback_delta, Some(Duration::from_secs(30)));
        assert_eq!(o.evaluation_interval, Duration::from_millis(500));
        assert_eq!(o.native_histograms, None);
        let b = Prometheus::builder()
            .victoria_metrics()
            .native_histograms(false);
        assert_eq!(b.options().receiver, Some(Receiver::VictoriaMetrics));
        assert_eq!(b.options().native_histograms, Some(false));
        assert_eq!(Prometheus::builder().options().receiver, None);
    }

    #[test]
    fn the_skip_banner_names_the_test_and_the_install_step() {
        let e = HarnessError::Missing {
            receiver: "VictoriaMetrics",
            why: "`victoria-metrics` is not on PATH".into(),
            install: Receiver::VictoriaMetrics.install_step(),
        };
        let banner = skip_banner(&e);
        assert!(banner.contains("SKIPPED"), "{banner}");
        assert!(
            banner.contains("the_skip_banner_names_the_test"),
            "{banner}"
        );
        assert!(
            banner.contains("apt-get install -y victoria-metrics"),
            "{banner}"
        );
    }
}
