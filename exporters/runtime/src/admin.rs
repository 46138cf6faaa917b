//! `/metrics` (OpenMetrics text of the same registry the push loop reads),
//! `/ready` and `/live` for Kubernetes probes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, body::Incoming, service::service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::RuntimeError;

pub(crate) struct Admin {
    pub addr: SocketAddr,
    pub stop: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

/// Where a CLI run serves when `--admin-addr` is not given: this machine only.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:9470";

/// The default address, or a free loopback port (logged) when another run holds it: two
/// runs at once on one machine both work. An address the user chose is never replaced.
pub(crate) async fn serve_default(
    registry: Arc<Registry>,
    ready: Arc<AtomicBool>,
) -> Result<Admin, RuntimeError> {
    let addr: SocketAddr = DEFAULT_ADMIN_ADDR.parse().expect("literal address");
    match serve(addr, registry.clone(), ready.clone()).await {
        Ok(a) => Ok(a),
        Err(RuntimeError::Bind { source, .. })
            if source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            let a = serve(
                "127.0.0.1:0".parse().expect("literal address"),
                registry,
                ready,
            )
            .await?;
            tracing::warn!(
                taken = DEFAULT_ADMIN_ADDR,
                admin = %a.addr,
                "the default admin address is in use (another run?): serving /metrics on a free port instead; set --admin-addr to choose"
            );
            Ok(a)
        }
        Err(e) => Err(e),
    }
}

pub(crate) async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    ready: Arc<AtomicBool>,
) -> Result<Admin, RuntimeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| RuntimeError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| RuntimeError::Bind { addr, source })?;
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(error = %e, "admin accept failed");
                        continue;
                    }
                },
                _ = stopped.cancelled() => return,
            };
            let registry = registry.clone();
            let ready = ready.clone();
            let stopped = stopped.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let registry = registry.clone();
                    let ready = ready.clone();
                    async move { Ok::<_, std::convert::Infallible>(route(req, &registry, &ready)) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection(TokioIo::new(stream), svc);
                tokio::select! {
                    _ = conn => {}
                    _ = stopped.cancelled() => {}
                }
            });
        }
    });
    Ok(Admin {
        addr: bound,
        stop,
        task,
    })
}

/// Content negotiation as Prometheus does it: protobuf when asked (the only
/// format that carries native histograms), OpenMetrics when asked and the registry
/// fits it (it has no native-only histograms), Prometheus text otherwise.
fn metrics(headers: &hyper::HeaderMap, registry: &Registry) -> Response<Full<Bytes>> {
    use prometheus_client::encoding::{prometheus_protobuf, prometheus_text, text};
    let accept = headers
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let reply = |ct: &str, body: Bytes| {
        Response::builder()
            .header("content-type", ct)
            .body(Full::new(body))
            .expect("metrics response")
    };
    if accept.contains("application/vnd.google.protobuf")
        && let Ok(body) = prometheus_protobuf::encode_to_vec(registry)
    {
        return reply(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
            Bytes::from(body),
        );
    }
    if accept.contains("application/openmetrics-text") {
        let mut body = String::new();
        if text::encode(&mut body, registry).is_ok() {
            return reply(
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                Bytes::from(body),
            );
        }
    }
    let mut body = String::new();
    match prometheus_text::encode(&mut body, registry) {
        Ok(()) => reply(prometheus_text::CONTENT_TYPE, Bytes::from(body)),
        Err(_) => Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Full::new(Bytes::from_static(b"encoding failed\n")))
            .expect("static response"),
    }
}

fn route(req: Request<Incoming>, registry: &Registry, ready: &AtomicBool) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: &'static str| {
        Response::builder()
            .status(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .expect("static response")
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    match req.uri().path() {
        "/metrics" => metrics(req.headers(), registry),
        "/live" => text(StatusCode::OK, "ok\n"),
        "/ready" if ready.load(Ordering::Relaxed) => text(StatusCode::OK, "ready\n"),
        "/ready" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /ready or /live\n",
        ),
    }
}
