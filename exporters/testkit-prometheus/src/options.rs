//! How a test wants its receiver started.

use std::path::PathBuf;
use std::time::Duration;

use crate::receiver::Receiver;

/// How to start a receiver. Every field has a default; build it with
/// `Options { rule_files, ..Default::default() }` or with [`crate::Prometheus::builder`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Rule files to load (copied into the config's `rule_files`).
    pub rule_files: Vec<PathBuf>,
    /// `global.evaluation_interval`; short so alert tests run fast.
    pub evaluation_interval: Duration,
    /// Extra scrape configs as raw YAML list items (each starting with `- job_name:`).
    pub scrape_configs: Vec<String>,
    /// Alertmanager-free lookback; Prometheus' default is 5m.
    pub lookback_delta: Option<Duration>,
    /// Which server; `None` takes `REDLINE_TEST_PROMETHEUS` (Prometheus 2 unless it says 3).
    pub receiver: Option<Receiver>,
    /// Start it the way most users do: the remote-write receiver switched on and no other
    /// flag (Prometheus 2 then refuses native histograms); VictoriaMetrics with no flags.
    /// Off, the harness adds what makes tests fast and exact (native histograms on 2.x, the
    /// lifecycle API, quiet logs; VictoriaMetrics without its query cache and 30 s latency offset).
    pub stock: bool,
    /// Native histograms over remote-write. `None`: whatever the server does with the chosen
    /// flags (on for the harness's 2.x, off for a stock 2.x, always on for 3.x, never for
    /// VictoriaMetrics). `Some` insists, and a server that cannot honour it refuses to start.
    pub native_histograms: Option<bool>,
    /// `--enable-feature=exemplar-storage` (Prometheus 2 and 3; even with `stock`): without it
    /// Prometheus takes remote-written exemplars and `/api/v1/query_exemplars` returns none.
    /// VictoriaMetrics stores no exemplars and refuses to start with it.
    pub exemplar_storage: bool,
    /// `--enable-feature=created-timestamp-zero-ingestion` (Prometheus 3 only; even with
    /// `stock`): a sample's remote-write 2.0 `start_timestamp` becomes a stored zero sample at
    /// that time. Prometheus 2.42 predates the feature and refuses to start with it.
    pub created_timestamp_zero_ingestion: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rule_files: Vec::new(),
            evaluation_interval: Duration::from_secs(1),
            scrape_configs: Vec::new(),
            lookback_delta: None,
            receiver: None,
            stock: false,
            native_histograms: None,
            exemplar_storage: false,
            created_timestamp_zero_ingestion: false,
        }
    }
}
