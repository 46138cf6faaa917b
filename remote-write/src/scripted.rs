//! A receiver for the unit tests: answers each request from a script, and records what
//! it got (decoded) and when, on tokio's clock, so tests can run on paused time.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use prost::Message;
use tokio::time::Instant;

use crate::prompb::WriteRequest;
use crate::transport::{Outcome, Transport};

type Script = Box<dyn Fn(usize) -> Outcome + Send + Sync>;

pub(crate) struct Scripted {
    /// The answer to the n-th request (0-based).
    script: Script,
    received: Mutex<Vec<(Instant, WriteRequest)>>,
    rejections_logged: Mutex<Vec<(u16, String)>>,
}

impl Scripted {
    pub(crate) fn new(script: impl Fn(usize) -> Outcome + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            script: Box::new(script),
            received: Mutex::default(),
            rejections_logged: Mutex::default(),
        })
    }

    /// Answers from `answers` in turn, then accepts everything.
    pub(crate) fn answering(answers: Vec<Outcome>) -> Arc<Self> {
        Self::new(move |n| answers.get(n).cloned().unwrap_or(Outcome::Sent))
    }

    pub(crate) fn received(&self) -> Vec<(Instant, WriteRequest)> {
        self.received.lock().unwrap().clone()
    }

    pub(crate) fn requests(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    pub(crate) fn rejections_logged(&self) -> Vec<(u16, String)> {
        self.rejections_logged.lock().unwrap().clone()
    }
}

/// A retry without `Retry-After`, as a 503 or a refused connection gives.
pub(crate) fn retry() -> Outcome {
    Outcome::Retry {
        after: None,
        cause: "HTTP 503: unavailable".into(),
    }
}

impl Transport for Scripted {
    async fn send(&self, body: Bytes) -> Outcome {
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .expect("a snappy block");
        let request = WriteRequest::decode(raw.as_slice()).expect("a WriteRequest");
        let mut received = self.received.lock().unwrap();
        received.push((Instant::now(), request));
        (self.script)(received.len() - 1)
    }

    fn log_rejection_once(&self, status: u16, body: &str) {
        self.rejections_logged
            .lock()
            .unwrap()
            .push((status, body.to_string()));
    }
}
