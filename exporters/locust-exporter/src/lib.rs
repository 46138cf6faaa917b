//! `redline locust-exporter`: polls a Locust master's `/stats/requests` and turns it into
//! `locust_*` series (served on `/metrics` and remote-written), so a Locust run is judged by
//! the same recording rules, alerts, dashboards and `redline verdict` as redline's own load.
//!
//! The parts:
//! - [`report`]: the JSON Locust's web UI serves, read leniently but never guessed at;
//! - [`poll`]: how each poll went (ok, unreachable, an HTTP error, not Locust's JSON);
//! - [`tracker`]: cumulative totals → increments, reset-safe (Locust clears its stats when a
//!   new test starts), attributed to a `step` (the user count), with bounded label sets;
//! - [`metrics`]: the families, under their catalogue names;
//! - `run`: the poll loop ([`run()`]), the end of the run (final stats, then staleness markers).
//!
//! Response times are Locust's own: it rounds them to about two significant digits before
//! computing percentiles (147 ms is kept as 150 ms), and its percentiles cover the whole test
//! so far, not the last interval.

pub mod args;
pub mod metrics;
pub mod poll;
pub mod report;
mod run;
pub mod tracker;

pub use args::LocustExporterArgs;
use redline_runtime::RuntimeError;
pub use run::run;

#[derive(Debug, thiserror::Error)]
pub enum LocustExporterError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
}
