//! Self-metrics of the remote-write client, written by every daemon.

use crate::{Kind, Metric};

pub const SAMPLES_SENT: Metric = Metric {
    name: "redline_remote_write_samples_sent_total",
    kind: Kind::Counter,
    labels: &["kind"],
    help: "Samples (kind=float) and histogram samples (kind=histogram) accepted by the receiver.",
};
pub const SAMPLES_FAILED: Metric = Metric {
    name: "redline_remote_write_samples_failed_total",
    kind: Kind::Counter,
    labels: &["kind"],
    help: "Samples in send attempts that failed (each failed attempt counts; retried ones too).",
};
pub const SAMPLES_RETRIED: Metric = Metric {
    name: "redline_remote_write_samples_retried_total",
    kind: Kind::Counter,
    labels: &["kind"],
    help: "Samples sent again after a retryable failure (5xx, 429, connection error).",
};
pub const SAMPLES_DROPPED: Metric = Metric {
    name: "redline_remote_write_samples_dropped_total",
    kind: Kind::Counter,
    labels: &["kind", "reason"],
    help: "Samples given up on, by reason (queue_full, rejected_4xx, shutdown_deadline, invalid).",
};
pub const QUEUE_LENGTH: Metric = Metric {
    name: "redline_remote_write_queue_length",
    kind: Kind::Gauge,
    labels: &[],
    help: "Samples waiting in the shard queues.",
};
pub const QUEUE_CAPACITY: Metric = Metric {
    name: "redline_remote_write_queue_capacity",
    kind: Kind::Gauge,
    labels: &[],
    help: "Samples the shard queues hold at most.",
};
pub const SEND_DURATION: Metric = Metric {
    name: "redline_remote_write_send_duration_seconds",
    kind: Kind::Histogram,
    labels: &[],
    help: "Duration of one remote-write HTTP request.",
};
pub const HIGHEST_SENT_TIMESTAMP: Metric = Metric {
    name: "redline_remote_write_highest_sent_timestamp_seconds",
    kind: Kind::Gauge,
    labels: &[],
    help: "Newest sample timestamp the receiver accepted (Unix seconds).",
};

pub const ALL: &[Metric] = &[
    SAMPLES_SENT,
    SAMPLES_FAILED,
    SAMPLES_RETRIED,
    SAMPLES_DROPPED,
    QUEUE_LENGTH,
    QUEUE_CAPACITY,
    SEND_DURATION,
    HIGHEST_SENT_TIMESTAMP,
];
