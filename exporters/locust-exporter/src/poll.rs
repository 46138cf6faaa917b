//! How one poll of Locust's `/stats/requests` went: the `result` label of
//! `redline_locust_exporter_polls_total`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollResult {
    Ok,
    Unreachable,
    HttpError,
    Invalid,
}

impl PollResult {
    pub const ALL: [PollResult; 4] = [Self::Ok, Self::Unreachable, Self::HttpError, Self::Invalid];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Unreachable => "unreachable",
            Self::HttpError => "http_error",
            Self::Invalid => "invalid",
        }
    }
}
