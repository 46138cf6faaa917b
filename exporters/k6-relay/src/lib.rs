//! `redline k6-relay`: a remote-write (1.0 and 2.0) receiver that sits beside k6 and forwards what k6
//! writes through redline's remote-write queue.
//!
//! k6's `experimental-prometheus-rw` output sends one request per flush with no retry and no
//! queue, so a Prometheus restart or a 429 during a run silently loses samples. Pointed at the
//! relay instead (`K6_PROMETHEUS_RW_SERVER_URL=http://127.0.0.1:9471/api/v1/write`), k6 gets an
//! answer as soon as its samples are queued, and the spine's sharded queue retries with backoff,
//! optionally spills to a bounded on-disk buffer, and at the end flushes and writes staleness
//! markers for every series it forwarded.
//!
//! The parts, in the order a request meets them:
//! - [`decode`]: content type, snappy, protobuf → a clear 4xx ([`rejection`]) naming what was
//!   wrong; [`decode_v2`]: a remote-write 2.0 request into the same 1.0 form;
//! - [`labels`]: `testid` where missing, `--drop-label`, `--rename-label`, validation, into a
//!   [`batch`];
//! - [`forward`]: into the remote-write queue while it has room, else into the [`spill`] buffer;
//! - [`server`]: the HTTP side, answering k6 after enqueueing;
//! - [`metrics`]: received, forwarded, buffered, rejected and dropped, by reason;
//! - `run`: the relay's life, from the flags to the final flush ([`run()`]).

pub mod args;
pub mod batch;
pub mod decode;
pub mod decode_v2;
pub mod forward;
pub mod labels;
pub mod metrics;
pub mod rejection;
mod run;
pub mod server;
pub mod spill;

pub use args::K6RelayArgs;
use redline_runtime::RuntimeError;
pub use run::run;

#[derive(Debug, thiserror::Error)]
pub enum K6RelayError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error("k6-relay: cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("k6-relay: buffer directory {path}: {source}")]
    Buffer {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}
