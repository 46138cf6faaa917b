//! What one recorded value is keyed by: small copyable label-set indices (see
//! [`super::labels::Labels`] for the names), so the hot path hashes integers, never strings.

/// Why a request got no response (`redline_http_request_errors_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ErrorReason {
    ConnectRefused,
    Timeout,
    Reset,
    Tls,
    Other,
}

impl ErrorReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::ConnectRefused => "connect_refused",
            ErrorReason::Timeout => "timeout",
            ErrorReason::Reset => "reset",
            ErrorReason::Tls => "tls",
            ErrorReason::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReqKey {
    pub req: u16,
    pub step: u16,
    pub tier: u16,
    pub status: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepKey {
    pub scenario: u16,
    pub step: u16,
}
