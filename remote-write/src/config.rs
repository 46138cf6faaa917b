//! Where and how to write: endpoint, auth, TLS, queue shape.

use std::path::PathBuf;
use std::time::Duration;

/// A secret string whose `Debug` and `Display` never show it, so a config dumped
/// into a log or an error cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// Read from a file before each request when the file changed, so a rotated
    /// (e.g. projected ServiceAccount) token is picked up without a restart.
    BearerFile(PathBuf),
    Bearer(Secret),
    Basic {
        username: String,
        password: Secret,
    },
}

/// Whether native histograms are offered to the receiver (`--native-histograms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NativeHistograms {
    /// Sent as native histograms until the receiver says it does not take them
    /// (`native histograms are disabled`); then [`HistogramFallback`] applies.
    #[default]
    Offer,
    /// Never sent as native histograms: [`HistogramFallback`] applies from the start.
    Never,
}

/// What a native histogram becomes where the receiver does not take it
/// (`--native-histogram-fallback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HistogramFallback {
    /// Classic `_bucket{le}`, `_count`, `_sum` series at the native bucket bounds.
    #[default]
    Classic,
    /// Dropped and counted (`reason="histograms_refused"`); the run reports them lost.
    Drop,
}

/// Which remote-write protocol to speak (`--remote-write-protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// `prometheus.WriteRequest`, which every receiver takes.
    #[default]
    V1,
    /// `io.prometheus.write.v2.Request` only.
    V2,
    /// 2.0 until the receiver shows it speaks only 1.0 (a 415, or an answer without the
    /// written-samples headers every 2.0 receiver sends); then 1.0 for good, the refused
    /// batch resent.
    Auto,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// e.g. `http://prometheus:9090/api/v1/write`.
    pub url: String,
    pub auth: Auth,
    /// Extra request headers, e.g. `X-Scope-OrgID` for Mimir/Cortex tenants.
    pub headers: Vec<(String, String)>,
    /// PEM file with the CA that signs the receiver's certificate.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. Only ever set explicitly.
    pub insecure_skip_verify: bool,
    /// Added to every series that lacks a label of that name.
    pub external_labels: Vec<(String, String)>,
    /// Series map to shards by label hash, so one series is always sent in order.
    pub shards: usize,
    /// Samples the shard queues hold in total; beyond it samples are dropped and
    /// counted, never waited for.
    pub queue_capacity: usize,
    pub max_samples_per_send: usize,
    /// A partial batch is sent after waiting this long.
    pub batch_send_deadline: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub request_timeout: Duration,
    /// Write StaleNaN for every series at shutdown.
    pub staleness_markers: bool,
    pub user_agent: String,
    pub native_histograms: NativeHistograms,
    pub histogram_fallback: HistogramFallback,
    /// The library defaults to 1.0, which every receiver takes; the daemons' flag defaults
    /// to [`Protocol::Auto`].
    pub protocol: Protocol,
}

impl Config {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth: Auth::None,
            headers: Vec::new(),
            ca_file: None,
            insecure_skip_verify: false,
            external_labels: Vec::new(),
            shards: 2,
            queue_capacity: 200_000,
            max_samples_per_send: 2_000,
            batch_send_deadline: Duration::from_millis(500),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            staleness_markers: true,
            user_agent: concat!("redline/", env!("CARGO_PKG_VERSION")).to_string(),
            native_histograms: NativeHistograms::Offer,
            histogram_fallback: HistogramFallback::Classic,
            protocol: Protocol::V1,
        }
    }
}
