//! The embedded demo target: one small HTTP server that behaves like the systems the seed plans
//! load-test (Knative's autoscale-go, an OpenAI-style model gateway with tiered rate limits,
//! KubeServe's predict API) plus a tiny kv store for the chaos prober's lost-write check.
//!
//! It is started in-process by tests and benchmarks ([`spawn`]) and by `redline target`
//! ([`run`]). Every injected delay is a lower bound the load generator's measurements are
//! checked against, so delays use deadlines (never early) and nothing blocks the runtime.

mod args;
mod autoscale;
mod body;
mod error;
mod faults;
mod kv;
mod limits;
mod metrics;
mod openai;
mod predict;
mod query;
mod server;

pub use args::TargetArgs;
pub use error::TargetError;
pub use limits::{TierLimits, TiersConfig};
pub use metrics::{Endpoint, RequestStats};
pub use server::{TargetHandle, spawn};

use tokio_util::sync::CancellationToken;

/// Runs the target until `shutdown` is cancelled, then finishes in-flight requests (up to
/// `--shutdown-grace`) and returns.
pub async fn run(args: TargetArgs, shutdown: CancellationToken) -> Result<(), TargetError> {
    server::Bound::new(args).await?.run(shutdown).await
}
