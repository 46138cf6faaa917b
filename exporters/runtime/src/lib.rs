//! The shared daemon runtime: common flags, the admin server (`/metrics`, `/ready`,
//! `/live`), the push loop that turns the same prometheus-client registry into
//! remote-write series, signal handling and tracing.
//!
//! A daemon builds its metrics, runs its loop and returns; it writes no HTTP
//! server, encoder or shutdown logic of its own:
//!
//! ```no_run
//! # async fn demo(args: redline_runtime::CommonArgs) -> Result<(), redline_runtime::RuntimeError> {
//! use prometheus_client::metrics::{family::Family, gauge::Gauge};
//! use redline_catalogue::fit;
//! type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;
//!
//! let mut rt = redline_runtime::Runtime::new(&args, "fit")?;
//! // Every family of the daemon's catalogue module, under the catalogue's names: the
//! // compiler refuses a registration that leaves one out.
//! let ratio = Family::<fit::RatioLabels, FloatGauge>::default();
//! fit::Families {
//!     BUDGET_RATIO: ratio.clone(),
//!     CPU_CORES: Family::<fit::BasisLabels, FloatGauge>::default(),
//!     MEMORY_BYTES: Family::<fit::BasisLabels, FloatGauge>::default(),
//!     USAGE_AVAILABLE: Gauge::<i64>::default(),
//! }
//! .register(rt.registry());
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
mod created;
mod error;
mod lost;
mod pod_metrics;
mod runtime;
mod selector;
mod signals;
mod telemetry;

pub use args::{
    CommonArgs, HistogramFallbackArg, LogFormat, NativeHistogramsArg, ProtocolArg, parse_flags,
    parse_key_value,
};
pub use catalogued::catalogue_mismatches;
pub use collect::{Collected, collect};
pub use error::RuntimeError;
pub use lost::{SAMPLES_LOST_EXIT_CODE, report_lost, samples_lost};
pub use pod_metrics::{ContainerUsage, PodMetricsBody, parse_quantity};
pub use runtime::{FinishReport, Running, Runtime};
pub use selector::{Requirement, label_set, parse_selector};
pub use signals::shutdown_on_signal;
pub use telemetry::init_tracing;
