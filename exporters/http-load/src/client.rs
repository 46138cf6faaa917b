//! One connection per VU: hyper's low-level HTTP/1.1 or HTTP/2 handshake over a TCP stream
//! (TCP_NODELAY) or rustls, kept alive across iterations and re-opened when the server closes
//! it. No pool and no shared state: a VU owns its connection like a k6 VU does. The pieces
//! (TCP connect, TLS handshake, HTTP handshake) are also what the lean HTTP/1.1 path
//! ([`crate::h1`]) and the shared HTTP/2 connections ([`crate::h2pool`]) open theirs with.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::connection_options::{ConnectionOptions, Http2Engine, Shape};
pub use crate::error::{ClientError, io_reason};
use crate::h2conn::{self, H2Handle};
use crate::metrics::ErrorReason;
use crate::stream::Stream;
use crate::tls_tcp::TlsTcp;
pub use crate::wire::{Counted, WireCounters};

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
    /// Which HTTP/2 implementation serves requests other than SSE streams.
    pub http2_engine: Http2Engine,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("http2", &self.http2)
            .field("timeout", &self.timeout)
            .field("shape", &self.shape)
            .field("http2_engine", &self.http2_engine)
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
        let provider = Arc::new(crate::tls_provider::provider());
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
            http2_engine: Http2Engine::default(),
        })
    }
}

enum Sender {
    H1(http1::SendRequest<ReqBody>),
    H2(H2Handle),
}

pub struct Conn {
    sender: Sender,
    origin: OriginKey,
    pub wire: Arc<WireCounters>,
}

impl Conn {
    fn usable_for(&self, uri: &Uri) -> bool {
        self.origin.matches(uri)
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
}

/// What a kept connection is for: the scheme and the authority as the URI spells them.
/// Checking a request against it is a string compare; host and port are parsed only to
/// connect (parsing them cost ~800 instructions, twice per request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginKey {
    https: bool,
    authority: String,
}

impl OriginKey {
    pub fn of(uri: &Uri) -> Self {
        Self {
            https: uri.scheme_str() == Some("https"),
            authority: uri.authority().map_or("", |a| a.as_str()).to_owned(),
        }
    }

    pub fn matches(&self, uri: &Uri) -> bool {
        (uri.scheme_str() == Some("https")) == self.https
            && uri
                .authority()
                .is_some_and(|a| a.as_str() == self.authority)
    }
}

/// Returns a connection to `uri`'s origin, reusing `slot` when it is still open.
pub async fn connection<'a>(
    cfg: &ClientConfig,
    slot: &'a mut Option<Conn>,
    uri: &Uri,
) -> Result<(&'a mut Conn, Option<ConnectTimes>), ClientError> {
    reuse_or_connect(slot, |c| c.usable_for(uri), || connect(cfg, uri)).await
}

/// A connection a lean path keeps for one VU (HTTP/1.1 or HTTP/2): the two differ only in
/// when one may be reused and what they hold besides the socket.
pub trait Kept: Sized {
    /// Whether this connection may carry the next request to `uri`.
    fn reusable(&self, uri: &Uri) -> bool;
    /// A fresh connection over `stream` to `origin`.
    fn open(stream: Stream, origin: OriginKey) -> Self;
}

/// Returns the connection kept in `slot` when it is reusable for `uri`, else a new TCP (and
/// TLS) connection to `uri`'s origin, kept there instead.
pub async fn kept<'a, C: Kept>(
    cfg: &ClientConfig,
    slot: &'a mut Option<C>,
    uri: &Uri,
) -> Result<(&'a mut C, Option<ConnectTimes>), ClientError> {
    reuse_or_connect(
        slot,
        |c| c.reusable(uri),
        || async move {
            let origin = Origin::of(uri)?;
            let (stream, times) =
                connect_stream(cfg, origin.https, origin.host, origin.port).await?;
            Ok((C::open(stream, OriginKey::of(uri)), times))
        },
    )
    .await
}

/// `slot`'s connection when `reusable` says it may take the next request, else a new one
/// from `connect`, kept in `slot` instead.
async fn reuse_or_connect<C, F>(
    slot: &mut Option<C>,
    reusable: impl Fn(&C) -> bool,
    connect: impl FnOnce() -> F,
) -> Result<(&mut C, Option<ConnectTimes>), ClientError>
where
    F: Future<Output = Result<(C, ConnectTimes), ClientError>>,
{
    if slot.as_ref().is_some_and(reusable) {
        return Ok((slot.as_mut().expect("checked"), None));
    }
    *slot = None;
    // Boxed: connecting (TCP + TLS handshake) is the cold path but by far the largest future;
    // inline, every request's future would carry (and move) its kilobytes. `connect` makes
    // it only here, so the caller's future holds no more than the closure's references.
    let (conn, times) = Box::pin(connect()).await?;
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

async fn connect(cfg: &ClientConfig, uri: &Uri) -> Result<(Conn, ConnectTimes), ClientError> {
    let origin = Origin::of(uri)?;
    let t0 = Instant::now();
    let permit = match &cfg.limit {
        Some(s) => Some(Arc::clone(s).acquire_owned().await.expect("never closed")),
        None => None,
    };
    let blocked = t0.elapsed();
    let (stream, mut times) = connect_stream(cfg, origin.https, origin.host, origin.port).await?;
    times.blocked = blocked;
    let wire = Arc::new(WireCounters::default());
    let sender = handshake(cfg, Counted::new(stream, &wire), permit).await?;
    Ok((
        Conn {
            sender,
            origin: OriginKey::of(uri),
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
    let mut tls = tokio::time::timeout(
        cfg.timeout,
        tokio_rustls::TlsConnector::from(Arc::clone(&cfg.tls)).connect(name, TlsTcp::new(tcp)),
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
    // Its last flight leaves with the first request (see `tls_tcp`).
    tls.get_mut().0.handshake_done();
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
        return h2conn::handshake(io, permit).await.map(Sender::H2);
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

/// Sends one request on `conn` (`body` is `req`'s body, which HTTP/2 sends from here);
/// resolves at the response head.
pub async fn send(
    conn: &mut Conn,
    req: Request<ReqBody>,
    body: &Bytes,
) -> Result<Response<Body>, ClientError> {
    match &mut conn.sender {
        Sender::H1(s) => {
            let fail = |e: hyper::Error| ClientError {
                reason: hyper_reason(&e),
                message: e.to_string(),
            };
            s.ready().await.map_err(fail)?;
            let resp = s.send_request(req).await.map_err(fail)?;
            Ok(resp.map(Body::H1))
        }
        Sender::H2(h) => send_h2(h, req, body).await,
    }
}

/// Sends one request on an HTTP/2 connection; resolves at the response head.
pub async fn send_h2(
    h: &mut H2Handle,
    req: Request<ReqBody>,
    body: &Bytes,
) -> Result<Response<Body>, ClientError> {
    let (parts, _) = req.into_parts();
    let resp = h.send(Request::from_parts(parts, ()), body).await?;
    Ok(resp.map(Body::H2))
}

/// A response body being received.
pub enum Body {
    H1(hyper::body::Incoming),
    H2(h2::RecvStream),
}

impl Body {
    /// The next piece of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, ClientError>> {
        match self {
            Body::H1(incoming) => loop {
                let frame = match incoming.frame().await? {
                    Ok(f) => f,
                    Err(e) => {
                        return Some(Err(ClientError {
                            reason: hyper_reason(&e),
                            message: e.to_string(),
                        }));
                    }
                };
                // Trailers carry no body bytes.
                if let Ok(data) = frame.into_data() {
                    return Some(Ok(data));
                }
            },
            Body::H2(recv) => h2conn::chunk(recv).await,
        }
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
