//! A lean HTTP/1.1 exchange for `http://` and `https://` keep-alive connections, the hot path
//! of a load test against a fast target.
//!
//! hyper's client runs each connection as its own task behind a request channel: per request
//! that is two task wakeups, a channel hop each way and a parsed `HeaderMap`, about as much CPU
//! as the request's syscalls on loopback. A VU has one request in flight, so here it writes the
//! request and reads the response on its own socket, parsing the head (see [`crate::h1head`])
//! into a buffer it keeps. Over TLS the same holds: one request is one plaintext write, so one
//! TLS record and one syscall. hyper still serves HTTP/2, SSE streams and `--max-connections`
//! (see [`serves`]).
//!
//! The head is parsed in [`crate::h1head`], which also says how the body is framed.

use std::time::Instant;

use crate::client::{ClientConfig, ClientError, Kept, OriginKey, io_reason};
use crate::h1head::{Framing, parse_head, protocol};
use crate::metrics::ErrorReason;
pub use crate::response::{Failure, Keep, Response};
use crate::stream::Stream;
use bytes::{Buf, Bytes, BytesMut};
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderValue, Method};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Request bodies up to this size go out in the same write as the head.
const INLINE_BODY: usize = 16 * 1024;

/// Whether the lean path serves a request: HTTP/1.1, no connection limit (whose
/// slots must free when the server closes a parked VU's connection, which needs a
/// connection task), no SSE stream (per-event timestamps come from hyper's frames).
pub fn serves(cfg: &ClientConfig, streaming: bool) -> bool {
    !cfg.http2 && cfg.limit.is_none() && !streaming
}

/// Whether the URI is `http://` or `https://`.
pub fn lean_scheme(uri: &http::Uri) -> bool {
    matches!(uri.scheme_str(), Some("http" | "https"))
}

/// What the request line and head are made of. Not an `http::Request`: making and dropping
/// one (its parts, its URI, its header map) cost ~700 instructions per request, and the lean
/// path needs none of it.
pub struct RequestHead<'a> {
    pub method: &'a Method,
    /// The request target in origin form (`/path?query`).
    pub target: &'a str,
    /// Written first, before `headers`.
    pub host: Option<&'a HeaderValue>,
    pub headers: &'a HeaderMap,
}

impl<'a> RequestHead<'a> {
    /// The head of `req`, whose URI is in origin form (tests).
    #[cfg(test)]
    pub fn of(
        req: &'a http::Request<crate::client::ReqBody>,
        host: Option<&'a HeaderValue>,
    ) -> Self {
        Self {
            method: req.method(),
            target: req.uri().path_and_query().map_or("/", |p| p.as_str()),
            host,
            headers: req.headers(),
        }
    }
}

/// One keep-alive connection, owned by one VU.
pub struct H1Conn {
    origin: OriginKey,
    stream: Stream,
    /// Bytes read but not yet consumed.
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    /// Set while an exchange runs: a timeout that drops the exchange mid-way leaves it set,
    /// and a connection in an unknown state is never reused.
    busy: bool,
}

/// Reused when idle and left clean.
impl Kept for H1Conn {
    fn reusable(&self, uri: &http::Uri) -> bool {
        !self.busy && self.origin.matches(uri)
    }

    fn open(stream: Stream, origin: OriginKey) -> Self {
        H1Conn {
            origin,
            stream,
            rbuf: BytesMut::with_capacity(8 * 1024),
            wbuf: Vec::with_capacity(512),
            busy: false,
        }
    }
}

impl H1Conn {
    /// Sends the request and reads the whole response. Its Host goes first (kept out of the
    /// header map: inserting it there and dropping the map cost ~650 instructions per
    /// request). On `Ok` with `false` the server asked to close: the caller drops the
    /// connection.
    pub async fn exchange(
        &mut self,
        req: &RequestHead<'_>,
        body: &Bytes,
        keep: Keep,
    ) -> Result<(Response, bool), Failure> {
        self.busy = true;
        encode(&mut self.wbuf, req, body);
        let large_body = body.len() > INLINE_BODY;
        let write = async {
            self.stream.write_all(&self.wbuf).await?;
            if large_body {
                self.stream.write_all(body).await?;
            }
            // TLS may hold records back until flushed; plain TCP's flush does nothing.
            if self.stream.is_tls() {
                self.stream.flush().await?;
            }
            Ok::<_, std::io::Error>(())
        };
        if let Err(e) = write.await {
            return Err((io_error("sending the request", &e), (0, 0), true));
        }
        let wrote = Instant::now();
        let sent = (self.wbuf.len() + if large_body { body.len() } else { 0 }) as u64;
        let mut io = Io {
            stream: &mut self.stream,
            rbuf: &mut self.rbuf,
            received: 0,
        };
        let head_only = *req.method == Method::HEAD;
        match read_response(&mut io, head_only, keep, wrote, sent).await {
            Ok(done) => {
                self.busy = false;
                Ok(done)
            }
            Err(e) => Err((e, (sent, io.received), io.received == 0)),
        }
    }
}

/// The socket, its read buffer and the bytes this exchange has read.
struct Io<'a> {
    stream: &'a mut Stream,
    rbuf: &'a mut BytesMut,
    received: u64,
}

impl Io<'_> {
    /// Reads more into the buffer; the connection ending here is an error (the response is
    /// not complete yet).
    async fn fill(&mut self, what: &str) -> Result<(), ClientError> {
        if self.fill_or_end().await? {
            Ok(())
        } else {
            Err(ClientError {
                reason: ErrorReason::Reset,
                message: format!("connection closed before the response {what} was complete"),
            })
        }
    }

    /// Moves the next `left` body bytes out of the connection, into `body` when it is kept.
    async fn copy(
        &mut self,
        mut left: u64,
        body: &mut Option<BytesMut>,
        what: &str,
    ) -> Result<(), ClientError> {
        while left > 0 {
            if self.rbuf.is_empty() {
                self.fill(what).await?;
            }
            let n = (self.rbuf.len() as u64).min(left) as usize;
            consume(self.rbuf, n, body);
            left -= n as u64;
        }
        Ok(())
    }

    /// Reads more; `Ok(false)` when the server closed the connection.
    async fn fill_or_end(&mut self) -> Result<bool, ClientError> {
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            self.rbuf.reserve(8 * 1024);
        }
        match self.stream.read_buf(self.rbuf).await {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.received += n as u64;
                Ok(true)
            }
            Err(e) => Err(io_error("reading the response", &e)),
        }
    }
}

/// Drops the first `n` buffered bytes, keeping them in `body` when there is one.
fn consume(rbuf: &mut BytesMut, n: usize, body: &mut Option<BytesMut>) {
    if let Some(b) = body {
        b.extend_from_slice(&rbuf[..n]);
    }
    rbuf.advance(n);
}

fn io_error(what: &str, e: &std::io::Error) -> ClientError {
    ClientError {
        reason: io_reason(e),
        message: format!("{what}: {e}"),
    }
}

/// Writes `req` in HTTP/1.1 form, Host first, (and `body` too when small) into `out`.
fn encode(out: &mut Vec<u8>, req: &RequestHead<'_>, body: &Bytes) {
    out.clear();
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    let target = req.target;
    out.extend_from_slice(if target.is_empty() { "/" } else { target }.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if let Some(h) = req.host {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in req.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // As hyper: a length for any body, and an explicit 0 where the method implies one.
    let m = req.method;
    if !req.headers.contains_key(CONTENT_LENGTH)
        && (!body.is_empty() || m == Method::POST || m == Method::PUT || m == Method::PATCH)
    {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if body.len() <= INLINE_BODY {
        out.extend_from_slice(body);
    }
}

/// Reads one response after the request went out (`wrote`, `sent` bytes).
async fn read_response(
    io: &mut Io<'_>,
    head_only: bool,
    keep: Keep,
    wrote: Instant,
    sent: u64,
) -> Result<(Response, bool), ClientError> {
    let head = loop {
        match parse_head(io.rbuf, head_only, keep.headers)? {
            // Interim responses (100 Continue, 103 Early Hints) precede the real one.
            Some(h) if (100..200).contains(&h.status) && h.status != 101 => {
                io.rbuf.advance(h.len);
            }
            Some(h) => break h,
            None => io.fill("head").await?,
        }
    };
    let at_head = Instant::now();
    let read_at_head = io.received;
    io.rbuf.advance(head.len);
    let mut body = keep.body.then(BytesMut::new);
    match head.framing {
        Framing::None => {}
        Framing::Length(n) => io.copy(n, &mut body, "body").await?,
        Framing::UntilClose => loop {
            let n = io.rbuf.len();
            consume(io.rbuf, n, &mut body);
            if !io.fill_or_end().await? {
                break;
            }
        },
        Framing::Chunked => loop {
            let (size, line) = loop {
                match chunk_size(io.rbuf)? {
                    Some(s) => break s,
                    None => io.fill("chunk size").await?,
                }
            };
            io.rbuf.advance(line);
            if size == 0 {
                // Trailer fields, then an empty line.
                loop {
                    match io.rbuf.windows(2).position(|w| w == b"\r\n") {
                        Some(0) => {
                            io.rbuf.advance(2);
                            break;
                        }
                        Some(p) => io.rbuf.advance(p + 2),
                        None => io.fill("trailers").await?,
                    }
                }
                break;
            }
            io.copy(size, &mut body, "chunk").await?;
            while io.rbuf.len() < 2 {
                io.fill("chunk").await?;
            }
            if &io.rbuf[..2] != b"\r\n" {
                return Err(protocol("chunk not followed by CRLF".into()));
            }
            io.rbuf.advance(2);
        },
    }
    Ok((
        Response {
            status: head.status,
            headers: head.headers,
            body: body.map_or_else(Bytes::new, BytesMut::freeze),
            wrote,
            head: at_head,
            // Nothing read since the head: the body came with it, and so its end.
            end: if io.received == read_at_head {
                at_head
            } else {
                Instant::now()
            },
            sent,
            received: io.received,
        },
        head.keep_alive,
    ))
}

/// A chunk-size line at the start of `buf`: (size, line length with CRLF), `None` if the line
/// is not complete yet.
fn chunk_size(buf: &[u8]) -> Result<Option<(u64, usize)>, ClientError> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() > 1024 {
            return Err(protocol("chunk-size line too long".into()));
        }
        return Ok(None);
    };
    // Extensions after ';' are allowed and ignored.
    let hex = buf[..end]
        .split(|&b| b == b';')
        .next()
        .unwrap_or(&[])
        .trim_ascii();
    let size = std::str::from_utf8(hex)
        .ok()
        .filter(|h| !h.is_empty() && h.len() <= 16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .ok_or_else(|| {
            protocol(format!(
                "invalid chunk size {:?}",
                String::from_utf8_lossy(hex)
            ))
        })?;
    Ok(Some((size, end + 2)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::Request;
    use http_body_util::Full;
    use tokio::net::TcpListener;

    use super::*;
    use crate::client::ReqBody;

    /// A server that answers each request (read until the blank line and `body_len` more
    /// bytes) with the next canned reply, written in the given pieces; then closes if told.
    async fn serve(
        replies: Vec<Vec<&'static [u8]>>,
        close_after: bool,
    ) -> (u16, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let h = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = Vec::new();
            for pieces in replies {
                // One request: up to the blank line, plus a declared body.
                loop {
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..p]).to_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        if buf.len() >= p + 4 + len {
                            seen.push(buf.drain(..p + 4 + len).collect());
                            break;
                        }
                    }
                    let mut chunk = [0u8; 4096];
                    let n = s.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "client closed early");
                    buf.extend_from_slice(&chunk[..n]);
                }
                for p in pieces {
                    s.write_all(p).await.unwrap();
                    s.flush().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            if close_after {
                drop(s);
            } else {
                // Hold the connection until the client is done.
                let mut rest = Vec::new();
                let _ = s.read_to_end(&mut rest).await;
            }
            seen
        });
        (port, h)
    }

    /// [`crate::client::kept`] to the test server on `port`, with a 5 s timeout.
    async fn connect(
        slot: &mut Option<H1Conn>,
        port: u16,
    ) -> (&mut H1Conn, Option<crate::client::ConnectTimes>) {
        let cfg = ClientConfig::new(false, Duration::from_secs(5), false, None);
        let uri: http::Uri = format!("http://127.0.0.1:{port}/").parse().unwrap();
        crate::client::kept(&cfg, slot, &uri).await.unwrap()
    }

    fn get(path: &str) -> Request<ReqBody> {
        let mut r = Request::new(Full::new(Bytes::new()));
        *r.uri_mut() = path.parse().unwrap();
        r.headers_mut()
            .insert(http::header::HOST, HeaderValue::from_static("127.0.0.1"));
        r
    }

    const ALL: Keep = Keep {
        headers: true,
        body: true,
    };

    #[tokio::test]
    async fn reads_length_chunked_and_empty_bodies_on_one_connection() {
        let (port, server) = serve(
            vec![
                // Content-Length, head and body split mid-header and mid-body.
                vec![
                    b"HTTP/1.1 200 OK\r\nContent-Le",
                    b"ngth: 11\r\nX-A: 1\r\n\r\nhello",
                    b" world",
                ],
                // Chunked with an extension and a trailer, split inside a size line.
                vec![
                    b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhel",
                    b"lo\r\n1",
                    b"0\r\n0123456789abcdef\r\n0\r\nX-T: y\r\n\r\n",
                ],
                // 100 Continue, then 204 with no body.
                vec![b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"],
                // HEAD: a Content-Length but no body follows.
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"],
            ],
            false,
        )
        .await;
        let mut slot = None;
        let (c, times) = connect(&mut slot, port).await;
        assert!(times.is_some());
        // The Host header given apart from the request's map goes first.
        let mut first = get("/a?x=1");
        let host = first.headers_mut().remove(http::header::HOST);
        let (r, keep) = c
            .exchange(&RequestHead::of(&first, host.as_ref()), &Bytes::new(), ALL)
            .await
            .unwrap();
        assert_eq!(
            (r.status, &r.body[..], keep),
            (200, &b"hello world"[..], true)
        );
        assert_eq!(r.headers["x-a"], "1");
        assert_eq!(r.received, 58);
        assert!(r.wrote <= r.head && r.head <= r.end);

        let (c, times) = connect(&mut slot, port).await;
        assert!(times.is_none(), "kept alive");
        let (r, _) = c
            .exchange(&RequestHead::of(&get("/b"), None), &Bytes::new(), ALL)
            .await
            .unwrap();
        assert_eq!(
            (r.status, &r.body[..]),
            (201, &b"hello0123456789abcdef"[..])
        );

        let (c, _) = connect(&mut slot, port).await;
        let (r, _) = c
            .exchange(
                &RequestHead::of(&get("/c"), None),
                &Bytes::new(),
                Keep::default(),
            )
            .await
            .unwrap();
        assert_eq!((r.status, r.body.len(), r.headers.len()), (204, 0, 0));

        let (c, _) = connect(&mut slot, port).await;
        let mut head = get("/d");
        *head.method_mut() = Method::HEAD;
        let (r, keep) = c
            .exchange(&RequestHead::of(&head, None), &Bytes::new(), ALL)
            .await
            .unwrap();
        assert_eq!((r.status, r.body.len(), keep), (200, 0, true));
        drop(slot);
        let seen = server.await.unwrap();
        let first = String::from_utf8(seen[0].clone()).unwrap();
        assert!(
            first.starts_with("GET /a?x=1 HTTP/1.1\r\nhost: 127.0.0.1\r\n"),
            "{first}"
        );
        assert!(
            !first.contains("content-length"),
            "GET without a body: {first}"
        );
        assert!(String::from_utf8_lossy(&seen[3]).starts_with("HEAD /d HTTP/1.1\r\n"));
    }

    #[tokio::test]
    async fn sends_bodies_small_and_large_with_their_length() {
        let (port, server) = serve(
            vec![
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
            ],
            false,
        )
        .await;
        let mut slot = None;
        let big = Bytes::from(vec![b'x'; 100_000]);
        for body in [Bytes::from_static(b"{\"a\":1}"), big.clone(), Bytes::new()] {
            let (c, _) = connect(&mut slot, port).await;
            let mut req = get("/p");
            *req.method_mut() = Method::POST;
            let (r, _) = c
                .exchange(&RequestHead::of(&req, None), &body, Keep::default())
                .await
                .unwrap();
            assert_eq!(r.status, 200);
            assert!(r.sent as usize > body.len());
        }
        drop(slot);
        let seen = server.await.unwrap();
        assert!(String::from_utf8_lossy(&seen[0]).ends_with("content-length: 7\r\n\r\n{\"a\":1}"));
        assert_eq!(
            seen[1].len() - seen[1].windows(4).position(|w| w == b"\r\n\r\n").unwrap() - 4,
            100_000
        );
        assert!(
            String::from_utf8_lossy(&seen[2]).ends_with("content-length: 0\r\n\r\n"),
            "POST says 0"
        );
    }

    #[tokio::test]
    async fn close_and_eof_delimited_bodies_end_the_connection() {
        let cases: [(Vec<&'static [u8]>, &[u8]); 2] = [
            // No length: the body runs until the server closes, whatever keep-alive says.
            (
                vec![
                    b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nuntil ",
                    b"the end",
                ],
                b"until the end",
            ),
            (
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"],
                b"ok",
            ),
        ];
        for (reply, body) in cases {
            let (port, _server) = serve(vec![reply], true).await;
            let mut slot = None;
            let (c, _) = connect(&mut slot, port).await;
            let (r, keep) = c
                .exchange(&RequestHead::of(&get("/"), None), &Bytes::new(), ALL)
                .await
                .unwrap();
            assert_eq!((&r.body[..], keep), (body, false));
        }
    }

    #[tokio::test]
    async fn truncated_and_malformed_responses_are_errors_not_hangs() {
        let cases: Vec<(&'static [u8], ErrorReason, &str)> = vec![
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
                ErrorReason::Reset,
                "body",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                ErrorReason::Other,
                "chunk size",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                ErrorReason::Other,
                "conflicting",
            ),
            (
                b"NOT HTTP\r\n\r\n",
                ErrorReason::Other,
                "invalid response head",
            ),
            (b"", ErrorReason::Reset, "head"),
        ];
        for (reply, reason, says) in cases {
            let (port, _server) = serve(vec![vec![reply]], true).await;
            let mut slot = None;
            let (c, _) = connect(&mut slot, port).await;
            let (e, wire, nothing) = c
                .exchange(&RequestHead::of(&get("/"), None), &Bytes::new(), ALL)
                .await
                .expect_err("must fail");
            assert_eq!(
                e.reason,
                reason,
                "{:?}: {}",
                String::from_utf8_lossy(reply),
                e.message
            );
            assert!(e.message.contains(says), "{}", e.message);
            assert_eq!(wire.1 as usize, reply.len());
            assert_eq!(nothing, reply.is_empty());
            // A failed exchange leaves the connection busy: never reused.
            assert!(c.busy);
        }
    }
}
