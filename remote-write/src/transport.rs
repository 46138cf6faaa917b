//! What a shard sends through, and what it does next with a batch: the seam between the
//! retry loop and HTTP, so the loop can be tested against a scripted receiver.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use crate::protocol::Wire;

/// What a remote-write 2.0 receiver says it stored of a request, from its
/// `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Written {
    pub(crate) samples: u64,
    pub(crate) histograms: u64,
    pub(crate) exemplars: u64,
}

/// What the shard does next with a batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// 2xx without written headers (every 1.0 receiver).
    Sent,
    /// 2xx with written headers: what the receiver says it stored.
    Stored(Written),
    /// 5xx, 429 or no answer: send the same batch again, after `after` if the
    /// receiver said when.
    Retry {
        after: Option<Duration>,
        cause: String,
    },
    /// 4xx other than 429: the receiver will never take this batch. `written` is what a
    /// 2.0 receiver says it stored of it anyway.
    Reject {
        status: u16,
        body: String,
        written: Option<Written>,
    },
}

/// Delivers one encoded, compressed request body to the receiver.
pub(crate) trait Transport: Send + Sync + 'static {
    fn send(&self, body: Bytes, wire: Wire) -> impl Future<Output = Outcome> + Send;

    /// Says that the receiver rejected a batch, once per distinct cause.
    fn log_rejection_once(&self, status: u16, body: &str);
}
