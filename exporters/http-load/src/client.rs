//! One connection per VU: hyper's low-level HTTP/1.1 or HTTP/2 handshake over a TCP stream
//! (TCP_NODELAY) or rustls, kept alive across iterations and re-opened when the server closes
//! it. No pool and no shared state: a VU owns its connection like a k6 VU does. The pieces
//! (TCP connect, TLS handshake, HTTP handshake) are also what the lean HTTP/1.1 path
//! ([`crate::h1`]) and the shared HTTP/2 connections ([`crate::h2pool`]) open theirs with.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::connection_options::{ConnectionOptions, Shape};
use crate::metrics::ErrorReason;
use crate::stream::Stream;

pub type ReqBody = Full<Bytes>;

/// Settings shared by every VU's connection.
#[derive(Clone)]
pub struct ClientConfig {
    pub http2: bool,
    pub timeout: Duration,
    pub tls: Arc<rustls::ClientConfig>,
    /// `--max-connections` over HTTP/1.1: VUs beyond it wait for a connection (counted as
    /// blocked time).
    pub limit: Option<Arc<Semaphore>>,
    /// False with `--no-connection-reuse`: every request gets a new connection.
    pub reuse: bool,
    /// How connections are shaped (multiplexed HTTP/2 is run by [`crate::h2pool`]).
    pub shape: Shape,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("http2", &self.http2)
            .field("timeout", &self.timeout)
            .field("shape", &self.shape)
            .finish()
    }
}

impl ClientConfig {
    /// A per-VU client, with at most `max_connections` open over HTTP/1.1.
    pub fn new(
        http2: bool,
        timeout: Duration,
        insecure: bool,
        max_connections: Option<usize>,
    ) -> Self {
        let options = ConnectionOptions {
            max_connections,
            ..ConnectionOptions::default()
        };
        // Only contradictory options fail, and one limit alone never contradicts.
        Self::with_options(http2, timeout, insecure, options).expect("a limit alone is valid")
    }

    /// A client shaped by `options`; `Err` says which options do not go together.
    pub fn with_options(
        http2: bool,
        timeout: Duration,
        insecure: bool,
        options: ConnectionOptions,
    ) -> Result<Self, String> {
        let shape = options.shape(http2)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions");
        let mut tls = if insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(insecure::NoVerify))
                .with_no_client_auth()
        } else {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        tls.alpn_protocols = if http2 {
            vec![b"h2".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        let limit = match shape {
            Shape::Limited { max } => Some(Arc::new(Semaphore::new(max))),
            _ => None,
        };
        Ok(Self {
            http2,
            timeout,
            tls: Arc::new(tls),
            limit,
            reuse: shape != Shape::PerRequest,
            shape,
        })
    }
}

enum Sender {
    H1(http1::SendRequest<ReqBody>),
    H2(http2::SendRequest<ReqBody>),
}

/// Bytes read and written on one connection (k6's data_received / data_sent), and when the
/// last write reached the transport (k6's http_req_sending ends there).
#[derive(Debug)]
pub struct WireCounters {
    pub read: AtomicU64,
    pub written: AtomicU64,
    /// Nanoseconds from `base` to the end of the latest write (or flush of written bytes);
    /// 0 before any.
    last_write_ns: AtomicU64,
    base: Instant,
}

impl Default for WireCounters {
    fn default() -> Self {
        Self {
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
            last_write_ns: AtomicU64::new(0),
            base: Instant::now(),
        }
    }
}

impl WireCounters {
    /// Only the connection's own task writes, and `Instant` is monotonic: a plain store.
    fn wrote(&self) {
        let ns = self.base.elapsed().as_nanos() as u64;
        self.last_write_ns.store(ns.max(1), Ordering::Relaxed);
    }

    /// Bytes (written, read) since the last take. On a connection many requests share, each
    /// takes what moved since the one before it, so every byte is counted exactly once.
    pub fn take(&self) -> (u64, u64) {
        (
            self.written.swap(0, Ordering::Relaxed),
            self.read.swap(0, Ordering::Relaxed),
        )
    }

    /// When the latest write ended, if any did.
    pub fn last_write(&self) -> Option<Instant> {
        match self.last_write_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(self.base + Duration::from_nanos(ns)),
        }
    }
}

pub struct Conn {
    sender: Sender,
    /// https, host, port.
    origin: (bool, String, u16),
    pub wire: Arc<WireCounters>,
}

impl Conn {
    fn usable_for(&self, origin: &Origin<'_>) -> bool {
        origin.is(self.origin.0, &self.origin.1, self.origin.2)
            && match &self.sender {
                Sender::H1(s) => !s.is_closed(),
                Sender::H2(s) => !s.is_closed(),
            }
    }
}

/// What connecting cost, for k6's `http_req_connecting` / `http_req_tls_handshaking`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectTimes {
    pub connecting: Duration,
    pub tls: Duration,
    /// An https connection: `tls` is its handshake.
    pub tls_handshake: bool,
    /// Waited for a `--max-connections` permit.
    pub blocked: Duration,
}

#[derive(Debug)]
pub struct ClientError {
    pub reason: ErrorReason,
    pub message: String,
}

/// Scheme, host and port of a URI, borrowed from it: looking one up costs no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub https: bool,
    /// Without the brackets of an IPv6 literal.
    pub host: &'a str,
    pub port: u16,
}

impl<'a> Origin<'a> {
    pub fn of(uri: &'a Uri) -> Result<Self, ClientError> {
        let https = uri.scheme_str() == Some("https");
        let host = uri.host().ok_or_else(|| ClientError {
            reason: ErrorReason::Other,
            message: "URL has no host".into(),
        })?;
        Ok(Self {
            https,
            host: host.trim_start_matches('[').trim_end_matches(']'),
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
        })
    }

    pub fn is(&self, https: bool, host: &str, port: u16) -> bool {
        self.https == https && self.port == port && self.host == host
    }
}

/// Returns a connection to `uri`'s origin, reusing `slot` when it is still open.
pub async fn connection<'a>(
    cfg: &ClientConfig,
    slot: &'a mut Option<Conn>,
    uri: &Uri,
) -> Result<(&'a mut Conn, Option<ConnectTimes>), ClientError> {
    let origin = Origin::of(uri)?;
    if slot.as_ref().is_some_and(|c| c.usable_for(&origin)) {
        return Ok((slot.as_mut().expect("checked"), None));
    }
    *slot = None;
    let owned = (origin.https, origin.host.to_owned(), origin.port);
    // Boxed: connecting (TCP + TLS handshake) is the cold path but by far the largest future;
    // inline, every request's future would carry (and move) its kilobytes.
    let (conn, times) = Box::pin(connect(cfg, owned)).await?;
    Ok((slot.insert(conn), Some(times)))
}

/// A TCP connection with Nagle off (requests are written whole), and how long it took.
pub async fn connect_tcp(
    cfg: &ClientConfig,
    host: &str,
    port: u16,
) -> Result<(TcpStream, ConnectTimes), ClientError> {
    let t1 = Instant::now();
    let tcp = tokio::time::timeout(cfg.timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| ClientError {
            reason: ErrorReason::Timeout,
            message: "connect timed out".into(),
        })?
        .map_err(|e| ClientError {
            reason: io_reason(&e),
            message: format!("connect: {e}"),
        })?;
    let _ = tcp.set_nodelay(true);
    Ok((
        tcp,
        ConnectTimes {
            connecting: t1.elapsed(),
            ..ConnectTimes::default()
        },
    ))
}

async fn connect(
    cfg: &ClientConfig,
    origin: (bool, String, u16),
) -> Result<(Conn, ConnectTimes), ClientError> {
    let t0 = Instant::now();
    let permit = match &cfg.limit {
        Some(s) => Some(Arc::clone(s).acquire_owned().await.expect("never closed")),
        None => None,
    };
    let blocked = t0.elapsed();
    let (stream, mut times) = connect_stream(cfg, origin.0, &origin.1, origin.2).await?;
    times.blocked = blocked;
    let wire = Arc::new(WireCounters::default());
    let sender = handshake(cfg, Counted::new(stream, &wire), permit).await?;
    Ok((
        Conn {
            sender,
            origin,
            wire,
        },
        times,
    ))
}

/// A TCP connection to `host:port`, wrapped in TLS when `https`, and what each part took.
pub async fn connect_stream(
    cfg: &ClientConfig,
    https: bool,
    host: &str,
    port: u16,
) -> Result<(Stream, ConnectTimes), ClientError> {
    let (tcp, mut times) = connect_tcp(cfg, host, port).await?;
    if !https {
        return Ok((Stream::Plain(tcp), times));
    }
    let t2 = Instant::now();
    let name =
        rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| ClientError {
            reason: ErrorReason::Tls,
            message: format!("server name: {e}"),
        })?;
    let tls = tokio::time::timeout(
        cfg.timeout,
        tokio_rustls::TlsConnector::from(Arc::clone(&cfg.tls)).connect(name, tcp),
    )
    .await
    .map_err(|_| ClientError {
        reason: ErrorReason::Timeout,
        message: "TLS handshake timed out".into(),
    })?
    .map_err(|e| ClientError {
        reason: ErrorReason::Tls,
        message: format!("TLS: {e}"),
    })?;
    times.tls = t2.elapsed();
    times.tls_handshake = true;
    Ok((Stream::Tls(Box::new(tls)), times))
}

/// The `--max-connections` permit lives in the connection's task: it is released when the
/// connection closes (by either side), not when the VU that opened it is parked.
async fn handshake(
    cfg: &ClientConfig,
    io: Counted<Stream>,
    permit: Option<OwnedSemaphorePermit>,
) -> Result<Sender, ClientError> {
    if cfg.http2 {
        return handshake_h2(io, permit).await.map(Sender::H2);
    }
    let (s, conn) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(handshake_failed)?;
    tokio::spawn(async move {
        let _ = conn.await;
        drop(permit);
    });
    Ok(Sender::H1(s))
}

fn handshake_failed(e: hyper::Error) -> ClientError {
    ClientError {
        reason: hyper_reason(&e),
        message: format!("handshake: {e}"),
    }
}

/// An HTTP/2 connection over `io`, its task spawned on the caller's runtime (a VU's worker
/// thread), holding `permit` until the connection ends.
pub(crate) async fn handshake_h2(
    io: Counted<Stream>,
    permit: Option<OwnedSemaphorePermit>,
) -> Result<http2::SendRequest<ReqBody>, ClientError> {
    let (s, conn) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(TokioIo::new(io))
        .await
        .map_err(handshake_failed)?;
    tokio::spawn(async move {
        let _ = conn.await;
        drop(permit);
    });
    Ok(s)
}

/// Sends one request on `conn`; resolves at the response head.
pub async fn send(
    conn: &mut Conn,
    req: Request<ReqBody>,
) -> Result<http::Response<hyper::body::Incoming>, ClientError> {
    let fail = |e: hyper::Error| ClientError {
        reason: hyper_reason(&e),
        message: e.to_string(),
    };
    match &mut conn.sender {
        Sender::H1(s) => {
            s.ready().await.map_err(fail)?;
            s.send_request(req).await.map_err(fail)
        }
        Sender::H2(s) => {
            s.ready().await.map_err(fail)?;
            s.send_request(req).await.map_err(fail)
        }
    }
}

pub fn io_reason(e: &std::io::Error) -> ErrorReason {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => ErrorReason::ConnectRefused,
        TimedOut => ErrorReason::Timeout,
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => ErrorReason::Reset,
        _ => ErrorReason::Other,
    }
}

pub fn hyper_reason(e: &hyper::Error) -> ErrorReason {
    if e.is_timeout() {
        return ErrorReason::Timeout;
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return ErrorReason::Reset;
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io_reason(io);
        }
        src = s.source();
    }
    ErrorReason::Other
}

/// Counts bytes on the wire in both directions and stamps the end of each write. A write
/// into a TLS stream can leave records buffered; the flush that follows stamps again, so the
/// stamp is when the bytes left for the socket.
pub(crate) struct Counted<S> {
    inner: S,
    wire: Arc<WireCounters>,
    /// Written since the last successful flush.
    unflushed: bool,
}

impl<S> Counted<S> {
    pub(crate) fn new(inner: S, wire: &Arc<WireCounters>) -> Self {
        Self {
            inner,
            wire: Arc::clone(wire),
            unflushed: false,
        }
    }

    fn count_write(&mut self, r: &Poll<std::io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = r
            && *n > 0
        {
            self.wire.written.fetch_add(*n as u64, Ordering::Relaxed);
            self.wire.wrote();
            self.unflushed = true;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.wire.read.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.count_write(&r);
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.count_write(&r);
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        if self.unflushed && matches!(r, Poll::Ready(Ok(()))) {
            self.unflushed = false;
            self.wire.wrote();
        }
        r
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

mod insecure {
    use rustls::DigitallySignedStruct;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    /// `insecureSkipTlsVerify`: accepts any certificate (test clusters with self-signed ingress).
    #[derive(Debug)]
    pub struct NoVerify;

    impl ServerCertVerifier for NoVerify {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
}
