//! Listener, connection handling, routing and the handle in-process users hold.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::args::TargetArgs;
use crate::autoscale::{Autoscale, Work};
use crate::body::{self, Body};
use crate::error::TargetError;
use crate::faults::Fault;
use crate::kv::Kv;
use crate::limits::{self, Caller, Denied, Limiter, TiersConfig};
use crate::metrics::{Endpoint, RequestStats};
use crate::openai::{self, Kind, OpenAi};
use crate::predict;

struct State {
    max_body: usize,
    max_prime: u64,
    max_bloat_mb: u32,
    autoscale: Autoscale,
    openai: OpenAi,
    limiter: Limiter,
    kv: Arc<Kv>,
    stats: Arc<RequestStats>,
}

/// A target bound to its port, not yet accepting.
pub(crate) struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
    state: Arc<State>,
    startup_delay: Duration,
    shutdown_grace: Duration,
}

impl Bound {
    pub(crate) async fn new(args: TargetArgs) -> Result<Self, TargetError> {
        let tiers = match &args.tiers {
            Some(path) => TiersConfig::from_file(path)?,
            None => TiersConfig::default(),
        };
        let limiter = Limiter::new(tiers, args.tokens_file.as_deref(), args.require_auth)?;
        let kv = Kv::open(args.kv_file.as_deref(), args.kv_ack_before_write)?;
        let listener =
            TcpListener::bind(args.listen)
                .await
                .map_err(|source| TargetError::Bind {
                    addr: args.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| TargetError::Bind {
            addr: args.listen,
            source,
        })?;
        let state = State {
            max_body: args.max_body,
            max_prime: args.max_prime,
            max_bloat_mb: args.max_bloat_mb,
            autoscale: Autoscale::new(args.max_bloat_mb),
            openai: OpenAi::new(
                args.model,
                args.default_max_tokens,
                args.token_delay,
                args.ttft_delay,
            ),
            limiter,
            kv: Arc::new(kv),
            stats: Arc::new(RequestStats::default()),
        };
        Ok(Self {
            listener,
            addr,
            state: Arc::new(state),
            startup_delay: args.startup_delay,
            shutdown_grace: args.shutdown_grace,
        })
    }

    pub(crate) async fn run(self, shutdown: CancellationToken) -> Result<(), TargetError> {
        let Bound {
            listener,
            addr,
            state,
            startup_delay,
            shutdown_grace,
        } = self;
        if !startup_delay.is_zero() {
            tracing::info!(%addr, delay = ?startup_delay, "bound; holding connections until the startup delay ends");
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(startup_delay) => {}
            }
        }
        tracing::info!(%addr, "target listening");

        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).keep_alive(true);
        builder.http2().timer(TokioTimer::new());
        let graceful = GracefulShutdown::new();
        // Connections still open when the grace period ends are dropped through this.
        let hard_stop = CancellationToken::new();

        loop {
            let (stream, peer) = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Usually EMFILE under a connection flood: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                },
            };
            // Small responses and SSE chunks must leave at once; Nagle would add latency
            // the load generator would then attribute to the target.
            let _ = stream.set_nodelay(true);
            let state = Arc::clone(&state);
            let service = service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(handle(&state, req).await) }
            });
            let conn = graceful.watch(
                builder
                    .serve_connection(TokioIo::new(stream), service)
                    .into_owned(),
            );
            let hard_stop = hard_stop.clone();
            tokio::spawn(async move {
                tokio::select! {
                    res = conn => if let Err(e) = res {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    },
                    _ = hard_stop.cancelled() => {}
                }
            });
        }
        drop(listener);
        tracing::info!(%addr, "target shutting down");
        if tokio::time::timeout(shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?shutdown_grace, "in-flight requests outlived the shutdown grace; dropping them");
            hard_stop.cancel();
        }
        Ok(())
    }
}

/// Starts the target on the current runtime and returns once it is bound, so `addr()` is
/// usable at once (with `--listen 127.0.0.1:0` for a free port).
pub async fn spawn(args: TargetArgs) -> Result<TargetHandle, TargetError> {
    let bound = Bound::new(args).await?;
    let addr = bound.addr;
    let stats = Arc::clone(&bound.state.stats);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(bound.run(shutdown.clone()));
    Ok(TargetHandle {
        addr,
        stats,
        shutdown,
        task: Some(task),
    })
}

/// A target running in-process. Dropping it stops the target without waiting.
pub struct TargetHandle {
    addr: SocketAddr,
    stats: Arc<RequestStats>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), TargetError>>>,
}

impl TargetHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far, by endpoint and status.
    pub fn stats(&self) -> &Arc<RequestStats> {
        &self.stats
    }

    /// Stops accepting, waits for in-flight requests (up to the shutdown grace) and returns
    /// once the listener is closed and the kv file released.
    pub async fn shutdown(mut self) -> Result<(), TargetError> {
        self.shutdown.cancel();
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for TargetHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Route<'p> {
    Autoscale,
    Completions,
    Chat,
    Models,
    Predict(&'p str),
    Health,
    Kv(&'p str),
    NotFound,
}

impl<'p> Route<'p> {
    fn of(path: &'p str) -> Self {
        match path {
            "/" | "/autoscale" => return Route::Autoscale,
            "/v1/completions" => return Route::Completions,
            "/v1/chat/completions" => return Route::Chat,
            "/v1/models" => return Route::Models,
            "/health" => return Route::Health,
            _ => {}
        }
        if let Some(key) = path.strip_prefix("/kv/") {
            return if key.is_empty() {
                Route::NotFound
            } else {
                Route::Kv(key)
            };
        }
        if let Some(rest) = path.strip_prefix("/api/v1/predict/") {
            // Locust is pointed at `--host .../api/v1/predict/1` and requests "" and "/health"
            // relative to it, so health lives under the model path too.
            let rest = rest.trim_end_matches('/');
            return match rest.split_once('/') {
                None if !rest.is_empty() => Route::Predict(rest),
                Some((_, "health")) => Route::Health,
                _ => Route::NotFound,
            };
        }
        Route::NotFound
    }

    fn endpoint(self) -> Endpoint {
        match self {
            Route::Autoscale => Endpoint::Autoscale,
            Route::Completions => Endpoint::Completions,
            Route::Chat => Endpoint::ChatCompletions,
            Route::Models => Endpoint::Models,
            Route::Predict(_) => Endpoint::Predict,
            Route::Health => Endpoint::Health,
            Route::Kv(_) => Endpoint::Kv,
            Route::NotFound => Endpoint::Other,
        }
    }

    /// Routes behind the "gateway": auth and tier limits apply. Health and kv stay open so
    /// probes keep working while a load test exhausts a tier.
    fn protected(self) -> bool {
        matches!(
            self,
            Route::Autoscale | Route::Completions | Route::Chat | Route::Models | Route::Predict(_)
        )
    }

    fn allows(self, method: &Method) -> Result<(), &'static str> {
        let (ok, allow) = match self {
            Route::Autoscale | Route::NotFound => (true, ""),
            Route::Completions | Route::Chat | Route::Predict(_) => {
                (method == Method::POST, "POST")
            }
            Route::Models | Route::Health => {
                (method == Method::GET || method == Method::HEAD, "GET, HEAD")
            }
            Route::Kv(_) => (
                matches!(
                    *method,
                    Method::GET | Method::HEAD | Method::PUT | Method::POST | Method::DELETE
                ),
                "GET, HEAD, PUT, POST, DELETE",
            ),
        };
        if ok { Ok(()) } else { Err(allow) }
    }
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Body> {
    let start = Instant::now();
    let (parts, body) = req.into_parts();
    let route = Route::of(parts.uri.path());
    let resp = dispatch(state, &parts, route, body, start).await;
    state.stats.record(route.endpoint(), resp.status().as_u16());
    resp
}

/// Answers without reading the body would make hyper close the keep-alive connection, and a
/// load generator would then measure reconnects instead of the error it asked for.
async fn early(body: Incoming, limit: usize, resp: Response<Body>) -> Response<Body> {
    match body::drain(body, limit).await {
        Ok(_) => resp,
        Err(e) => e.response(limit),
    }
}

fn denied(d: Denied) -> Response<Body> {
    match d {
        Denied::Unauthorized => {
            let mut r = openai::error(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "missing or unknown bearer token",
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
        Denied::Limited { retry_after } => {
            let secs = limits::retry_after_secs(retry_after);
            let mut r = openai::error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                &format!("tier limit reached; retry in {secs} s"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            r
        }
    }
}

async fn dispatch(
    state: &State,
    parts: &Parts,
    route: Route<'_>,
    body: Incoming,
    start: Instant,
) -> Response<Body> {
    let limit = state.max_body;
    let q = parts.uri.query();
    if route == Route::NotFound {
        return early(
            body,
            limit,
            body::text(StatusCode::NOT_FOUND, "not found\n"),
        )
        .await;
    }
    if let Err(allow) = route.allows(&parts.method) {
        let mut r = body::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        return early(body, limit, r).await;
    }
    let fault = match Fault::parse(q) {
        Ok(f) => f,
        Err(msg) => {
            return early(body, limit, body::text(StatusCode::BAD_REQUEST, msg + "\n")).await;
        }
    };
    let caller = if route.protected() {
        match state
            .limiter
            .identify(parts.headers.get(header::AUTHORIZATION))
        {
            Ok(c) => c,
            Err(d) => return early(body, limit, denied(d)).await,
        }
    } else {
        Caller::Anonymous
    };
    // A fault stands for the backend failing, so it comes after the gateway let the request
    // through and charged it.
    let injected = |fault: Option<Fault>| {
        fault
            .filter(|f| f.fires(&mut rand::rng()))
            .map(|f| body::text(f.status, format!("injected {}\n", f.status.as_u16())))
    };

    match route {
        Route::Completions | Route::Chat => {
            let kind = if route == Route::Chat {
                Kind::Chat
            } else {
                Kind::Completions
            };
            let bytes = match body::read(body, limit).await {
                Ok(b) => b,
                Err(e) => return e.response(limit),
            };
            let plan = match state.openai.plan(kind, &bytes, &parts.headers, q) {
                Ok(p) => p,
                Err(msg) => return openai::invalid(&msg),
            };
            if let Err(d) = state
                .limiter
                .admit(caller, plan.total_tokens(), Instant::now())
            {
                return denied(d);
            }
            if let Some(r) = injected(fault) {
                return r;
            }
            state.openai.respond(plan, start).await
        }
        _ => {
            if let Err(d) = state.limiter.admit(caller, 0, Instant::now()) {
                return early(body, limit, denied(d)).await;
            }
            if let Some(r) = injected(fault) {
                return early(body, limit, r).await;
            }
            match route {
                Route::Autoscale => autoscale(state, q, body).await,
                Route::Models => early(body, limit, openai::models(&state.openai.model)).await,
                Route::Health => early(body, limit, predict::health()).await,
                Route::Predict(id) => match body::read(body, limit).await {
                    Ok(bytes) => predict::predict(id, &bytes),
                    Err(e) => e.response(limit),
                },
                Route::Kv(key) => kv(state, &parts.method, key, body).await,
                Route::Completions | Route::Chat | Route::NotFound => unreachable!("handled above"),
            }
        }
    }
}

async fn autoscale(state: &State, q: Option<&str>, body: Incoming) -> Response<Body> {
    let limit = state.max_body;
    let work = match Work::parse(q, state.max_prime, state.max_bloat_mb) {
        Ok(w) => w,
        Err(msg) => {
            return early(body, limit, body::text(StatusCode::BAD_REQUEST, msg + "\n")).await;
        }
    };
    // The body (Knative's 10K..1000K payloads) is read while the work runs, as a real
    // handler's request would be received before its reply is sent.
    let reply = if work.is_empty() {
        body::drain(body, limit).await.map(|_| String::new())
    } else {
        let (drained, reply) = tokio::join!(body::drain(body, limit), state.autoscale.run(&work));
        drained.map(|_| reply)
    };
    match reply {
        Ok(text) => body::text(StatusCode::OK, text),
        Err(e) => e.response(limit),
    }
}

async fn kv(state: &State, method: &Method, key: &str, body: Incoming) -> Response<Body> {
    // Records store lengths as u32.
    let limit = state.max_body.min(u32::MAX as usize);
    match *method {
        Method::GET | Method::HEAD => {
            early(
                body,
                limit,
                match state.kv.get(key) {
                    Some(v) => body::full(StatusCode::OK, "application/octet-stream", v),
                    None => body::text(StatusCode::NOT_FOUND, "no such key\n"),
                },
            )
            .await
        }
        Method::DELETE => {
            if let Err(e) = body::drain(body, limit).await {
                return e.response(limit);
            }
            match state.kv.delete(key.to_owned()).await {
                Ok(true) => body::empty(StatusCode::NO_CONTENT),
                Ok(false) => body::text(StatusCode::NOT_FOUND, "no such key\n"),
                Err(e) => kv_failed(e),
            }
        }
        _ => {
            let value = match body::read(body, limit).await {
                Ok(v) => v,
                Err(e) => return e.response(limit),
            };
            match state.kv.put(key.to_owned(), value).await {
                Ok(true) => body::empty(StatusCode::CREATED),
                Ok(false) => body::empty(StatusCode::NO_CONTENT),
                Err(e) => kv_failed(e),
            }
        }
    }
}

fn kv_failed(e: std::io::Error) -> Response<Body> {
    // Never an ack: the prober must count this write as not acknowledged.
    tracing::error!(error = %e, "kv write failed");
    body::text(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("kv write failed: {e}\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::of("/"), Route::Autoscale);
        assert_eq!(Route::of("/autoscale"), Route::Autoscale);
        assert_eq!(Route::of("/v1/chat/completions"), Route::Chat);
        assert_eq!(Route::of("/api/v1/predict/1"), Route::Predict("1"));
        assert_eq!(Route::of("/api/v1/predict/abc/"), Route::Predict("abc"));
        assert_eq!(Route::of("/api/v1/predict/1/health"), Route::Health);
        assert_eq!(Route::of("/api/v1/predict/"), Route::NotFound);
        assert_eq!(Route::of("/api/v1/predict/1/other"), Route::NotFound);
        assert_eq!(Route::of("/kv/a/b"), Route::Kv("a/b"));
        assert_eq!(Route::of("/kv/"), Route::NotFound);
        assert_eq!(Route::of("/nope"), Route::NotFound);
        assert!(Route::Chat.allows(&Method::GET).is_err());
        assert!(Route::Autoscale.allows(&Method::PATCH).is_ok());
        assert!(!Route::Health.protected() && !Route::Kv("k").protected());
    }
}
