//! Response body type and request-body reading shared by every endpoint.

use std::convert::Infallible;

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body as _, Incoming};
use serde::Serialize;

/// Whole responses stay unboxed on the hot path; only SSE streams pay for a box.
pub(crate) type Body = Either<Full<Bytes>, UnsyncBoxBody<Bytes, Infallible>>;

pub(crate) fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut resp = Response::new(Either::Left(Full::new(body.into())));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

pub(crate) fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    full(status, "text/plain; charset=utf-8", body)
}

pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => full(status, "application/json", bytes),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode response: {e}\n"),
        ),
    }
}

pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Either::Left(Full::new(Bytes::new())));
    *resp.status_mut() = status;
    resp
}

#[derive(Debug)]
pub(crate) enum ReadError {
    TooLarge,
    /// The client went away or sent a broken body; it will rarely see our answer.
    Broken,
}

impl ReadError {
    pub(crate) fn response(&self, limit: usize) -> Response<Body> {
        match self {
            ReadError::TooLarge => text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body larger than {limit} bytes\n"),
            ),
            ReadError::Broken => text(StatusCode::BAD_REQUEST, "broken request body\n"),
        }
    }
}

/// Reads the whole body, refusing more than `limit` bytes (checked against Content-Length
/// first so an honest oversized upload is refused before it is received).
pub(crate) async fn read(body: Incoming, limit: usize) -> Result<Bytes, ReadError> {
    if body.size_hint().lower() > limit as u64 {
        return Err(ReadError::TooLarge);
    }
    let mut body = body;
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ReadError::Broken)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let len = first.as_ref().map_or(0, Bytes::len) + buf.len() + data.len();
        if len > limit {
            return Err(ReadError::TooLarge);
        }
        // A single-frame body (the common case) is returned without a copy.
        match first.take() {
            None if buf.is_empty() => first = Some(data),
            Some(f) => {
                buf.extend_from_slice(&f);
                buf.extend_from_slice(&data);
            }
            None => buf.extend_from_slice(&data),
        }
    }
    Ok(first.unwrap_or_else(|| buf.freeze()))
}

/// Reads and discards the body so the connection stays reusable (hyper closes a keep-alive
/// connection whose request body was left unread). Returns the byte count.
pub(crate) async fn drain(body: Incoming, limit: usize) -> Result<u64, ReadError> {
    if body.is_end_stream() {
        return Ok(0);
    }
    if body.size_hint().lower() > limit as u64 {
        return Err(ReadError::TooLarge);
    }
    let mut body = body;
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ReadError::Broken)?;
        if let Some(data) = frame.data_ref() {
            total += data.len() as u64;
            if total > limit as u64 {
                return Err(ReadError::TooLarge);
            }
        }
    }
    Ok(total)
}
