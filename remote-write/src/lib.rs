//! A Prometheus remote-write client (1.0 and 2.0).
//!
//! [`Series`] is a validated, sorted label set built once; [`RemoteWriter`] takes
//! samples for it without ever blocking the caller, maps each series to one shard
//! (so its samples stay in order), batches, encodes (protobuf + snappy block),
//! sends with retries and backoff, and at shutdown flushes within a deadline and
//! writes staleness markers. It knows nothing of the daemons that use it.
//!
//! The wire messages are generated from Prometheus' own `.proto` files (`proto/`):
//! [`prompb`] for remote-write 1.0, [`write_v2`] for 2.0.

pub mod backoff;
mod batch;
mod classic;
mod clock;
mod config;
mod deliver;
mod encode;
mod encode_v2;
mod error;
#[cfg(test)]
mod golden;
mod meta;
mod negotiate;
pub mod prompb;
mod protocol;
#[cfg(test)]
mod scripted;
mod send;
mod series;
mod shard;
mod stats;
mod transport;
pub mod write_v2;
mod writer;

pub use clock::now_millis;
pub use config::{Auth, Config, HistogramFallback, NativeHistograms, Protocol, Secret};
pub use encode::{Entry, compress, encode_write_request};
pub use encode_v2::{encode_write_request_v2, write_request_v2};
pub use error::Error;
pub use meta::{Metadata, MetricKind};
pub use series::{
    InvalidSeries, STALE_NAN_BITS, Series, is_stale_nan, stale_nan, valid_label_name,
};
pub use stats::{DropReason, Stats, StatsSnapshot};
pub use writer::{RemoteWriter, ShutdownReport};
