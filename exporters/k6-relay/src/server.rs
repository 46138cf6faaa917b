//! The HTTP side: `POST /api/v1/write`, answered as soon as the samples are queued or on disk.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::decode::{Protocol, check_headers, decode_body, decompress};
use crate::decode_v2::decode_v2;
use crate::forward::{Accepted, Forwarder};
use crate::labels::LabelRules;
use crate::metrics::{Drop, Metrics, Outcome};
use crate::rejection::{Rejection, WRITE_PATH};

/// When the last write arrived or was answered; `None` until the first one, and while a
/// write is in flight (one held for room may wait longer than --idle-exit, and k6 sends
/// nothing else meanwhile: its flushes take turns).
#[derive(Clone, Default)]
pub struct IdleClock(Arc<Mutex<Clock>>);

#[derive(Default)]
struct Clock {
    last: Option<Instant>,
    in_flight: usize,
}

/// A write in flight; its drop restarts the idle clock.
struct InFlight(IdleClock);

impl std::ops::Drop for InFlight {
    fn drop(&mut self) {
        let mut c = self.0.0.lock().expect("idle clock lock");
        c.in_flight -= 1;
        c.last = Some(Instant::now());
    }
}

impl IdleClock {
    fn begin(&self) -> InFlight {
        let mut c = self.0.lock().expect("idle clock lock");
        c.in_flight += 1;
        c.last = Some(Instant::now());
        InFlight(self.clone())
    }
    pub fn since_last_write(&self) -> Option<Duration> {
        let c = self.0.lock().expect("idle clock lock");
        if c.in_flight > 0 {
            return None;
        }
        c.last.map(|t| t.elapsed())
    }
}

#[derive(Clone)]
pub struct Relay {
    forwarder: Arc<Forwarder>,
    rules: Arc<LabelRules>,
    metrics: Metrics,
    max_body: usize,
    idle: IdleClock,
}

fn reply(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(message)));
    *r.status_mut() = status;
    if status != StatusCode::NO_CONTENT {
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    r
}

impl Relay {
    pub fn new(
        forwarder: Arc<Forwarder>,
        rules: LabelRules,
        metrics: Metrics,
        max_body: usize,
    ) -> Self {
        Self {
            forwarder,
            rules: Arc::new(rules),
            metrics,
            max_body,
            idle: IdleClock::default(),
        }
    }

    pub fn idle_clock(&self) -> IdleClock {
        self.idle.clone()
    }

    pub async fn handle<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match self.accept(req).await {
            Ok((Accepted::Forwarded | Accepted::Buffered, written)) => {
                self.metrics.request(Outcome::Accepted);
                let mut r = reply(StatusCode::NO_CONTENT, String::new());
                if let Some(w) = written {
                    w.insert_into(r.headers_mut());
                }
                r
            }
            Ok((Accepted::Unavailable(why), _)) => {
                self.metrics.request(Outcome::Unavailable);
                let message = match why {
                    Drop::QueueFull => {
                        "remote-write queue still full after --queue-full-wait (the receiver is behind); request not kept — set --buffer-dir to spill to disk"
                    }
                    _ => "remote-write queue and disk buffer full; request not kept",
                };
                let mut r = reply(StatusCode::SERVICE_UNAVAILABLE, format!("{message}\n"));
                r.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
                r
            }
            Err(rejection) => {
                self.metrics.rejected(&rejection);
                tracing::debug!(reason = rejection.reason(), error = %rejection, "k6-relay: request rejected");
                reply(rejection.status(), format!("{rejection}\n"))
            }
        }
    }

    /// The outcome and, for a 2.0 request, what the answer's written-headers report.
    async fn accept<B>(&self, req: Request<B>) -> Result<(Accepted, Option<Written>), Rejection>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if req.uri().path() != WRITE_PATH {
            return Err(Rejection::Path(req.uri().path().to_string()));
        }
        if req.method() != http::Method::POST {
            return Err(Rejection::Method(req.method().to_string()));
        }
        let _in_flight = self.idle.begin();
        let header = |h| {
            req.headers()
                .get(h)
                .map(|v| v.to_str().unwrap_or("<not text>"))
        };
        let protocol = check_headers(
            header(header::CONTENT_TYPE),
            header(header::CONTENT_ENCODING),
        )?;
        let body = Limited::new(req.into_body(), self.max_body)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    Rejection::TooLarge {
                        limit: self.max_body,
                        what: "compressed",
                    }
                } else {
                    Rejection::Snappy(format!("body could not be read: {e}"))
                }
            })?
            .to_bytes();
        let max_decoded = self.max_body.saturating_mul(8);
        let (prepared, exemplars) = match protocol {
            Protocol::V1 => (self.rules.prepare(decode_body(&body, max_decoded)?)?, None),
            Protocol::V2 => {
                let v2 = decode_v2(&decompress(&body, max_decoded)?)?;
                (self.rules.prepare_v2(v2.request)?, Some(v2.exemplars))
            }
        };
        self.metrics
            .dropped(0, Drop::LabelCollision, prepared.collisions);
        // Counted before the batch moves on: what the relay took from this request.
        let written = exemplars.map(|_| {
            let [samples, histograms, exemplars] = prepared.batch.kinds(0);
            Written {
                samples,
                histograms,
                exemplars,
            }
        });
        Ok((self.forwarder.accept(prepared.batch).await, written))
    }
}

/// The remote-write 2.0 answer's `X-Prometheus-Remote-Write-*-Written` counts: what was
/// accepted (queued or on disk), which a 2.0 sender compares with what it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub samples: u64,
    pub histograms: u64,
    pub exemplars: u64,
}

impl Written {
    fn insert_into(self, headers: &mut http::HeaderMap) {
        for (name, n) in [
            ("x-prometheus-remote-write-samples-written", self.samples),
            (
                "x-prometheus-remote-write-histograms-written",
                self.histograms,
            ),
            (
                "x-prometheus-remote-write-exemplars-written",
                self.exemplars,
            ),
        ] {
            headers.insert(name, header::HeaderValue::from(n));
        }
    }
}

/// Serves until `stop`, then lets requests in flight finish: up to 5 s, or longer when a
/// held write may wait longer (cut off, its samples would be neither kept nor counted).
pub async fn serve(listener: TcpListener, relay: Relay, stop: CancellationToken) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "k6-relay: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let relay = relay.clone();
                let svc = service_fn(move |req| {
                    let relay = relay.clone();
                    async move { Ok::<_, Infallible>(relay.handle(req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "k6-relay: connection ended with an error");
                    }
                });
            }
            _ = stop.cancelled() => break,
        }
    }
    drop(listener);
    let in_flight =
        (relay.forwarder.queue_full_wait() + Duration::from_secs(1)).max(Duration::from_secs(5));
    if tokio::time::timeout(in_flight, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(?in_flight, "k6-relay: requests still in flight at shutdown");
    }
}
