//! A receiver for the unit tests: answers each request from a script, and records what
//! it got (decoded) and when, on tokio's clock, so tests can run on paused time.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use prost::Message;
use tokio::time::Instant;

use crate::prompb::{self, WriteRequest};
use crate::protocol::Wire;
use crate::transport::{Outcome, Transport};
use crate::write_v2;

type Script = Box<dyn Fn(usize) -> Outcome + Send + Sync>;

pub(crate) struct Scripted {
    /// The answer to the n-th request (0-based).
    script: Script,
    received: Mutex<Vec<(Instant, WriteRequest)>>,
    wires: Mutex<Vec<Wire>>,
    /// The 2.0 requests as they came, for what the 1.0 shape has no place for.
    v2: Mutex<Vec<write_v2::Request>>,
    rejections_logged: Mutex<Vec<(u16, String)>>,
}

impl Scripted {
    pub(crate) fn new(script: impl Fn(usize) -> Outcome + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            script: Box::new(script),
            received: Mutex::default(),
            wires: Mutex::default(),
            v2: Mutex::default(),
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

    /// The protocol of each request, in order.
    pub(crate) fn wires(&self) -> Vec<Wire> {
        self.wires.lock().unwrap().clone()
    }

    /// The 2.0 requests, in order.
    pub(crate) fn received_v2(&self) -> Vec<write_v2::Request> {
        self.v2.lock().unwrap().clone()
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
    async fn send(&self, body: Bytes, wire: Wire) -> Outcome {
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .expect("a snappy block");
        let request = match wire {
            Wire::V1 => WriteRequest::decode(raw.as_slice()).expect("a WriteRequest"),
            Wire::V2 => {
                let r = write_v2::Request::decode(raw.as_slice()).expect("a v2 Request");
                let v1 = as_v1(&r);
                self.v2.lock().unwrap().push(r);
                v1
            }
        };
        self.wires.lock().unwrap().push(wire);
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

/// A 2.0 request read back into the 1.0 shape (labels resolved through the symbols), so
/// tests assert on one shape whichever protocol went out. Metadata has no 1.0 place and is
/// left out; histograms keep the fields the tests look at.
pub(crate) fn as_v1(r: &write_v2::Request) -> WriteRequest {
    let labels = |refs: &[u32]| -> Vec<prompb::Label> {
        refs.chunks(2)
            .map(|p| prompb::Label {
                name: r.symbols[p[0] as usize].clone(),
                value: r.symbols[p[1] as usize].clone(),
            })
            .collect()
    };
    WriteRequest {
        timeseries: r
            .timeseries
            .iter()
            .map(|ts| prompb::TimeSeries {
                labels: labels(&ts.labels_refs),
                samples: ts
                    .samples
                    .iter()
                    .map(|s| prompb::Sample {
                        value: s.value,
                        timestamp: s.timestamp,
                    })
                    .collect(),
                exemplars: ts
                    .exemplars
                    .iter()
                    .map(|x| prompb::Exemplar {
                        labels: labels(&x.labels_refs),
                        value: x.value,
                        timestamp: x.timestamp,
                    })
                    .collect(),
                histograms: ts
                    .histograms
                    .iter()
                    .map(|h| prompb::Histogram {
                        sum: h.sum,
                        timestamp: h.timestamp,
                        positive_deltas: h.positive_deltas.clone(),
                        ..Default::default()
                    })
                    .collect(),
            })
            .collect(),
        metadata: vec![],
    }
}
