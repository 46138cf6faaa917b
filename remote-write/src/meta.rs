//! What a series is, as remote-write 2.0 sends it beside the samples: type, help and unit.
//! A receiver shows it in `/api/v1/metadata`, and a dashboard's tooltips and a query
//! builder's hints come from there; 1.0 has no per-series place for it.

/// A metric's type, as OpenMetrics names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricKind {
    #[default]
    Unknown,
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
}

/// Type, help and unit of the metric a series belongs to. Empty strings mean "not known".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    pub kind: MetricKind,
    pub help: String,
    pub unit: String,
}

impl Metadata {
    pub fn new(kind: MetricKind, help: impl Into<String>) -> Self {
        Self {
            kind,
            help: help.into(),
            unit: String::new(),
        }
    }

    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = unit.into();
        self
    }
}
