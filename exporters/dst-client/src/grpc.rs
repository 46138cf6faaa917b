//! `Destination.Get` on a tonic `Channel`, its response read here rather than by
//! `tonic::Streaming`.
//!
//! Why: `tonic::Streaming` copies every HTTP/2 DATA frame into a decode buffer that it
//! keeps, at the largest size it ever needed, for the stream's whole life: after the
//! first full-set `add` that is a frame plus a message, 8 to 32 KiB per stream, most of
//! what 100,000 idle streams cost. Here a stream holds bytes only while a message is
//! incomplete: a message wholly inside a frame is decoded from the frame itself (then
//! the frame is dropped), and the buffer for one split across frames is freed as soon
//! as it has been consumed. Only an incomplete message is ever copied, so a stream never
//! keeps a slice of the connection's read buffer alive either.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body_util::BodyExt;
use linkerd2_proxy_api::destination::{GetDestination, Update};
use prost::Message;
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::transport::Channel;
use tonic::{Code, Status};

const GET_PATH: &str = "/io.linkerd.proxy.destination.Destination/Get";
/// The compression flag and the length before every message.
const HEADER: usize = 5;
/// Larger messages are refused (tonic's default decoding limit).
const MAX_MESSAGE: usize = 4 << 20;

/// Length-prefixed gRPC messages from the body's data frames, in order.
#[derive(Debug, Default)]
pub struct Frames {
    /// The rest of the last frame, while it still starts with a whole message.
    frame: Bytes,
    /// An incomplete message (and whatever followed it), copied out of the frames.
    partial: BytesMut,
}

/// The next whole message at the start of `buf`: (message length, header included).
fn whole(buf: &[u8]) -> Result<Option<usize>, Status> {
    if buf.len() < HEADER {
        return Ok(None);
    }
    if buf[0] != 0 {
        return Err(Status::internal(
            "a compressed message, though this client asks for none",
        ));
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if len > MAX_MESSAGE {
        return Err(Status::resource_exhausted(format!(
            "a message of {len} bytes, over the limit of {MAX_MESSAGE}"
        )));
    }
    Ok((buf.len() >= HEADER + len).then_some(HEADER + len))
}

fn decode(msg: &[u8]) -> Result<Update, Status> {
    Update::decode(&msg[HEADER..]).map_err(|e| Status::internal(format!("decoding an Update: {e}")))
}

impl Frames {
    /// One data frame of the body.
    pub fn push(&mut self, data: Bytes) {
        if self.frame.is_empty() && self.partial.is_empty() {
            self.frame = data;
        } else {
            self.partial.extend_from_slice(&data);
        }
    }

    /// The next whole message received, if any.
    pub fn next_message(&mut self) -> Result<Option<Update>, Status> {
        if self.partial.is_empty() {
            if let Some(n) = whole(&self.frame)? {
                let m = decode(&self.frame[..n]);
                self.frame.advance(n);
                if self.frame.is_empty() {
                    // An empty slice still holds the connection's read buffer: let go.
                    self.frame = Bytes::new();
                }
                return m.map(Some);
            }
            if !self.frame.is_empty() {
                // An incomplete message: keep a copy sized for all of it, not the frame.
                let need = match self.frame.get(1..HEADER) {
                    Some(l) => HEADER + u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize,
                    None => HEADER,
                };
                self.partial = BytesMut::with_capacity(need.min(HEADER + MAX_MESSAGE));
                self.partial.put(std::mem::take(&mut self.frame));
            }
            return Ok(None);
        }
        let Some(n) = whole(&self.partial)? else {
            return Ok(None);
        };
        let m = decode(&self.partial[..n]);
        self.partial.advance(n);
        if self.partial.is_empty() {
            // Free it: the next message most likely arrives whole in one frame.
            self.partial = BytesMut::new();
        }
        m.map(Some)
    }

    /// Bytes received and not yet returned as a message.
    pub fn buffered(&self) -> usize {
        self.frame.len() + self.partial.len()
    }

    /// Bytes this stream holds allocated for messages (for the tests).
    pub fn allocated(&self) -> usize {
        self.frame.len() + self.partial.capacity()
    }
}

/// The gRPC code for an HTTP status without `grpc-status` (gRPC's HTTP-to-gRPC mapping).
fn code_of_http(status: http::StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// An open Get stream.
pub struct UpdateStream {
    body: Body,
    frames: Frames,
    http: http::StatusCode,
    /// The server's final status was read (or the response had no body).
    ended: bool,
}

impl UpdateStream {
    /// The next update; `Ok(None)` when the server ended the stream with status OK.
    pub async fn message(&mut self) -> Result<Option<Update>, Status> {
        loop {
            if let Some(m) = self.frames.next_message()? {
                return Ok(Some(m));
            }
            if self.ended {
                return self.end(None);
            }
            match self.body.frame().await {
                None => {
                    self.ended = true;
                    return Err(if self.http == http::StatusCode::OK {
                        Status::unknown("the stream ended without a grpc-status trailer")
                    } else {
                        Status::new(
                            code_of_http(self.http),
                            format!("HTTP {} without grpc-status", self.http),
                        )
                    });
                }
                Some(Err(st)) => return Err(st),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.frames.push(data),
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            self.ended = true;
                            return self.end(Status::from_header_map(&trailers));
                        }
                    }
                },
            }
        }
    }

    /// The stream's end with final status `st` (None: as already read).
    fn end(&mut self, st: Option<Status>) -> Result<Option<Update>, Status> {
        match st {
            Some(st) if st.code() != Code::Ok => Err(st),
            _ if self.frames.buffered() > 0 => Err(Status::internal(format!(
                "the stream ended inside a message ({} bytes of it)",
                self.frames.buffered()
            ))),
            _ => Ok(None),
        }
    }
}

/// Opens a Get stream on `channel` (waits for the connection).
pub async fn get(mut channel: Channel, req: &GetDestination) -> Result<UpdateStream, Status> {
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .map_err(|e| Status::unavailable(format!("connect: {e}")))?;
    let len = req.encoded_len();
    let mut msg = BytesMut::with_capacity(HEADER + len);
    msg.put_u8(0);
    msg.put_u32(len as u32);
    req.encode(&mut msg)
        .map_err(|e| Status::internal(format!("encoding the request: {e}")))?;
    let request = http::Request::builder()
        .method(http::Method::POST)
        .uri(GET_PATH)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .body(Body::new(http_body_util::Full::new(msg.freeze())))
        .map_err(|e| Status::internal(format!("building the request: {e}")))?;
    let response = channel
        .call(request)
        .await
        .map_err(|e| Status::from_error(Box::new(e)))?;
    let (head, body) = response.into_parts();
    // A trailers-only response: the status is in the headers and there is no body.
    let ended = match Status::from_header_map(&head.headers) {
        Some(st) if st.code() != Code::Ok => return Err(st),
        Some(_) => true,
        None => false,
    };
    Ok(UpdateStream {
        body,
        frames: Frames::default(),
        http: head.status,
        ended,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkerd2_proxy_api::destination::{NoEndpoints, WeightedAddr, WeightedAddrSet, update};
    use linkerd2_proxy_api::net::TcpAddress;
    use std::net::SocketAddr;

    fn add(n: u32) -> Update {
        Update {
            update: Some(update::Update::Add(WeightedAddrSet {
                addrs: (0..n)
                    .map(|i| WeightedAddr {
                        addr: Some(TcpAddress::from(SocketAddr::from((
                            [10, 0, (i / 256) as u8, i as u8],
                            80,
                        )))),
                        weight: 10_000,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })),
        }
    }

    fn framed(msgs: &[Update]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in msgs {
            out.push(0);
            out.extend_from_slice(&(m.encoded_len() as u32).to_be_bytes());
            m.encode(&mut out).unwrap();
        }
        out
    }

    fn drain(f: &mut Frames, out: &mut Vec<Update>) {
        while let Some(m) = f.next_message().unwrap() {
            out.push(m);
        }
    }

    #[test]
    fn messages_come_whole_however_the_frames_cut_them() {
        let none = Update {
            update: Some(update::Update::NoEndpoints(NoEndpoints { exists: true })),
        };
        let msgs = vec![add(100), add(1), none, add(300), add(2)];
        let bytes = framed(&msgs);
        for cut in [1, 3, 5, 7, 64, 1000, 4096, bytes.len()] {
            let mut f = Frames::default();
            let mut got = Vec::new();
            let mut kept = Vec::new();
            for chunk in bytes.chunks(cut) {
                let chunk = Bytes::copy_from_slice(chunk);
                kept.push(chunk.clone());
                f.push(chunk);
                drain(&mut f, &mut got);
            }
            assert_eq!(got, msgs, "frames of {cut} bytes");
            assert_eq!(f.buffered(), 0);
            assert_eq!(f.allocated(), 0, "nothing kept between messages");
            assert!(
                kept.iter().all(Bytes::is_unique),
                "no received frame kept alive, not even by an empty slice (frames of {cut})"
            );
        }
    }

    #[test]
    fn a_split_message_is_held_only_until_it_is_whole() {
        let bytes = framed(&[add(200)]);
        let mut f = Frames::default();
        f.push(Bytes::copy_from_slice(&bytes[..100]));
        assert!(f.next_message().unwrap().is_none());
        assert_eq!(f.buffered(), 100);
        assert!(
            f.allocated() <= bytes.len(),
            "sized for the message, not more"
        );
        f.push(Bytes::copy_from_slice(&bytes[100..]));
        assert_eq!(f.next_message().unwrap(), Some(add(200)));
        assert_eq!(f.allocated(), 0);
    }

    #[test]
    fn compressed_oversized_and_garbled_messages_are_errors() {
        let mut f = Frames::default();
        f.push(Bytes::from_static(&[1, 0, 0, 0, 1, 0]));
        assert_eq!(f.next_message().unwrap_err().code(), Code::Internal);
        let mut f = Frames::default();
        f.push(Bytes::from_static(&[0, 0xff, 0, 0, 0]));
        assert_eq!(
            f.next_message().unwrap_err().code(),
            Code::ResourceExhausted
        );
        let mut f = Frames::default();
        f.push(Bytes::from_static(&[0, 0, 0, 0, 2, 0xff, 0xff]));
        assert_eq!(f.next_message().unwrap_err().code(), Code::Internal);
    }
}
