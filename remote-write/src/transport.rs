//! What a shard sends through, and what it does next with a batch: the seam between the
//! retry loop and HTTP, so the loop can be tested against a scripted receiver.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

/// What the shard does next with a batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Sent,
    /// 5xx, 429 or no answer: send the same batch again, after `after` if the
    /// receiver said when.
    Retry {
        after: Option<Duration>,
        cause: String,
    },
    /// 4xx other than 429: the receiver will never take this batch.
    Reject {
        status: u16,
        body: String,
    },
}

/// Delivers one encoded, compressed `WriteRequest` body to the receiver.
pub(crate) trait Transport: Send + Sync + 'static {
    fn send(&self, body: Bytes) -> impl Future<Output = Outcome> + Send;

    /// Says that the receiver rejected a batch, once per distinct cause.
    fn log_rejection_once(&self, status: u16, body: &str);
}
