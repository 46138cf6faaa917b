//! Why the relay refuses a write request: the reason that labels
//! `redline_relay_rejected_requests_total`, the status, and the message k6 logs.

use http::StatusCode;

/// The only path the relay accepts writes on (Prometheus' own); rejections name it.
pub const WRITE_PATH: &str = "/api/v1/write";

/// Why a request was refused. The message is sent back to the writer (k6 logs it) and the
/// reason labels `redline_relay_rejected_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(
        "unsupported Content-Type {0:?}: remote-write is application/x-protobuf, with proto=prometheus.WriteRequest (1.0, the default) or proto=io.prometheus.write.v2.Request (2.0)"
    )]
    ContentType(String),
    #[error("unsupported Content-Encoding {0:?}: remote-write bodies are snappy (block format)")]
    ContentEncoding(String),
    #[error("body larger than {limit} bytes ({what})")]
    TooLarge { limit: usize, what: &'static str },
    #[error("body is not snappy (block format) compressed: {0}")]
    Snappy(String),
    #[error("body is not a valid protobuf {0}")]
    Protobuf(String),
    #[error("series {index}: {message}")]
    BadSeries { index: usize, message: String },
    #[error("series {index} has no __name__ label")]
    MissingName { index: usize },
    #[error("series {index}: {message}")]
    BadLabel { index: usize, message: String },
    #[error("method {0} not allowed: POST remote-write requests to {path}", path = WRITE_PATH)]
    Method(String),
    #[error("no such path {0:?}: POST remote-write requests to {path}", path = WRITE_PATH)]
    Path(String),
}

impl Rejection {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ContentType(_) => "content_type",
            Self::ContentEncoding(_) => "content_encoding",
            Self::TooLarge { .. } => "too_large",
            Self::Snappy(_) => "snappy",
            Self::Protobuf(_) => "protobuf",
            Self::MissingName { .. } => "missing_name",
            Self::BadLabel { .. } => "bad_label",
            Self::BadSeries { .. } => "bad_series",
            Self::Method(_) => "method",
            Self::Path(_) => "path",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::ContentType(_) | Self::ContentEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Method(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Path(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub const REASONS: [&'static str; 10] = [
        "content_type",
        "content_encoding",
        "too_large",
        "snappy",
        "protobuf",
        "missing_name",
        "bad_label",
        "bad_series",
        "method",
        "path",
    ];
}
