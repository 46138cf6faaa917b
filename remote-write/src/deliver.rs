//! The sender loop of one shard: encodes and compresses a batch, sends it, and retries
//! with backoff until the receiver takes it, refuses it for good, or the shutdown
//! deadline passes.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::backoff::{BackoffPolicy, Waited};
use crate::batch::Batch;
use crate::encode::{compress, encode_write_request};
use crate::negotiate::Negotiation;
use crate::stats::{DropReason, Kind, Stats};
use crate::transport::{Outcome, Transport};

/// How one attempt at a batch ended.
enum Delivered {
    /// Taken, or refused for good (counted as dropped).
    Done,
    /// Still failing at the shutdown deadline.
    GaveUp,
    /// The receiver does not take native histograms; nothing of the batch was stored.
    NativeRefused,
}

pub(crate) struct Delivery<T> {
    transport: Arc<T>,
    stats: Stats,
    /// Set when shutdown starts: from then on no request or wait runs past it.
    deadline: watch::Receiver<Option<Instant>>,
    retry: BackoffPolicy,
    negotiation: Arc<Negotiation>,
    raw: Vec<u8>,
    compressed: Vec<u8>,
    encoder: snap::raw::Encoder,
}

impl<T: Transport> Delivery<T> {
    pub(crate) fn new(
        transport: Arc<T>,
        stats: Stats,
        deadline: watch::Receiver<Option<Instant>>,
        retry: BackoffPolicy,
        negotiation: Arc<Negotiation>,
    ) -> Self {
        Self {
            transport,
            stats,
            deadline,
            retry,
            negotiation,
            raw: Vec::new(),
            compressed: Vec::new(),
            encoder: snap::raw::Encoder::new(),
        }
    }

    /// Sends one batch, retrying what can be retried. False when it was given up
    /// at the shutdown deadline (counted by the caller's report). Native histograms go
    /// only to a receiver that takes them: when it answers that it does not, the batch
    /// is sent again without them (see [`Negotiation`]), so they never cost the floats.
    pub(crate) async fn send(&mut self, batch: &Batch) -> bool {
        if batch.histograms > 0 && !self.negotiation.sends_native() {
            return self.send_without_native(batch).await;
        }
        match self.send_as_is(batch).await {
            Delivered::Done => true,
            Delivered::GaveUp => false,
            Delivered::NativeRefused => self.send_without_native(batch).await,
        }
    }

    async fn send_without_native(&mut self, batch: &Batch) -> bool {
        let rebuilt = self.negotiation.without_native(batch, &self.stats);
        if rebuilt.len() == 0 {
            return true;
        }
        // No histogram is left, so the receiver cannot refuse this one for that reason.
        !matches!(self.send_as_is(&rebuilt).await, Delivered::GaveUp)
    }

    async fn send_as_is(&mut self, batch: &Batch) -> Delivered {
        self.raw.clear();
        encode_write_request(&batch.entries(), &mut self.raw);
        compress(&self.raw, &mut self.encoder, &mut self.compressed);
        let body = Bytes::copy_from_slice(&self.compressed);

        let mut backoff = self.retry.start();
        loop {
            let deadline = *self.deadline.borrow();
            let started = std::time::Instant::now();
            let outcome = match deadline {
                Some(d) => tokio::time::timeout_at(d, self.transport.send(body.clone()))
                    .await
                    .unwrap_or_else(|_| Outcome::Retry {
                        after: None,
                        cause: "shutdown deadline reached during the request".into(),
                    }),
                None => self.transport.send(body.clone()).await,
            };
            self.stats
                .send_duration
                .observe(started.elapsed().as_secs_f64());
            match outcome {
                Outcome::Sent => {
                    self.stats.sent(Kind::Float, batch.floats);
                    self.stats.sent(Kind::Histogram, batch.histograms);
                    let newest = batch.newest_ts as f64 / 1000.0;
                    if newest > self.stats.highest_sent.get() {
                        self.stats.highest_sent.set(newest);
                    }
                    if backoff.retries() > 0 {
                        tracing::info!(
                            failures = backoff.retries(),
                            "remote-write recovered; batch delivered"
                        );
                    }
                    return Delivered::Done;
                }
                Outcome::Reject { status, body }
                    if batch.histograms > 0
                        && self
                            .negotiation
                            .refused_by(&format!("HTTP {status}: {body}")) =>
                {
                    self.stats.failed(Kind::Float, batch.floats);
                    self.stats.failed(Kind::Histogram, batch.histograms);
                    return Delivered::NativeRefused;
                }
                Outcome::Retry { cause, .. }
                    if batch.histograms > 0 && self.negotiation.refused_by(&cause) =>
                {
                    self.stats.failed(Kind::Float, batch.floats);
                    self.stats.failed(Kind::Histogram, batch.histograms);
                    return Delivered::NativeRefused;
                }
                Outcome::Reject { status, body } => {
                    self.stats.failed(Kind::Float, batch.floats);
                    self.stats.failed(Kind::Histogram, batch.histograms);
                    self.stats
                        .dropped(Kind::Float, DropReason::Rejected4xx, batch.floats);
                    self.stats
                        .dropped(Kind::Histogram, DropReason::Rejected4xx, batch.histograms);
                    self.transport.log_rejection_once(status, &body);
                    return Delivered::Done;
                }
                Outcome::Retry { after, cause } => {
                    self.stats.failed(Kind::Float, batch.floats);
                    self.stats.failed(Kind::Histogram, batch.histograms);
                    if backoff.retries() == 0 {
                        tracing::warn!(%cause, samples = batch.len(), "remote-write failed; retrying with backoff");
                    }
                    backoff.set_deadline(deadline);
                    let waited = if deadline.is_some() {
                        backoff.wait(after, std::future::pending::<()>()).await
                    } else {
                        // Wake early when shutdown starts, to retry at once within the
                        // grace period instead of sleeping through it. A writer dropped
                        // without a shutdown never starts one: then keep backing off.
                        let deadline = &mut self.deadline;
                        let shutdown_starts = async {
                            if deadline.changed().await.is_err() {
                                std::future::pending::<()>().await;
                            }
                        };
                        backoff.wait(after, shutdown_starts).await
                    };
                    if waited == Waited::GaveUp {
                        self.give_up(batch);
                        return Delivered::GaveUp;
                    }
                    self.stats.retried(Kind::Float, batch.floats);
                    self.stats.retried(Kind::Histogram, batch.histograms);
                }
            }
        }
    }

    fn give_up(&self, batch: &Batch) {
        self.stats
            .dropped(Kind::Float, DropReason::ShutdownDeadline, batch.floats);
        self.stats.dropped(
            Kind::Histogram,
            DropReason::ShutdownDeadline,
            batch.histograms,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::batch::Value;
    use crate::scripted::{Scripted, retry};
    use crate::series::Series;

    const MS: Duration = Duration::from_millis(1);

    /// Three float samples and one histogram of one series.
    fn batch() -> Batch {
        let s = Series::new("m", [("a", "1")]).unwrap();
        let mut b = Batch::default();
        for ts in 1..=3 {
            b.add(&s, ts, Value::Float(ts as f64));
        }
        b.add(&s, 4, Value::Histogram(Box::default()));
        b
    }

    fn delivery(
        transport: &Arc<Scripted>,
    ) -> (Delivery<Scripted>, Stats, watch::Sender<Option<Instant>>) {
        let stats = Stats::new();
        let (deadline, rx) = watch::channel(None);
        let policy = BackoffPolicy::new(10 * MS, 100 * MS);
        let negotiation = Arc::new(Negotiation::new(
            crate::NativeHistograms::Offer,
            crate::HistogramFallback::Classic,
        ));
        let d = Delivery::new(transport.clone(), stats.clone(), rx, policy, negotiation);
        (d, stats, deadline)
    }

    #[tokio::test(start_paused = true)]
    async fn server_errors_and_lost_connections_are_retried_until_delivered() {
        let refused = Outcome::Retry {
            after: None,
            cause: "connect error: connection refused".into(),
        };
        let t = Scripted::answering(vec![retry(), refused]);
        let (mut d, stats, _deadline) = delivery(&t);
        assert!(d.send(&batch()).await);
        let got = t.received();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].1, got[2].1, "the same batch is sent again");
        assert_eq!(got[0].1.timeseries[0].samples.len(), 3);
        assert_eq!(got[0].1.timeseries[0].histograms.len(), 1);
        let st = stats.snapshot();
        assert_eq!((st.sent, st.sent_histograms), (3, 1));
        assert_eq!((st.failed, st.retried, st.dropped()), (8, 8, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_rejected_batch_is_dropped_counted_and_not_retried() {
        let t = Scripted::answering(vec![Outcome::Reject {
            status: 400,
            body: "out of order sample".into(),
        }]);
        let (mut d, stats, _deadline) = delivery(&t);
        assert!(d.send(&batch()).await, "done with, not given up");
        assert_eq!(t.requests(), 1);
        let st = stats.snapshot();
        assert_eq!(
            (st.dropped_rejected, st.failed, st.retried, st.sent),
            (4, 4, 0, 0)
        );
        assert_eq!(t.rejections_logged(), [(400, "out of order sample".into())]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_of_native_histograms_resends_the_floats_at_once_and_sticks() {
        // Prometheus 2.42 without --enable-feature=native-histograms rolls the request back.
        let t = Scripted::answering(vec![Outcome::Retry {
            after: None,
            cause: "HTTP 500: native histograms are disabled".into(),
        }]);
        let (mut d, stats, _deadline) = delivery(&t);
        assert!(d.send(&batch()).await);
        assert!(d.send(&batch()).await);
        let got = t.received();
        assert_eq!(got.len(), 3, "one refusal, then each batch once");
        assert_eq!(got[0].1.timeseries[0].histograms.len(), 1);
        for (_, again) in &got[1..] {
            assert!(again.timeseries.iter().all(|ts| ts.histograms.is_empty()));
            let floats: usize = again.timeseries.iter().map(|ts| ts.samples.len()).sum();
            // 3 floats + the empty histogram's classic form (+Inf bucket, _count, _sum).
            assert_eq!(floats, 6);
        }
        let st = stats.snapshot();
        assert_eq!((st.sent, st.sent_histograms, st.dropped()), (12, 0, 0));
        assert_eq!(st.retried, 0, "the refusal is not retried as it was");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_sets_the_wait() {
        let t = Scripted::answering(vec![Outcome::Retry {
            after: Some(Duration::from_secs(3)),
            cause: "HTTP 429: slow down".into(),
        }]);
        let (mut d, _stats, _deadline) = delivery(&t);
        assert!(d.send(&batch()).await);
        let got = t.received();
        assert_eq!(got[1].0 - got[0].0, Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn the_shutdown_deadline_ends_the_retries_and_counts_the_batch() {
        let t = Scripted::new(|_| retry());
        let (mut d, stats, deadline) = delivery(&t);
        let t0 = Instant::now();
        deadline.send_replace(Some(t0 + Duration::from_secs(1)));
        assert!(!d.send(&batch()).await);
        assert_eq!(Instant::now(), t0 + Duration::from_secs(1));
        assert!(
            t.received()
                .iter()
                .all(|(at, _)| *at <= t0 + Duration::from_secs(1))
        );
        assert_eq!(stats.snapshot().dropped_shutdown, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_starting_cuts_a_long_wait_short() {
        let t = Scripted::answering(vec![Outcome::Retry {
            after: Some(Duration::from_secs(60)),
            cause: "HTTP 429".into(),
        }]);
        let (mut d, _stats, deadline) = delivery(&t);
        let t0 = Instant::now();
        let shutdown = async {
            tokio::time::sleep(100 * MS).await;
            deadline.send_replace(Some(Instant::now() + Duration::from_secs(5)));
        };
        let batch = batch();
        let (delivered, ()) = tokio::join!(d.send(&batch), shutdown);
        assert!(delivered);
        let got = t.received();
        assert_eq!(got[1].0 - t0, 100 * MS, "retried when shutdown started");
    }

    #[tokio::test(start_paused = true)]
    async fn a_writer_dropped_without_shutdown_keeps_backing_off() {
        let t = Scripted::new(|n| if n < 5 { retry() } else { Outcome::Sent });
        let (mut d, _stats, deadline) = delivery(&t);
        drop(deadline);
        let delivered = tokio::time::timeout(Duration::from_secs(60), d.send(&batch())).await;
        assert_eq!(delivered, Ok(true));
        let got = t.received();
        assert_eq!(got.len(), 6);
        assert!(
            got.windows(2).any(|w| w[1].0 > w[0].0),
            "retries wait instead of spinning"
        );
    }
}
