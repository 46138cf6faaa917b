//! HTTP/2 on a connection a VU owns (`--http2` without `--max-connections`), the HTTP/2
//! counterpart of [`crate::h1`]: the VU writes its request's frames and reads frames until
//! its response is complete, on its own socket, with no connection task and no wakeup in
//! between. The frames other than its stream's (SETTINGS, PING, WINDOW_UPDATE, GOAWAY) are
//! handled on the way by [`Core`].

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::conn::Core;
use super::encoder::RequestHead;
use crate::client::{Kept, OriginKey};
use crate::error::{ClientError, io_reason};
use crate::metrics::ErrorReason;
use crate::response::{Failure, Keep, Response};
use crate::stream::Stream;

/// One HTTP/2 connection, owned by one VU.
pub struct H2Lean {
    origin: OriginKey,
    stream: Stream,
    rbuf: BytesMut,
    core: Core,
    /// Set while an exchange runs: one dropped mid-way (its timeout) leaves the connection
    /// in an unknown state, and it is never reused.
    busy: bool,
}

/// Reused when idle and still usable (no GOAWAY, stream ids left).
impl Kept for H2Lean {
    fn reusable(&self, uri: &http::Uri) -> bool {
        !self.busy && self.core.usable() && self.origin.matches(uri)
    }

    fn open(stream: Stream, origin: OriginKey) -> Self {
        H2Lean {
            origin,
            stream,
            rbuf: BytesMut::with_capacity(16 * 1024),
            core: Core::new(),
            busy: false,
        }
    }
}

fn io_error(what: &str, e: &std::io::Error) -> ClientError {
    ClientError {
        reason: io_reason(e),
        message: format!("{what}: {e}"),
    }
}

impl H2Lean {
    /// Tests: marks the connection idle again after a failed exchange, to see what the
    /// connection does next (the engine drops a connection whose exchange failed).
    #[cfg(test)]
    pub(super) fn busy_for_test(&mut self, busy: bool) {
        self.busy = busy;
    }

    /// Sends the request with `body` and reads the whole response. On `Ok` with `false` the
    /// connection takes no new streams (GOAWAY, error): the caller drops it.
    pub async fn exchange(
        &mut self,
        req: &RequestHead<'_>,
        body: &Bytes,
        keep: Keep,
    ) -> Result<(Response, bool), Failure> {
        self.busy = true;
        let id = self.core.open(req, body, keep);
        let (mut sent, mut received) = (0u64, 0u64);
        loop {
            if !self.core.wbuf.is_empty() {
                let write = async {
                    self.stream.write_all(&self.core.wbuf).await?;
                    // TLS may hold records back until flushed; plain TCP's flush does nothing.
                    if self.stream.is_tls() {
                        self.stream.flush().await?;
                    }
                    Ok::<_, std::io::Error>(())
                };
                match write.await {
                    Ok(()) => {
                        sent += self.core.wbuf.len() as u64;
                        self.core.flushed(Instant::now());
                    }
                    Err(e) => {
                        self.core.fail_all(&io_error("sending the request", &e));
                        break;
                    }
                }
            }
            if self.core.stream(id).is_none_or(|s| s.done()) {
                break;
            }
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(16 * 1024);
            }
            match self.stream.read_buf(&mut self.rbuf).await {
                Ok(0) => self.core.fail_all(&ClientError {
                    reason: ErrorReason::Reset,
                    message: "connection closed before the response was complete".into(),
                }),
                Ok(n) => {
                    received += n as u64;
                    // A connection error has failed the stream too; its GOAWAY is written
                    // at the loop's top.
                    let _ = self.core.receive(&mut self.rbuf);
                }
                Err(e) => self.core.fail_all(&io_error("reading the response", &e)),
            }
        }
        let s = self.core.take(id).expect("the stream is this exchange's");
        let usable = self.core.usable();
        match s.outcome {
            Some(Ok(())) => {
                self.busy = false;
                Ok((s.into_response(sent, received), usable))
            }
            Some(Err(f)) => {
                // Nothing of the response came back: the stream was never processed, or the
                // connection was gone before any frame of it (as h1: worth one retry on a
                // reused connection). A stream the server reset is its answer, not retried.
                let nothing_back =
                    f.unprocessed || (self.core.failed.is_some() && s.head_at.is_none());
                Err((f.error, (sent, received), nothing_back))
            }
            None => Err((
                ClientError {
                    reason: ErrorReason::Other,
                    message: "HTTP/2 stream ended without an outcome".into(),
                },
                (sent, received),
                false,
            )),
        }
    }
}
