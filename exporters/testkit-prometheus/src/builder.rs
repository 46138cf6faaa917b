//! `Prometheus::builder()`: choosing the receiver and its flags in one readable chain.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::HarnessError;
use crate::options::Options;
use crate::receiver::Receiver;
use crate::server::Prometheus;
use crate::skip::skip_if_missing;

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

    /// Stock Prometheus 3 storing a zero sample at each series' created time, where a test sees
    /// whether created timestamps arrived; `None` as [`Builder::start_or_skip`] says. Panics
    /// when it fails to start: only tests call it.
    pub async fn start_v3_with_created_zeros_or_skip() -> Option<Prometheus> {
        Self::builder()
            .v3()
            .stock()
            .created_timestamp_zero_ingestion()
            .start_or_skip()
            .await
            .unwrap_or_else(|e| panic!("Prometheus 3 with created-timestamp zeros: {e}"))
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

    /// Store remote-written exemplars; see [`Options::exemplar_storage`].
    pub fn exemplar_storage(mut self) -> Self {
        self.options.exemplar_storage = true;
        self
    }

    /// Store a zero at each remote-written start timestamp; see
    /// [`Options::created_timestamp_zero_ingestion`].
    pub fn created_timestamp_zero_ingestion(mut self) -> Self {
        self.options.created_timestamp_zero_ingestion = true;
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
        skip_if_missing(self.start().await)
    }
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
        assert!(!o.exemplar_storage && !o.created_timestamp_zero_ingestion);
        let b = Prometheus::builder()
            .exemplar_storage()
            .created_timestamp_zero_ingestion();
        assert!(b.options().exemplar_storage && b.options().created_timestamp_zero_ingestion);
        let b = Prometheus::builder()
            .victoria_metrics()
            .native_histograms(false);
        assert_eq!(b.options().receiver, Some(Receiver::VictoriaMetrics));
        assert_eq!(b.options().native_histograms, Some(false));
        assert_eq!(Prometheus::builder().options().receiver, None);
    }
}
