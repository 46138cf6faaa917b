//! A failed request as the client sees it: the reason that becomes the
//! `redline_http_request_errors_total{reason}` label, and a message for the debug log.

use crate::metrics::ErrorReason;

/// Clone: an HTTP/2 connection's error is every one of its streams' error.
#[derive(Debug, Clone)]
pub struct ClientError {
    pub reason: ErrorReason,
    pub message: String,
}

/// The reason for an I/O error.
pub fn io_reason(e: &std::io::Error) -> ErrorReason {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => ErrorReason::ConnectRefused,
        TimedOut => ErrorReason::Timeout,
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => ErrorReason::Reset,
        _ => ErrorReason::Other,
    }
}
