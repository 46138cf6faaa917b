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
use crate::encode_v2::encode_write_request_v2;
use crate::negotiate::Negotiation;
use crate::protocol::{ProtocolChoice, Wire};
use crate::stats::{DropReason, Kind, Stats};
use crate::transport::{Outcome, Transport, Written};

/// How one attempt at a batch ended.
enum Delivered {
    /// Taken, or refused for good (counted as dropped).
    Done,
    /// Still failing at the shutdown deadline.
    GaveUp,
    /// The receiver does not take native histograms; nothing of the batch was stored.
    NativeRefused,
    /// The receiver speaks only remote-write 1.0; nothing of the batch was stored.
    V2Refused,
}

/// What every shard's delivery shares: where and how batches go, what was learnt about the
/// receiver, and when shutdown ends sending.
pub(crate) struct Route<T> {
    pub(crate) transport: Arc<T>,
    pub(crate) stats: Stats,
    /// Set when shutdown starts: from then on no request or wait runs past it.
    pub(crate) deadline: watch::Receiver<Option<Instant>>,
    pub(crate) retry: BackoffPolicy,
    pub(crate) negotiation: Arc<Negotiation>,
    pub(crate) protocol: Arc<ProtocolChoice>,
}

// By hand: a derive would ask `T: Clone`, where only the `Arc` is cloned.
impl<T> Clone for Route<T> {
    fn clone(&self) -> Self {
        Self {
            transport: Arc::clone(&self.transport),
            stats: self.stats.clone(),
            deadline: self.deadline.clone(),
            retry: self.retry,
            negotiation: Arc::clone(&self.negotiation),
            protocol: Arc::clone(&self.protocol),
        }
    }
}

#[cfg(test)]
impl<T> Route<T> {
    /// A route for tests: fresh stats, native histograms offered (classic fallback), quick
    /// retries (10 ms to 100 ms), and the sender that starts shutdown.
    pub(crate) fn for_test(
        transport: Arc<T>,
        protocol: crate::Protocol,
    ) -> (Self, watch::Sender<Option<Instant>>) {
        let (deadline, rx) = watch::channel(None);
        let ms = std::time::Duration::from_millis(1);
        let route = Self {
            transport,
            stats: Stats::new(),
            deadline: rx,
            retry: BackoffPolicy::new(10 * ms, 100 * ms),
            negotiation: Arc::new(Negotiation::new(
                crate::NativeHistograms::Offer,
                crate::HistogramFallback::Classic,
            )),
            protocol: Arc::new(ProtocolChoice::new(protocol)),
        };
        (route, deadline)
    }
}

pub(crate) struct Delivery<T> {
    route: Route<T>,
    raw: Vec<u8>,
    compressed: Vec<u8>,
    encoder: snap::raw::Encoder,
}

impl<T: Transport> Delivery<T> {
    pub(crate) fn new(route: Route<T>) -> Self {
        Self {
            route,
            raw: Vec::new(),
            compressed: Vec::new(),
            encoder: snap::raw::Encoder::new(),
        }
    }

    /// Sends one batch, retrying what can be retried. False when it was given up
    /// at the shutdown deadline (counted by the caller's report). Native histograms go
    /// only to a receiver that takes them: when it answers that it does not, the batch
    /// is sent again without them (see [`Negotiation`]), so they never cost the floats.
    /// Likewise a batch a 1.0-only receiver refused as 2.0 goes again as 1.0
    /// (see [`ProtocolChoice`]).
    pub(crate) async fn send(&mut self, batch: &Batch) -> bool {
        if batch.histograms > 0 && !self.route.negotiation.sends_native() {
            return self.send_without_native(batch).await;
        }
        match self.send_in_either_protocol(batch).await {
            Delivered::Done | Delivered::V2Refused => true,
            Delivered::GaveUp => false,
            Delivered::NativeRefused => self.send_without_native(batch).await,
        }
    }

    async fn send_without_native(&mut self, batch: &Batch) -> bool {
        let route = &self.route;
        let rebuilt = route.negotiation.without_native(batch, &route.stats);
        if rebuilt.len() == 0 {
            return true;
        }
        // No histogram is left, so the receiver cannot refuse this one for that reason.
        !matches!(
            self.send_in_either_protocol(&rebuilt).await,
            Delivered::GaveUp
        )
    }

    async fn send_in_either_protocol(&mut self, batch: &Batch) -> Delivered {
        match self.send_as_is(batch).await {
            // Now spoken to in 1.0, which it cannot refuse for being 2.0.
            Delivered::V2Refused => self.send_as_is(batch).await,
            other => other,
        }
    }

    fn count(&self, batch: &Batch, f: impl Fn(&Stats, Kind, u64)) {
        for kind in Kind::ALL {
            f(&self.route.stats, kind, batch.count(kind));
        }
    }

    /// Compares what a 2.0 receiver says it stored with what the batch held; the
    /// difference is counted unconfirmed and, the first time, logged.
    fn check_written(&self, batch: &Batch, written: Option<Written>) {
        let w = written.unwrap_or_default();
        let mut missing = Vec::new();
        for (kind, got) in [
            (Kind::Float, w.samples),
            (Kind::Histogram, w.histograms),
            (Kind::Exemplar, w.exemplars),
        ] {
            let n = batch.count(kind);
            if got < n {
                self.route.stats.unconfirmed(kind, n - got);
                missing.push(format!("{kind:?} {got} of {n}"));
            }
        }
        if !missing.is_empty() && self.route.protocol.first_unconfirmed() {
            tracing::warn!(
                written = %missing.join(", "),
                headers = written.is_some(),
                "remote-write 2.0 receiver answered 2xx but says it stored less than was sent; counting the difference in redline_remote_write_unconfirmed_total (logged once)"
            );
        }
    }

    async fn send_as_is(&mut self, batch: &Batch) -> Delivered {
        let wire = self.route.protocol.wire();
        self.raw.clear();
        match wire {
            Wire::V1 => encode_write_request(&batch.entries(), &mut self.raw),
            Wire::V2 => encode_write_request_v2(&batch.entries(), &mut self.raw),
        }
        compress(&self.raw, &mut self.encoder, &mut self.compressed);
        let body = Bytes::copy_from_slice(&self.compressed);

        let mut backoff = self.route.retry.start();
        loop {
            let started = std::time::Instant::now();
            let outcome = within_shutdown_deadline(
                &mut self.route.deadline,
                self.route.transport.send(body.clone(), wire),
            )
            .await;
            let deadline = *self.route.deadline.borrow();
            self.route
                .stats
                .send_duration
                .observe(started.elapsed().as_secs_f64());
            let (negotiation, protocol) = (&self.route.negotiation, &self.route.protocol);
            match outcome {
                Outcome::Sent
                    if wire == Wire::V2
                        && protocol.refused_v2(
                            "2xx without X-Prometheus-Remote-Write-*-Written headers: a 1.0 receiver that read nothing",
                        ) =>
                {
                    self.count(batch, Stats::failed);
                    return Delivered::V2Refused;
                }
                Outcome::Sent | Outcome::Stored(_) => {
                    match outcome {
                        Outcome::Stored(w) => {
                            self.route.protocol.confirm_v2();
                            self.check_written(batch, Some(w));
                        }
                        _ if wire == Wire::V2 => self.check_written(batch, None),
                        _ => {}
                    }
                    self.count(batch, Stats::sent);
                    let newest = batch.newest_ts as f64 / 1000.0;
                    if newest > self.route.stats.highest_sent.get() {
                        self.route.stats.highest_sent.set(newest);
                    }
                    if backoff.retries() > 0 {
                        tracing::info!(
                            failures = backoff.retries(),
                            "remote-write recovered; batch delivered"
                        );
                    }
                    return Delivered::Done;
                }
                Outcome::Reject { status, body, .. }
                    if batch.histograms > 0
                        && negotiation.refused_by(&format!("HTTP {status}: {body}")) =>
                {
                    self.count(batch, Stats::failed);
                    return Delivered::NativeRefused;
                }
                Outcome::Retry { cause, .. }
                    if batch.histograms > 0 && negotiation.refused_by(&cause) =>
                {
                    self.count(batch, Stats::failed);
                    return Delivered::NativeRefused;
                }
                // A 4xx without written headers to a 2.0 request: a 415, or a 1.0 decoder
                // failing on 2.0 bytes. (A 2.0 receiver's own 4xx carries the headers.)
                Outcome::Reject {
                    status,
                    ref body,
                    written: None,
                } if wire == Wire::V2
                    && protocol.refused_v2(&format!("HTTP {status}: {body}")) =>
                {
                    self.count(batch, Stats::failed);
                    return Delivered::V2Refused;
                }
                Outcome::Reject {
                    status,
                    body,
                    written,
                } => {
                    if written.is_some() {
                        self.route.protocol.confirm_v2();
                    }
                    self.count(batch, Stats::failed);
                    self.count(batch, |s, k, n| s.dropped(k, DropReason::Rejected4xx, n));
                    self.route.transport.log_rejection_once(status, &body);
                    return Delivered::Done;
                }
                Outcome::Retry { after, cause } => {
                    self.count(batch, Stats::failed);
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
                        let deadline = &mut self.route.deadline;
                        let shutdown_starts = async {
                            if deadline.changed().await.is_err() {
                                std::future::pending::<()>().await;
                            }
                        };
                        backoff.wait(after, shutdown_starts).await
                    };
                    if waited == Waited::GaveUp {
                        self.count(batch, |s, k, n| {
                            s.dropped(k, DropReason::ShutdownDeadline, n)
                        });
                        return Delivered::GaveUp;
                    }
                    self.count(batch, Stats::retried);
                }
            }
        }
    }
}

/// Runs one request, ending it at the shutdown deadline, including one that starts
/// while the request is already in flight: a receiver that accepted the connection and
/// never answers must not hold shutdown for the whole remote timeout.
async fn within_shutdown_deadline(
    deadline: &mut watch::Receiver<Option<Instant>>,
    request: impl std::future::Future<Output = Outcome>,
) -> Outcome {
    let past_deadline = || Outcome::Retry {
        after: None,
        cause: "shutdown deadline reached during the request".into(),
    };
    tokio::pin!(request);
    loop {
        let current = *deadline.borrow_and_update();
        if let Some(d) = current {
            return tokio::time::timeout_at(d, request)
                .await
                .unwrap_or_else(|_| past_deadline());
        }
        tokio::select! {
            outcome = &mut request => return outcome,
            changed = deadline.changed() => {
                // A writer dropped without a shutdown never sets one: just finish.
                if changed.is_err() {
                    return request.await;
                }
            }
        }
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
        speaking(transport, crate::Protocol::V1)
    }

    fn speaking(
        transport: &Arc<Scripted>,
        protocol: crate::Protocol,
    ) -> (Delivery<Scripted>, Stats, watch::Sender<Option<Instant>>) {
        let (route, deadline) = Route::for_test(transport.clone(), protocol);
        let stats = route.stats.clone();
        (Delivery::new(route), stats, deadline)
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
            written: None,
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

    /// A 2.0 receiver's answer to [`batch`]: everything stored.
    fn stored_all() -> Outcome {
        Outcome::Stored(Written {
            samples: 3,
            histograms: 1,
            exemplars: 0,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn auto_resends_as_1_0_what_a_1_0_receiver_took_silently_and_stays_on_1_0() {
        // Prometheus 2.42 reads a 2.0 body as an empty 1.0 request and answers 204.
        let t = Scripted::answering(vec![]);
        let (mut d, stats, _deadline) = speaking(&t, crate::Protocol::Auto);
        assert!(d.send(&batch()).await);
        assert!(d.send(&batch()).await);
        assert_eq!(t.wires(), [Wire::V2, Wire::V1, Wire::V1]);
        let got = t.received();
        assert_eq!(
            got[0].1, got[1].1,
            "the same samples, in the other protocol"
        );
        let st = stats.snapshot();
        assert_eq!((st.sent, st.sent_histograms, st.dropped()), (6, 2, 0));
        assert_eq!((st.retried, st.unconfirmed), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn auto_falls_back_on_415_but_not_once_the_receiver_showed_it_speaks_2_0() {
        let unsupported = Outcome::Reject {
            status: 415,
            body: "unsupported proto".into(),
            written: None,
        };
        let t = Scripted::answering(vec![unsupported.clone()]);
        let (mut d, stats, _deadline) = speaking(&t, crate::Protocol::Auto);
        assert!(d.send(&batch()).await);
        assert_eq!(t.wires(), [Wire::V2, Wire::V1]);
        assert_eq!(stats.snapshot().sent, 3);

        let t = Scripted::answering(vec![stored_all(), unsupported]);
        let (mut d, stats, _deadline) = speaking(&t, crate::Protocol::Auto);
        assert!(d.send(&batch()).await);
        assert!(d.send(&batch()).await);
        assert_eq!(t.wires(), [Wire::V2, Wire::V2], "no second try in 1.0");
        assert_eq!(stats.snapshot().dropped_rejected, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn what_a_2_0_receiver_did_not_count_as_written_is_counted_unconfirmed() {
        let t = Scripted::answering(vec![
            Outcome::Stored(Written {
                samples: 2,
                histograms: 1,
                exemplars: 0,
            }),
            Outcome::Sent,
            stored_all(),
        ]);
        let (mut d, stats, _deadline) = speaking(&t, crate::Protocol::V2);
        assert!(d.send(&batch()).await);
        assert_eq!(stats.snapshot().unconfirmed, 1);
        // Explicit 2.0: an answer without the headers confirms nothing, and is no fallback.
        assert!(d.send(&batch()).await);
        assert_eq!(stats.snapshot().unconfirmed, 1 + 4);
        assert!(d.send(&batch()).await);
        let st = stats.snapshot();
        assert_eq!((st.unconfirmed, st.sent, st.dropped()), (5, 9, 0));
        assert_eq!(t.wires(), [Wire::V2; 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_sets_the_wait() {
        let t = asking_to_wait(Duration::from_secs(3));
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
        let t = asking_to_wait(Duration::from_secs(60));
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

    /// A receiver that first answers 429 with a Retry-After of `after`, then takes everything.
    fn asking_to_wait(after: Duration) -> Arc<Scripted> {
        Scripted::answering(vec![Outcome::Retry {
            after: Some(after),
            cause: "HTTP 429: slow down".into(),
        }])
    }

    /// A receiver that took the connection and never answers.
    struct Silent;

    impl Transport for Silent {
        async fn send(&self, _body: Bytes, _wire: Wire) -> Outcome {
            std::future::pending().await
        }

        fn log_rejection_once(&self, _status: u16, _body: &str) {}
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_when_shutdown_starts_ends_at_the_deadline() {
        let (route, deadline) = Route::for_test(Arc::new(Silent), crate::Protocol::V1);
        let stats = route.stats.clone();
        let mut d = Delivery::new(route);
        let t0 = Instant::now();
        let shutdown = async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            deadline.send_replace(Some(Instant::now() + Duration::from_secs(2)));
        };
        let batch = batch();
        let (delivered, ()) = tokio::join!(d.send(&batch), shutdown);
        assert!(!delivered, "given up, not delivered");
        assert_eq!(Instant::now() - t0, Duration::from_secs(12));
        assert_eq!(stats.snapshot().dropped_shutdown, 4);
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
