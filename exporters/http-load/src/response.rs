//! What the lean exchanges (HTTP/1.1 in [`crate::h1`], HTTP/2 in [`crate::h2lean`]) return:
//! a complete response with its timestamps and bytes, or why there is none.

use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;

use crate::error::ClientError;

/// A complete response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Only when asked for (checks read them): building a `HeaderMap` costs allocations.
    pub headers: HeaderMap,
    /// Only when asked for; otherwise empty (the bytes are still read and counted).
    pub body: Bytes,
    /// The last request byte was written.
    pub wrote: Instant,
    /// The response head was parsed.
    pub head: Instant,
    pub end: Instant,
    pub sent: u64,
    pub received: u64,
}

/// What an exchange needs from the response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    pub headers: bool,
    pub body: bool,
}

/// A failed exchange: the error, bytes (sent, received), and whether nothing at all came back
/// (on a reused connection that is the server's idle close racing our send: worth one retry).
pub type Failure = (ClientError, (u64, u64), bool);
