//! The shared daemon runtime: common flags, the admin server (`/metrics`, `/ready`,
//! `/live`), the push loop that turns the same prometheus-client registry into
//! remote-write series, signal handling and tracing.
//!
//! A daemon builds its metrics, runs its loop and returns; it writes no HTTP
//! server, encoder or shutdown logic of its own:
//!
//! ```no_run
//! # async fn demo(args: redline_runtime::CommonArgs) -> Result<(), redline_runtime::RuntimeError> {
//! let mut rt = redline_runtime::Runtime::new(&args, "example")?;
//! let requests = prometheus_client::metrics::counter::Counter::<u64>::default();
//! rt.registry().register("example_requests", "Requests handled", requests.clone());
//! let running = rt.start().await?;
//! running.set_ready(true);
//! running.shutdown_token().cancelled().await; // the work loop
//! running.finish().await?;
//! # Ok(()) }
//! ```

mod admin;
mod args;
mod catalogued;
mod collect;
mod error;
mod runtime;
mod signals;
mod telemetry;

pub use args::{CommonArgs, LogFormat, parse_key_value};
pub use catalogued::{exposed_families, uncatalogued};
pub use collect::{Collected, collect};
pub use error::RuntimeError;
pub use runtime::{FinishReport, Running, Runtime};
pub use signals::shutdown_on_signal;
pub use telemetry::init_tracing;

use prometheus_client::registry::{Metric, Registry};

/// Registers `metric` under its catalogue name and help, so the name a daemon
/// writes and the name dashboards and rules are checked against cannot drift.
/// Counters are catalogued with `_total`, which prometheus-client appends itself.
pub fn register<M: Metric>(registry: &mut Registry, entry: &redline_catalogue::Metric, metric: M) {
    registry.register(entry.family_name(), entry.family_help(), metric);
}
