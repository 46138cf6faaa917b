//! Bytes on the wire: each connection's stream is wrapped in [`Counted`], which adds up what
//! was read and written (k6's data_received / data_sent) and stamps when the last write left
//! for the socket (where k6's http_req_sending ends).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

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

/// Counts bytes on the wire in both directions and stamps the end of each write. A write
/// into a TLS stream can leave records buffered; the flush that follows stamps again, so the
/// stamp is when the bytes left for the socket.
pub struct Counted<S> {
    inner: S,
    wire: Arc<WireCounters>,
    /// Written since the last successful flush.
    unflushed: bool,
}

impl<S> Counted<S> {
    pub fn new(inner: S, wire: &Arc<WireCounters>) -> Self {
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
