//! The lean HTTP/2 client: frames driven here over the TCP or rustls stream, for the common
//! load-test exchange (a request, its whole response), as [`crate::h1`] is for HTTP/1.1.
//! The `h2` crate ([`crate::h2conn`]) still serves SSE streams (events are timed as they
//! arrive) and runs when `--http2-engine h2` asks for it.
//!
//! Bottom up: `huffman` and `hpack` (response header blocks), `encoder` (request header
//! blocks), `frame` (bytes of frames), `conn` (one connection's protocol state, no I/O),
//! then the two drivers: `exchange` (a connection a VU owns) and `mux` (a connection VUs
//! share as streams, `--max-connections`).

pub mod conn;
pub mod encoder;
pub mod exchange;
pub mod frame;
pub mod hpack;
pub mod huffman;
pub mod mux;
#[cfg(test)]
mod tests;

use crate::client::ClientConfig;
use crate::connection_options::Http2Engine;

/// Whether the lean path serves a request: HTTP/2 on the lean engine, and no SSE stream.
pub fn serves(cfg: &ClientConfig, streaming: bool) -> bool {
    cfg.http2 && cfg.http2_engine == Http2Engine::Lean && !streaming
}
