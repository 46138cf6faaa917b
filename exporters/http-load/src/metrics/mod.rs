//! Measurement. The hot path records into a per-thread shard (an uncontended mutex only the
//! collector ever also takes): HDR histograms in µs plus counters, keyed by small label-set
//! indices. Collection merges the shards into a snapshot ([`Shard`]), from which the
//! collector writes k6's series (native + classic histograms, counters, rates, gauges) and the
//! summary reads its figures, so the two can never disagree.
//!
//! Bottom up: [`labels`] (the names behind the indices) and [`keys`] (the indices);
//! [`timed`] (one HDR histogram and its sum) and [`cells`] (what a key holds); [`shard`]
//! (recording, merging); [`gauges`] (live atomics); [`trend`] (k6 trend stats);
//! [`recorder`] ([`Metrics`]: per-thread shards, snapshot); [`mod@export`] (HDR → Prometheus
//! buckets) and [`families`] (writing one family); [`collector`] (every family from a
//! snapshot).

pub mod cells;
pub mod collector;
pub mod export;
pub mod families;
pub mod gauges;
pub mod keys;
pub mod labels;
pub mod recorder;
pub mod series;
pub mod shard;
pub mod timed;
pub mod trend;

pub use cells::{LlmCell, Phases, StepCell};
pub use collector::MetricsCollector;
pub use export::{CLASSIC_BOUNDS, Exported, export};
pub use gauges::{ScenarioGauges, StepSpan};
pub use keys::{ErrorReason, ReqKey, StepKey};
pub use labels::{Labels, RequestLabel, StepLabel, Tags};
pub use recorder::Metrics;
pub use shard::Shard;
pub use timed::{Hist, Timed, record};
pub use trend::TrendStat;
