//! One simulated client's Get stream, reopened for as long as the run lasts.
//!
//! Lifecycle: open (counted in `streams_created`), first update within
//! `--connect-timeout` (`connection_duration`), updates (tracked set, correlator), then
//! one of: the run stops; `--stream-max-lifetime` or `--stream-reset-interval` (the
//! client's own schedule: reopened at once, not a reset); the server or transport ends
//! it (`streams_reset`, plus `connection_errors{reason}` and `send_timeouts` as it
//! applies; reopened at once); or the attempt fails (`connection_errors{reason}`,
//! reopened after an exponential backoff with equal jitter: slots that failed together
//! do not reconnect together, and none comes back sooner than half its backoff, so a
//! recovering controller is not met by a share of 25,000 streams at once).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use linkerd2_proxy_api::destination::{GetDestination, Update};
use prometheus_client::metrics::counter::Counter;
use redline_remote_write::backoff::{BackoffPolicy, Jitter, Waited};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::correlate::Correlator;
use crate::endpoints::Delta;
use crate::grpc;
use crate::metrics::Metrics;
use crate::shared::{Frozen, ServiceSets};
use crate::verify::{StreamView, View};

/// Settings every stream shares.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub max_lifetime: Option<Duration>,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub connect_timeout: Duration,
}

/// One stream's fixed inputs.
pub struct StreamSpec {
    pub channel: Channel,
    pub authority: Arc<str>,
    pub context_token: Arc<str>,
    pub service: usize,
    pub slot: u32,
    pub updates: Counter,
    /// The endpoint sets of this stream's service, shared with its other streams.
    pub sets: Arc<ServiceSets>,
    /// This stream's set as the verification reads it (`--verify-endpoints` only).
    pub view: Option<View>,
}

/// Shared by every stream of a run.
#[derive(Clone)]
pub struct Shared {
    pub lifecycle: Arc<Lifecycle>,
    pub metrics: Metrics,
    pub correlator: Arc<Correlator>,
    pub resets: watch::Receiver<u64>,
    pub stop: CancellationToken,
}

/// Whether a status means the destination controller gave up sending to this client
/// (Linkerd's stream send timeout, i.e. backpressure): DEADLINE_EXCEEDED or
/// RESOURCE_EXHAUSTED, or a message that says so.
pub fn is_send_timeout(st: &Status) -> bool {
    let msg = st.message().to_ascii_lowercase();
    matches!(st.code(), Code::DeadlineExceeded | Code::ResourceExhausted)
        || (msg.contains("send") && (msg.contains("timeout") || msg.contains("timed out")))
}

/// The `reason` label of a failure.
pub fn reason(st: &Status) -> &'static str {
    if is_send_timeout(st) {
        return "send_timeout";
    }
    let msg = st.message().to_ascii_lowercase();
    if msg.contains("tls") || msg.contains("certificate") || msg.contains("handshake") {
        return "tls";
    }
    match st.code() {
        Code::Unavailable
            if msg.contains("connect")
                || msg.contains("refused")
                || msg.contains("dns")
                || msg.contains("resolve") =>
        {
            "connect"
        }
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

enum Ended {
    Stopped,
    Scheduled,
    ServerClosed,
    Failed(Status),
}

/// Runs one slot until `shared.stop`.
pub async fn run(spec: StreamSpec, mut shared: Shared) {
    let m = shared.metrics.clone();
    let lc = shared.lifecycle.clone();
    let mut backoff = BackoffPolicy::new(lc.backoff_min, lc.backoff_max)
        .with_jitter(Jitter::Equal)
        .start();
    let mut failed = false;
    loop {
        if failed && backoff.wait(None, shared.stop.cancelled()).await != Waited::Elapsed {
            return;
        }
        if shared.stop.is_cancelled() {
            return;
        }
        m.streams_created.inc();
        let opened_at = Instant::now();
        let req = GetDestination {
            scheme: "k8s".into(),
            path: spec.authority.to_string(),
            context_token: spec.context_token.to_string(),
        };
        let channel = spec.channel.clone();
        // Moves the request in: it is dropped once sent, not kept for the stream's life.
        let open = async move {
            let mut s = grpc::get(channel, &req).await?;
            let first = s.message().await?;
            Ok::<_, Status>((s, first))
        };
        let opened = tokio::select! {
            _ = shared.stop.cancelled() => return,
            r = tokio::time::timeout(lc.connect_timeout, open) => r,
        };
        let (mut stream, first) = match opened {
            Err(_) => {
                m.error("timeout");
                failed = true;
                continue;
            }
            Ok(Err(st)) => {
                m.error(reason(&st));
                failed = true;
                continue;
            }
            Ok(Ok((_, None))) => {
                m.error("closed_before_first_update");
                failed = true;
                continue;
            }
            Ok(Ok((s, Some(first)))) => (s, first),
        };
        m.connection_duration
            .observe(opened_at.elapsed().as_secs_f64());
        m.streams_active.inc();
        failed = false;
        backoff.reset();
        // A new stream starts from nothing: its first update is the whole set.
        let mut set = spec.sets.empty();
        apply(&spec, &shared, &mut set, &first);
        let deadline = lc.max_lifetime.map(|d| opened_at + d);
        shared.resets.borrow_and_update();
        let ended = loop {
            tokio::select! {
                biased;
                _ = shared.stop.cancelled() => break Ended::Stopped,
                _ = tokio::time::sleep_until(deadline.unwrap_or(opened_at)), if deadline.is_some() => {
                    break Ended::Scheduled
                }
                r = shared.resets.changed() => {
                    if r.is_ok() {
                        break Ended::Scheduled;
                    }
                    // The reset ticker is gone (run ending): keep the stream.
                    shared.resets = watch::channel(0).1;
                }
                msg = stream.message() => match msg {
                    Ok(Some(u)) => apply(&spec, &shared, &mut set, &u),
                    Ok(None) => break Ended::ServerClosed,
                    Err(st) => break Ended::Failed(st),
                },
            }
        };
        drop(stream);
        m.streams_active.dec();
        if let Some(v) = &spec.view {
            StreamView::set(v, false, &spec.sets.empty());
        }
        m.stream_lifetime.observe(opened_at.elapsed().as_secs_f64());
        shared.correlator.disconnected(spec.service, spec.slot);
        match ended {
            Ended::Stopped => return,
            Ended::Scheduled => {}
            Ended::ServerClosed => {
                m.streams_reset.inc();
            }
            Ended::Failed(st) => {
                m.streams_reset.inc();
                if is_send_timeout(&st) {
                    m.send_timeouts.inc();
                }
                m.error(reason(&st));
                tracing::debug!(service = %spec.authority, slot = spec.slot, status = %st, "stream ended by the server or transport");
            }
        }
        // Reopened at once; only failed attempts back off.
    }
}

fn apply(spec: &StreamSpec, shared: &Shared, set: &mut Arc<Frozen>, u: &Update) {
    spec.updates.inc();
    let (next, change) = spec.sets.apply(set, &Delta::of(u));
    *set = next;
    if let Some(v) = &spec.view {
        StreamView::set(v, true, set);
    }
    shared.correlator.observe(
        spec.service,
        spec.slot,
        change,
        set.len() as u32,
        SystemTime::now(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_stable_label_values() {
        assert_eq!(
            reason(&Status::unavailable(
                "tcp connect error: Connection refused"
            )),
            "connect"
        );
        assert_eq!(
            reason(&Status::unavailable("stream killed by test")),
            "unavailable"
        );
        assert_eq!(reason(&Status::deadline_exceeded("x")), "send_timeout");
        assert_eq!(
            reason(&Status::cancelled("stream send timeout")),
            "send_timeout"
        );
        assert_eq!(reason(&Status::unknown("invalid peer certificate")), "tls");
        assert_eq!(
            reason(&Status::invalid_argument("bad path")),
            "invalid_argument"
        );
        assert!(!is_send_timeout(&Status::unavailable("gone")));
    }

    /// Every label value `reason` gives is one the error counter is written at 0 for.
    #[test]
    fn every_reason_is_a_known_child() {
        for code in 0..=16 {
            for msg in ["", "tcp connect error", "tls handshake", "send timeout"] {
                let r = reason(&Status::new(Code::from_i32(code), msg));
                assert!(crate::metrics::REASONS.contains(&r), "{r} not in REASONS");
            }
        }
    }
}
