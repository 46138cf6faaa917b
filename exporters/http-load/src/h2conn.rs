//! HTTP/2 on the `h2` crate directly, the protocol engine under hyper.
//!
//! Why not hyper's HTTP/2 client: per request it sends the request through a channel to the
//! connection task, spawns a task that waits for the response and hands it back through a
//! oneshot, and wraps the body; under callgrind that machinery was most of the ~95k
//! instructions a request cost (h2load: ~28k). Here a VU opens its stream on a clone of the
//! connection's `SendRequest` and awaits the response future itself: h2 wakes exactly that
//! VU when its frames arrive. One task per connection still drives the socket.
//!
//! Settings are hyper's defaults for a client (2 MiB stream window, 5 MiB connection window,
//! 16 KiB frames, no server push), so switching engines changed no flow control.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use h2::RecvStream;
use http::{Request, Response};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::{ClientError, io_reason};
use crate::metrics::ErrorReason;
use crate::stream::Stream;
use crate::wire::Counted;

const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;
const MAX_FRAME: u32 = 16 * 1024;
const MAX_SEND_BUFFER: usize = 400 * 1024;
const MAX_HEADER_LIST: u32 = 16 * 1024;

/// A handle on one HTTP/2 connection; clones share it.
#[derive(Clone)]
pub struct H2Handle {
    sender: h2::client::SendRequest<Bytes>,
    /// Set when the connection's task ended or a request found the connection unusable.
    closed: Arc<AtomicBool>,
}

impl H2Handle {
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Marks the connection unusable (it failed a request): the next user opens a new one.
    pub fn discard(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Sends `req` with `body` on a new stream; resolves at the response head. `req`'s URI
    /// is absolute (scheme and authority become the pseudo-headers).
    pub async fn send(
        &mut self,
        req: Request<()>,
        body: &Bytes,
    ) -> Result<Response<RecvStream>, ClientError> {
        // Waits while this handle's previous stream is still queued behind the server's
        // SETTINGS_MAX_CONCURRENT_STREAMS.
        std::future::poll_fn(|cx| self.sender.poll_ready(cx))
            .await
            .map_err(|e| error(&e))?;
        let (response, mut send) = self
            .sender
            .send_request(req, body.is_empty())
            .map_err(|e| error(&e))?;
        if !body.is_empty() {
            // h2 queues it and sends as the peer's window allows.
            send.send_data(body.clone(), true).map_err(|e| error(&e))?;
        }
        response.await.map_err(|e| error(&e))
    }
}

/// Opens HTTP/2 on `io`; the connection's task runs on the caller's runtime (a VU's worker
/// thread) and holds `permit` until the connection ends.
pub async fn handshake(
    io: Counted<Stream>,
    permit: Option<OwnedSemaphorePermit>,
) -> Result<H2Handle, ClientError> {
    let (sender, conn) = h2::client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .max_send_buffer_size(MAX_SEND_BUFFER)
        .max_header_list_size(MAX_HEADER_LIST)
        .enable_push(false)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(|e| ClientError {
            reason: reason(&e),
            message: format!("handshake: {e}"),
        })?;
    let closed = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&closed);
    tokio::spawn(async move {
        let _ = conn.await;
        done.store(true, Ordering::Relaxed);
        drop(permit);
    });
    Ok(H2Handle { sender, closed })
}

/// The next piece of a response body, its flow-control window given back at once (the
/// bytes are consumed here), `None` at the end.
pub async fn chunk(body: &mut RecvStream) -> Option<Result<Bytes, ClientError>> {
    let data = body.data().await?;
    Some(match data {
        Ok(b) => {
            let _ = body.flow_control().release_capacity(b.len());
            Ok(b)
        }
        Err(e) => Err(error(&e)),
    })
}

fn error(e: &h2::Error) -> ClientError {
    ClientError {
        reason: reason(e),
        message: e.to_string(),
    }
}

/// A stream or connection reset, a GOAWAY or a closed socket is `reset`, like a broken
/// HTTP/1.1 connection.
pub fn reason(e: &h2::Error) -> ErrorReason {
    if let Some(io) = e.get_io() {
        return io_reason(io);
    }
    if e.is_go_away() || e.is_reset() {
        return ErrorReason::Reset;
    }
    ErrorReason::Other
}
