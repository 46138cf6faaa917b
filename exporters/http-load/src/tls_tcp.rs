//! The TCP stream beneath a TLS connection: it holds the handshake's writes back until the
//! handshake reads, or until the first request, so that the client's last flight (its
//! Finished, and with a resumed TLS 1.2 session or TLS 1.3 nothing is read after it) and
//! the first request leave in one write.
//!
//! Why: with a new connection per request (k6's `noConnectionReuse`, a gateway terminating
//! every client's TLS) a connection is a dozen syscalls on each side, and the Finished in a
//! write of its own was one of them. Browsers send their Finished and first request together
//! the same way. Nothing is held that anyone waits for: a read, a flush after the handshake,
//! a shutdown or the next write sends what is held first, so a handshake that has to hear
//! the server (a full TLS 1.2 handshake, or the ClientHello) sends its flight the moment it
//! reads; and a stream dropped with bytes held (a failed handshake's alert) tries once to
//! send them without waiting.

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub struct TlsTcp {
    tcp: TcpStream,
    /// Handshake bytes not yet on the socket, from `sent` on.
    held: Vec<u8>,
    sent: usize,
    /// The handshake runs: writes are held, and a flush leaves them held.
    handshaking: bool,
    /// Writes to the socket (for the tests).
    #[cfg(test)]
    pub writes: u32,
}

impl TlsTcp {
    pub fn new(tcp: TcpStream) -> Self {
        Self {
            tcp,
            held: Vec::new(),
            sent: 0,
            handshaking: true,
            #[cfg(test)]
            writes: 0,
        }
    }

    /// The handshake is over: what it left held goes out with the next write (or read,
    /// flush or shutdown); from then on this is the plain socket.
    pub fn handshake_done(&mut self) {
        self.handshaking = false;
    }

    /// Writes `held` and as much of `bufs` as the socket takes in one syscall; `Ready(n)` is
    /// how much of `bufs` went (0 when only held bytes did).
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let held = self.held.len() - self.sent;
        let n = if held == 0 {
            ready!(Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs))?
        } else {
            let mut all = Vec::with_capacity(bufs.len() + 1);
            all.push(IoSlice::new(&self.held[self.sent..]));
            all.extend(bufs.iter().map(|b| IoSlice::new(b)));
            ready!(Pin::new(&mut self.tcp).poll_write_vectored(cx, &all))?
        };
        #[cfg(test)]
        {
            self.writes += 1;
        }
        if n == 0 {
            return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
        }
        let from_held = n.min(held);
        self.sent += from_held;
        if self.sent == self.held.len() {
            self.held.clear();
            self.sent = 0;
        }
        Poll::Ready(Ok(n - from_held))
    }

    /// Sends everything held.
    fn poll_release(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.held.is_empty() {
            ready!(self.poll_send(cx, &[]))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for TlsTcp {
    fn drop(&mut self) {
        if self.sent < self.held.len() {
            // Best effort, never blocking: the socket's buffer takes an alert.
            let _ = self.tcp.try_write(&self.held[self.sent..]);
        }
    }
}

impl AsyncRead for TlsTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        // Whoever reads waits for an answer to what was written.
        ready!(this.poll_release(cx))?;
        Pin::new(&mut this.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        // After the first request, every write: the socket's own.
        if !this.handshaking && this.held.is_empty() {
            #[cfg(test)]
            {
                this.writes += 1;
            }
            return Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        }
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if this.handshaking {
            for b in bufs {
                this.held.extend_from_slice(b);
            }
            return Poll::Ready(Ok(len));
        }
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        // Bounded: a turn that takes none of `bufs` sent held bytes only (at least one).
        loop {
            let n = ready!(this.poll_send(cx, bufs))?;
            if n > 0 {
                return Poll::Ready(Ok(n));
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        // During the handshake a flush keeps the bytes held: the handshake flushes its last
        // flight too, and that flight is what waits for the first request.
        if !this.handshaking {
            ready!(this.poll_release(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_release(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn pair() -> (TlsTcp, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
        (TlsTcp::new(c.unwrap()), s.unwrap().0)
    }

    /// The handshake's writes wait for its read (the ClientHello before the ServerHello);
    /// its last flight waits for the first request, and both leave in one write.
    #[tokio::test]
    async fn the_last_flight_leaves_with_the_first_request() {
        let (mut c, mut s) = pair().await;
        c.write_all(b"hello").await.unwrap();
        c.flush().await.unwrap();
        assert_eq!(c.writes, 0, "held until the handshake reads");
        s.write_all(b"server hello").await.unwrap();
        let mut got = [0u8; 12];
        c.read_exact(&mut got).await.unwrap();
        assert_eq!(c.writes, 1);
        let mut got = [0u8; 5];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");

        c.write_all(b"finished").await.unwrap();
        c.flush().await.unwrap();
        c.handshake_done();
        assert_eq!(
            c.writes, 1,
            "the last flight is held past the handshake's flush"
        );
        c.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert_eq!(c.writes, 2, "one write for the flight and the request");
        let mut got = vec![0u8; 8 + 18];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"finishedGET / HTTP/1.1\r\n\r\n");

        // From then on, a plain socket.
        c.write_all(b"more").await.unwrap();
        assert_eq!(c.writes, 3);
        let mut got = [0u8; 4];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"more");
    }

    /// What is held is not lost when no request follows: a flush, a read or a shutdown after
    /// the handshake sends it, and so does dropping the stream (a failed handshake's alert).
    #[tokio::test]
    async fn a_flush_a_read_a_shutdown_or_a_drop_sends_what_is_held() {
        for how in ["flush", "read", "shutdown", "drop"] {
            let (mut c, mut s) = pair().await;
            c.write_all(b"finished").await.unwrap();
            if how == "drop" {
                drop(c);
                let mut got = [0u8; 8];
                s.read_exact(&mut got).await.unwrap();
                assert_eq!(&got, b"finished", "{how}");
                continue;
            }
            c.handshake_done();
            match how {
                "flush" => c.flush().await.unwrap(),
                "read" => {
                    s.write_all(b"x").await.unwrap();
                    let mut one = [0u8; 1];
                    c.read_exact(&mut one).await.unwrap();
                }
                _ => c.shutdown().await.unwrap(),
            }
            let mut got = [0u8; 8];
            s.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"finished", "{how}");
        }
    }
}
