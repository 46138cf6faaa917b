//! One HTTP/2 connection's protocol state, without I/O (RFC 9113): the caller appends what it
//! read to a buffer and calls [`Core::receive`], and writes out [`Core::wbuf`] whenever it is
//! not empty. The VU-owned exchange ([`super::exchange`]) and the shared connections
//! ([`super::mux`]) drive the same core.
//!
//! It covers what a load test's exchange needs: settings both ways, request HEADERS (with
//! CONTINUATION when the block is larger than a frame) and DATA within the connection's and
//! the stream's send windows, responses in HEADERS/CONTINUATION/DATA with padding, 1xx heads
//! and trailers, receive windows given back in large increments (as h2load: a 1 GiB window,
//! a WINDOW_UPDATE when half of it is used), PING and SETTINGS acknowledged, RST_STREAM,
//! GOAWAY (streams above its last id fail as never processed, so the caller may retry them),
//! SETTINGS_MAX_CONCURRENT_STREAMS (see [`Core::can_open`]). Server push is refused in the
//! SETTINGS and a PUSH_PROMISE is a connection error.

use std::task::Waker;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

use super::encoder::{Encoder, RequestHead};
use super::frame::{self, Head};
use super::hpack::{Decoded, Decoder};
use crate::error::ClientError;
use crate::metrics::ErrorReason;
use crate::response::{Keep, Response};

/// The receive window of every stream and of the connection (h2load's default: 2^30 - 1).
pub const RECV_WINDOW: u32 = (1 << 30) - 1;
/// The initial window before SETTINGS change it (RFC 9113 §6.9.2).
const DEFAULT_WINDOW: i64 = 65_535;
/// The largest header block accepted (h1's response head limit).
const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// How a stream ended.
#[derive(Debug)]
pub struct Failed {
    pub error: ClientError,
    /// The server never processed the stream (GOAWAY above it, REFUSED_STREAM): a retry on
    /// another connection is safe.
    pub unprocessed: bool,
}

/// One request and its response.
#[derive(Debug)]
pub struct StreamState {
    pub id: u32,
    keep: Keep,
    body: Bytes,
    /// Body bytes sent so far.
    offset: usize,
    window: i64,
    /// The frame with END_STREAM is in `wbuf` (or written): nothing more to send.
    end_queued: bool,
    /// When the write that carried END_STREAM finished.
    pub wrote: Option<Instant>,
    pub head: Decoded,
    got_head: bool,
    pub body_buf: BytesMut,
    pub head_at: Option<Instant>,
    pub end_at: Option<Instant>,
    /// Set when the stream is over.
    pub outcome: Option<Result<(), Failed>>,
    recv_unacked: u32,
    /// Who waits for the outcome (shared connections).
    pub waker: Option<Waker>,
    /// Closed on both sides by a reset (either way) or a GOAWAY: no RST_STREAM to send.
    reset: bool,
}

impl StreamState {
    pub fn done(&self) -> bool {
        self.outcome.is_some()
    }

    /// The response of a stream that ended well, with the bytes it is charged.
    pub fn into_response(self, sent: u64, received: u64) -> Response {
        let head = self.head_at.unwrap_or_else(Instant::now);
        Response {
            status: self.head.status,
            headers: self.head.headers,
            body: self.body_buf.freeze(),
            // Sent before the answer came, whatever the stamps' order.
            wrote: self.wrote.unwrap_or(head).min(head),
            head,
            end: self.end_at.unwrap_or(head),
            sent,
            received,
        }
    }
}

/// A header block being received over CONTINUATION frames.
#[derive(Debug)]
struct PendingBlock {
    stream: u32,
    end_stream: bool,
}

#[derive(Debug)]
pub struct Core {
    /// Frames to write, in order.
    pub wbuf: Vec<u8>,
    decoder: Decoder,
    encoder: Encoder,
    block: Vec<u8>,
    pending: Option<PendingBlock>,
    peer_max_streams: u32,
    peer_window: i64,
    peer_max_frame: usize,
    send_window: i64,
    recv_unacked: u32,
    next_id: u32,
    pub streams: Vec<StreamState>,
    /// The server's GOAWAY: its last processed stream.
    pub goaway: Option<u32>,
    /// A connection error: nothing more can happen on it.
    pub failed: Option<ClientError>,
}

/// A connection-level protocol error.
fn protocol(message: impl Into<String>) -> ClientError {
    ClientError {
        reason: ErrorReason::Other,
        message: message.into(),
    }
}

fn reset(message: String) -> ClientError {
    ClientError {
        reason: ErrorReason::Reset,
        message,
    }
}

impl Default for Core {
    fn default() -> Self {
        Self::new()
    }
}

impl Core {
    /// A new connection with the client preface, SETTINGS and the connection window's
    /// increase queued (written with the first request).
    pub fn new() -> Self {
        let mut wbuf = Vec::with_capacity(1024);
        wbuf.extend_from_slice(frame::PREFACE);
        frame::settings(
            &mut wbuf,
            &[
                (frame::SETTINGS_ENABLE_PUSH, 0),
                (frame::SETTINGS_INITIAL_WINDOW_SIZE, RECV_WINDOW),
            ],
        );
        frame::window_update(&mut wbuf, 0, RECV_WINDOW - DEFAULT_WINDOW as u32);
        Self {
            wbuf,
            decoder: Decoder::default(),
            encoder: Encoder::default(),
            block: Vec::with_capacity(256),
            pending: None,
            peer_max_streams: u32::MAX,
            peer_window: DEFAULT_WINDOW,
            peer_max_frame: frame::DEFAULT_MAX_FRAME as usize,
            send_window: DEFAULT_WINDOW,
            recv_unacked: 0,
            next_id: 1,
            streams: Vec::new(),
            goaway: None,
            failed: None,
        }
    }

    /// Streams still open (sent and not yet answered), which SETTINGS_MAX_CONCURRENT_STREAMS
    /// counts.
    pub fn open_streams(&self) -> usize {
        self.streams.iter().filter(|s| !s.done()).count()
    }

    /// Whether a new stream may start now. `false` with [`Core::usable`] still true means
    /// waiting for one of this connection's streams to end.
    pub fn can_open(&self) -> bool {
        self.usable() && (self.open_streams() as u64) < self.peer_max_streams as u64
    }

    /// No GOAWAY, no error and stream ids left: new streams may still come.
    pub fn usable(&self) -> bool {
        self.failed.is_none() && self.goaway.is_none() && self.next_id < (1 << 31)
    }

    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS (`u32::MAX` until it says).
    pub fn peer_max_streams(&self) -> u32 {
        self.peer_max_streams
    }

    /// Starts a request: HEADERS (and as much of `body` as the windows allow) into `wbuf`.
    pub fn open(&mut self, head: &RequestHead<'_>, body: &Bytes, keep: Keep) -> u32 {
        // A response to HEAD has no content (RFC 9113 §8.1.1); DATA a server sends anyway is
        // read and dropped, as Go's client (k6) does.
        let keep = Keep {
            body: keep.body && *head.method != http::Method::HEAD,
            ..keep
        };
        let id = self.next_id;
        self.next_id += 2;
        self.block.clear();
        self.encoder.encode(head, &mut self.block);
        frame::headers(
            &mut self.wbuf,
            id,
            &self.block,
            body.is_empty(),
            self.peer_max_frame,
        );
        self.streams.push(StreamState {
            id,
            keep,
            body: body.clone(),
            offset: 0,
            window: self.peer_window,
            end_queued: body.is_empty(),
            wrote: None,
            head: Decoded::default(),
            got_head: false,
            body_buf: BytesMut::new(),
            head_at: None,
            end_at: None,
            outcome: None,
            recv_unacked: 0,
            waker: None,
            reset: false,
        });
        if !body.is_empty() {
            self.pump();
        }
        id
    }

    pub fn stream(&self, id: u32) -> Option<&StreamState> {
        self.streams.iter().find(|s| s.id == id)
    }

    /// Removes stream `id` (its outcome read, or given up); one still open on our side (no
    /// response yet, or a body not all sent) is reset.
    pub fn take(&mut self, id: u32) -> Option<StreamState> {
        let i = self.streams.iter().position(|s| s.id == id)?;
        let s = self.streams.swap_remove(i);
        if (!s.done() || !s.end_queued) && !s.reset && self.failed.is_none() {
            frame::rst_stream(&mut self.wbuf, id, frame::CANCEL);
        }
        Some(s)
    }

    /// `wbuf` was written out at `now`: requests whose last frame was in it are sent.
    pub fn flushed(&mut self, now: Instant) {
        self.wbuf.clear();
        for s in &mut self.streams {
            if s.end_queued && s.wrote.is_none() {
                s.wrote = Some(now);
            }
        }
    }

    /// Queues DATA for every stream with body left, as far as the windows allow.
    fn pump(&mut self) {
        let max_frame = self.peer_max_frame;
        for s in &mut self.streams {
            while !s.end_queued && !s.done() && self.send_window > 0 && s.window > 0 {
                let left = s.body.len() - s.offset;
                let n = left
                    .min(max_frame)
                    .min(s.window as usize)
                    .min(self.send_window as usize);
                let last = n == left;
                frame::head(
                    &mut self.wbuf,
                    n,
                    frame::DATA,
                    if last { frame::END_STREAM } else { 0 },
                    s.id,
                );
                self.wbuf.extend_from_slice(&s.body[s.offset..s.offset + n]);
                s.offset += n;
                s.window -= n as i64;
                self.send_window -= n as i64;
                s.end_queued = last;
            }
        }
    }

    /// Handles every complete frame in `rbuf` (consuming them); `Err` is a connection error,
    /// after which every stream has failed with it.
    pub fn receive(&mut self, rbuf: &mut BytesMut) -> Result<(), ClientError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut now = None;
        while rbuf.len() >= frame::HEAD_LEN {
            let h = Head::parse(rbuf);
            if h.len > frame::DEFAULT_MAX_FRAME as usize {
                return Err(self.fail(
                    frame::FRAME_SIZE_ERROR,
                    protocol(format!("HTTP/2 frame of {} bytes, above 16384", h.len)),
                ));
            }
            if rbuf.len() < frame::HEAD_LEN + h.len {
                break;
            }
            let r = self.frame(h, &rbuf[frame::HEAD_LEN..frame::HEAD_LEN + h.len], &mut now);
            rbuf.advance(frame::HEAD_LEN + h.len);
            if let Err((code, e)) = r {
                return Err(self.fail(code, e));
            }
        }
        Ok(())
    }

    /// A connection error: GOAWAY with `code` queued, every stream failed.
    fn fail(&mut self, code: u32, e: ClientError) -> ClientError {
        let last = self.streams.iter().map(|s| s.id).max().unwrap_or(0);
        frame::goaway(&mut self.wbuf, last, code);
        self.fail_all(&e);
        self.failed = Some(e.clone());
        e
    }

    /// The connection is gone (closed, or unusable): every open stream fails with `e`.
    pub fn fail_all(&mut self, e: &ClientError) {
        if self.failed.is_none() {
            self.failed = Some(e.clone());
        }
        for s in &mut self.streams {
            if !s.done() {
                finish(
                    s,
                    Err(Failed {
                        error: e.clone(),
                        unprocessed: false,
                    }),
                    Instant::now(),
                );
            }
        }
    }

    fn frame(
        &mut self,
        h: Head,
        payload: &[u8],
        now: &mut Option<Instant>,
    ) -> Result<(), (u32, ClientError)> {
        let perr = |m: &str| (frame::PROTOCOL_ERROR, protocol(format!("HTTP/2: {m}")));
        if let Some(p) = &self.pending
            && (h.kind != frame::CONTINUATION || h.stream != p.stream)
        {
            return Err(perr("header block interrupted before END_HEADERS"));
        }
        match h.kind {
            frame::DATA => {
                if h.stream == 0 {
                    return Err(perr("DATA on stream 0"));
                }
                let data = frame::unpad(h.flags, payload).ok_or_else(|| perr("bad padding"))?;
                self.recv_unacked += h.len as u32;
                let at = *now.get_or_insert_with(Instant::now);
                if let Some(s) = self.streams.iter_mut().find(|s| s.id == h.stream)
                    && !s.done()
                {
                    if !s.got_head {
                        finish(
                            s,
                            Err(Failed {
                                error: protocol("HTTP/2: DATA before the response head"),
                                unprocessed: false,
                            }),
                            at,
                        );
                        frame::rst_stream(&mut self.wbuf, h.stream, frame::PROTOCOL_ERROR);
                        s.reset = true;
                    } else {
                        if s.keep.body {
                            s.body_buf.extend_from_slice(data);
                        }
                        s.recv_unacked += h.len as u32;
                        if h.flags & frame::END_STREAM != 0 {
                            finish(s, Ok(()), at);
                        } else if s.recv_unacked >= RECV_WINDOW / 2 {
                            frame::window_update(&mut self.wbuf, s.id, s.recv_unacked);
                            s.recv_unacked = 0;
                        }
                    }
                }
                if self.recv_unacked >= RECV_WINDOW / 2 {
                    frame::window_update(&mut self.wbuf, 0, self.recv_unacked);
                    self.recv_unacked = 0;
                }
            }
            frame::HEADERS => {
                if h.stream == 0 {
                    return Err(perr("HEADERS on stream 0"));
                }
                let mut block =
                    frame::unpad(h.flags, payload).ok_or_else(|| perr("bad padding"))?;
                if h.flags & frame::PRIORITY_FLAG != 0 {
                    block = block.get(5..).ok_or_else(|| perr("short HEADERS"))?;
                }
                self.block.clear();
                self.block.extend_from_slice(block);
                let end_stream = h.flags & frame::END_STREAM != 0;
                if h.flags & frame::END_HEADERS != 0 {
                    self.header_block(h.stream, end_stream, now)?;
                } else {
                    self.pending = Some(PendingBlock {
                        stream: h.stream,
                        end_stream,
                    });
                }
            }
            frame::CONTINUATION => {
                let Some(p) = self.pending.take() else {
                    return Err(perr("CONTINUATION without HEADERS"));
                };
                if self.block.len() + payload.len() > MAX_HEADER_BLOCK {
                    return Err(perr("header block larger than 256 KiB"));
                }
                self.block.extend_from_slice(payload);
                if h.flags & frame::END_HEADERS != 0 {
                    self.header_block(p.stream, p.end_stream, now)?;
                } else {
                    self.pending = Some(p);
                }
            }
            frame::RST_STREAM => {
                if payload.len() != 4 || h.stream == 0 {
                    return Err((frame::FRAME_SIZE_ERROR, protocol("HTTP/2: bad RST_STREAM")));
                }
                let code = u32::from_be_bytes(payload.try_into().expect("4 bytes"));
                let at = *now.get_or_insert_with(Instant::now);
                if let Some(s) = self.streams.iter_mut().find(|s| s.id == h.stream) {
                    s.reset = true;
                }
                if let Some(s) = self.streams.iter_mut().find(|s| s.id == h.stream)
                    && !s.done()
                {
                    // NO_ERROR after a complete response only stops our upload; the
                    // response is whole when END_STREAM came, which finished the stream.
                    finish(
                        s,
                        Err(Failed {
                            error: reset(format!(
                                "HTTP/2 stream reset by the server (code {code})"
                            )),
                            unprocessed: code == frame::REFUSED_STREAM,
                        }),
                        at,
                    );
                }
            }
            frame::SETTINGS => {
                if h.stream != 0 || !payload.len().is_multiple_of(6) {
                    return Err((frame::FRAME_SIZE_ERROR, protocol("HTTP/2: bad SETTINGS")));
                }
                if h.flags & frame::ACK != 0 {
                    return Ok(());
                }
                for kv in payload.chunks_exact(6) {
                    let v = u32::from_be_bytes([kv[2], kv[3], kv[4], kv[5]]);
                    match u16::from_be_bytes([kv[0], kv[1]]) {
                        frame::SETTINGS_HEADER_TABLE_SIZE => self.encoder.set_max_size(v as usize),
                        frame::SETTINGS_MAX_CONCURRENT_STREAMS => self.peer_max_streams = v,
                        frame::SETTINGS_INITIAL_WINDOW_SIZE => {
                            if v > frame::MAX_WINDOW {
                                return Err((
                                    frame::FLOW_CONTROL_ERROR,
                                    protocol("HTTP/2: initial window above 2^31-1"),
                                ));
                            }
                            let delta = v as i64 - self.peer_window;
                            self.peer_window = v as i64;
                            for s in &mut self.streams {
                                s.window += delta;
                            }
                        }
                        frame::SETTINGS_MAX_FRAME_SIZE => {
                            if !(frame::DEFAULT_MAX_FRAME..=(1 << 24) - 1).contains(&v) {
                                return Err(perr("SETTINGS_MAX_FRAME_SIZE out of range"));
                            }
                            self.peer_max_frame = v as usize;
                        }
                        _ => {}
                    }
                }
                frame::settings_ack(&mut self.wbuf);
                self.pump();
            }
            frame::PUSH_PROMISE => return Err(perr("PUSH_PROMISE, but push is disabled")),
            frame::PING => {
                if payload.len() != 8 || h.stream != 0 {
                    return Err((frame::FRAME_SIZE_ERROR, protocol("HTTP/2: bad PING")));
                }
                if h.flags & frame::ACK == 0 {
                    frame::ping_ack(&mut self.wbuf, payload);
                }
            }
            frame::GOAWAY => {
                if payload.len() < 8 || h.stream != 0 {
                    return Err((frame::FRAME_SIZE_ERROR, protocol("HTTP/2: bad GOAWAY")));
                }
                let last = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                    & frame::MAX_WINDOW;
                let code = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]);
                self.goaway = Some(self.goaway.map_or(last, |l| l.min(last)));
                let at = *now.get_or_insert_with(Instant::now);
                for s in &mut self.streams {
                    if s.id > last && !s.done() {
                        s.reset = true;
                        finish(
                            s,
                            Err(Failed {
                                error: reset(format!(
                                    "HTTP/2 GOAWAY (code {code}) before the server processed the stream"
                                )),
                                unprocessed: true,
                            }),
                            at,
                        );
                    }
                }
            }
            frame::WINDOW_UPDATE => {
                if payload.len() != 4 {
                    return Err((
                        frame::FRAME_SIZE_ERROR,
                        protocol("HTTP/2: bad WINDOW_UPDATE"),
                    ));
                }
                let inc = (u32::from_be_bytes(payload.try_into().expect("4 bytes"))
                    & frame::MAX_WINDOW) as i64;
                if h.stream == 0 {
                    if inc == 0 {
                        return Err(perr("WINDOW_UPDATE of 0"));
                    }
                    self.send_window += inc;
                    if self.send_window > frame::MAX_WINDOW as i64 {
                        return Err((
                            frame::FLOW_CONTROL_ERROR,
                            protocol("HTTP/2: connection window above 2^31-1"),
                        ));
                    }
                } else if let Some(s) = self.streams.iter_mut().find(|s| s.id == h.stream) {
                    s.window += inc;
                }
                self.pump();
            }
            // PRIORITY and unknown frame types are ignored (RFC 9113 §5.5).
            _ => {}
        }
        Ok(())
    }

    /// A complete header block for `stream`: the response head, an interim (1xx) head or
    /// trailers. Decoded even for a stream no one waits for any more, to keep the dynamic
    /// table in step with the server's.
    fn header_block(
        &mut self,
        stream: u32,
        end_stream: bool,
        now: &mut Option<Instant>,
    ) -> Result<(), (u32, ClientError)> {
        let at = *now.get_or_insert_with(Instant::now);
        let s = self
            .streams
            .iter_mut()
            .find(|s| s.id == stream && !s.done());
        let want = s.as_ref().is_some_and(|s| !s.got_head);
        let keep = want && s.as_ref().is_some_and(|s| s.keep.headers);
        let mut decoded = Decoded::default();
        self.decoder
            .decode(&self.block, keep, &mut decoded)
            .map_err(|e| (frame::COMPRESSION_ERROR, protocol(e.to_string())))?;
        let Some(s) = s else {
            return Ok(());
        };
        if want {
            if decoded.status == 0 {
                finish(
                    s,
                    Err(Failed {
                        error: protocol("HTTP/2 response without a valid :status"),
                        unprocessed: false,
                    }),
                    at,
                );
                frame::rst_stream(&mut self.wbuf, stream, frame::PROTOCOL_ERROR);
                s.reset = true;
                return Ok(());
            }
            if (100..200).contains(&decoded.status) && !end_stream {
                // Interim (100 Continue, 103 Early Hints): the real head follows.
                return Ok(());
            }
            s.head = decoded;
            s.got_head = true;
            s.head_at = Some(at);
        }
        if end_stream {
            finish(s, Ok(()), at);
        }
        Ok(())
    }
}

fn finish(s: &mut StreamState, outcome: Result<(), Failed>, at: Instant) {
    s.outcome = Some(outcome);
    s.end_at = Some(at);
    if let Some(w) = s.waker.take() {
        w.wake();
    }
}
