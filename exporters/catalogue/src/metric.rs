//! What the catalogue says about one series family: its name, type, label keys and help.
//! Plain data, read by the dashboards and rules checks, the READMEs and `redline verdict`.

/// The Prometheus type of a series family as it appears in Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    /// Classic histogram: `_bucket`, `_sum`, `_count` series.
    Histogram,
    /// Native (exponential) histogram: one series holding the whole distribution.
    NativeHistogram,
    /// Classic and native together (the same family written both ways).
    HistogramBoth,
    /// Written by a recording rule in `alerts/`, not by a daemon.
    Recorded,
}

/// One series family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// Full name as queried in PromQL (counters include `_total`).
    pub name: &'static str,
    pub kind: Kind,
    /// Label keys the family carries besides `testid` and external labels.
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

impl Metric {
    /// The name to register with prometheus-client, which appends `_total` to counters
    /// itself.
    pub fn family_name(&self) -> &'static str {
        match self.kind {
            Kind::Counter => self
                .name
                .strip_suffix("_total")
                .expect("catalogued counters end in _total"),
            _ => self.name,
        }
    }

    /// The help to register with prometheus-client, which appends the final period itself.
    pub fn family_help(&self) -> &'static str {
        self.help.trim_end_matches('.')
    }
}
