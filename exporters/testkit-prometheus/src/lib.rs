//! Real remote-write receivers for tests: Debian's Prometheus 2.42, Prometheus 3 (built from
//! the pinned Go module by `hack/go-tools.sh prometheus`) and VictoriaMetrics, each started on a
//! free loopback port in a temp dir, stopped by pid, killed when dropped.
//!
//! `Prometheus::start()` starts the Prometheus that `REDLINE_TEST_PROMETHEUS` names (2, the
//! default, or 3) with the remote-write receiver and native histograms on.
//! `Prometheus::builder()` picks a receiver (`.v2()`, `.v3()`, `.victoria_metrics()`), the way
//! users start it (`.stock()`: the receiver flag and nothing else), rules and scrape configs.
//!
//! Tests that push, alert or query go through this and never through a mock, so what they
//! assert is what a user's server would store.

mod api;
mod binary;
mod builder;
mod config;
mod error;
mod flags;
mod options;
mod receiver;
mod server;
mod skip;

pub use api::{QueryApi, Series, by_label};
pub use binary::promtool;
pub use builder::Builder;
pub use error::HarnessError;
pub use options::Options;
pub use receiver::Receiver;
pub use server::{Prometheus, free_port};
pub use skip::{in_ci, skip_if_missing};
