//! What a shard holds per key besides a request's count and duration: a step's counters and
//! iteration time, k6's request phases, and the OpenAI token figures.

use std::time::Duration;

use redline_catalogue::http_load as cat;

use super::timed::Timed;

/// What each phase is written as: a histogram with the labels of a response.
type PhaseFamily =
    redline_catalogue::Catalogued<cat::Response, redline_catalogue::kinds::HistogramBoth>;

#[derive(Debug, Clone)]
pub struct StepCell {
    pub iterations: u64,
    pub dropped: u64,
    pub sent: u64,
    pub received: u64,
    pub iteration: Timed,
}

impl StepCell {
    pub(super) fn new() -> Self {
        Self {
            iterations: 0,
            dropped: 0,
            sent: 0,
            received: 0,
            iteration: Timed::new(2),
        }
    }
    /// One iteration ended, after `took`.
    pub fn count_iteration(&mut self, took: Duration) {
        self.iterations += 1;
        self.iteration.record(took.as_micros() as u64);
    }
    pub(super) fn add(&mut self, o: &StepCell) {
        self.iterations += o.iterations;
        self.dropped += o.dropped;
        self.sent += o.sent;
        self.received += o.received;
        self.iteration.add(&o.iteration);
    }
}

/// k6's per-request phases, with the same key (labels) as the duration. Responses only: a
/// request that got none has no phases, like its missing status.
#[derive(Debug, Clone)]
pub struct Phases {
    pub blocked: Timed,
    pub sending: Timed,
    pub waiting: Timed,
    pub receiving: Timed,
    /// Once per new connection.
    pub connecting: Timed,
    /// Once per new https connection.
    pub tls: Timed,
}

impl Phases {
    pub(super) fn new() -> Self {
        Self {
            blocked: Timed::auto(2),
            sending: Timed::auto(2),
            waiting: Timed::auto(2),
            receiving: Timed::auto(2),
            connecting: Timed::auto(2),
            tls: Timed::auto(2),
        }
    }
    /// Each phase's series family and k6 summary key, in the order of [`Phases::get`].
    pub const NAMES: [(&'static PhaseFamily, &'static str); 6] = [
        (&cat::HTTP_REQ_BLOCKED, "http_req_blocked"),
        (&cat::HTTP_REQ_CONNECTING, "http_req_connecting"),
        (&cat::HTTP_REQ_TLS_HANDSHAKING, "http_req_tls_handshaking"),
        (&cat::HTTP_REQ_SENDING, "http_req_sending"),
        (&cat::HTTP_REQ_WAITING, "http_req_waiting"),
        (&cat::HTTP_REQ_RECEIVING, "http_req_receiving"),
    ];
    pub fn get(&self, i: usize) -> &Timed {
        match i {
            0 => &self.blocked,
            1 => &self.connecting,
            2 => &self.tls,
            3 => &self.sending,
            4 => &self.waiting,
            _ => &self.receiving,
        }
    }
    pub(super) fn add(&mut self, o: &Phases) {
        self.blocked.add(&o.blocked);
        self.sending.add(&o.sending);
        self.waiting.add(&o.waiting);
        self.receiving.add(&o.receiving);
        self.connecting.add(&o.connecting);
        self.tls.add(&o.tls);
    }
}

#[derive(Debug, Clone)]
pub struct LlmCell {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub ttft: Timed,
    pub itl: Timed,
    /// Output tokens per second ×1000 (HDR holds integers).
    pub tps_milli: Timed,
}

impl LlmCell {
    pub(super) fn new() -> Self {
        Self {
            prompt_tokens: 0,
            completion_tokens: 0,
            ttft: Timed::new(2),
            itl: Timed::new(2),
            tps_milli: Timed::new(2),
        }
    }
    pub(super) fn add(&mut self, o: &LlmCell) {
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.ttft.add(&o.ttft);
        self.itl.add(&o.itl);
        self.tps_milli.add(&o.tps_milli);
    }
}
