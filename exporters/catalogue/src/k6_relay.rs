//! Self-metrics of `redline k6-relay`: what k6 (or any remote-write 1.0 sender) handed the
//! relay, what it forwarded into the remote-write queue, what it spilled to disk and what it
//! could not keep. The relayed series themselves keep their own names (`k6_*`); samples the
//! queue later gives up on are counted by `redline_remote_write_samples_dropped_total`.

use crate::{Kind, Metric};

pub const REQUESTS: Metric = Metric {
    name: "redline_relay_requests_total",
    kind: Kind::Counter,
    labels: &["result"],
    help: "Write requests received, by result: accepted, rejected (4xx, see redline_relay_rejected_requests_total) or unavailable (503: queue and disk buffer full).",
};
pub const REJECTED: Metric = Metric {
    name: "redline_relay_rejected_requests_total",
    kind: Kind::Counter,
    labels: &["reason"],
    help: "Write requests answered 4xx, by reason: content_type, content_encoding, too_large, snappy, protobuf, missing_name, bad_label, method, path.",
};
pub const RECEIVED_SAMPLES: Metric = Metric {
    name: "redline_relay_received_samples_total",
    kind: Kind::Counter,
    labels: &["kind"],
    help: "Samples (kind=float) and native-histogram samples (kind=histogram) in accepted write requests.",
};
pub const FORWARDED_SAMPLES: Metric = Metric {
    name: "redline_relay_forwarded_samples_total",
    kind: Kind::Counter,
    labels: &["kind"],
    help: "Samples handed to the remote-write queue (directly or replayed from the disk buffer).",
};
pub const BUFFERED_SAMPLES: Metric = Metric {
    name: "redline_relay_buffered_samples_total",
    kind: Kind::Counter,
    labels: &["kind"],
    help: "Samples written to the on-disk buffer because the remote-write queue was full.",
};
pub const DROPPED_SAMPLES: Metric = Metric {
    name: "redline_relay_dropped_samples_total",
    kind: Kind::Counter,
    labels: &["kind", "reason"],
    help: "Samples the relay could not keep, by reason: queue_full (no disk buffer), buffer_full, buffer_corrupt, left_in_buffer (still on disk at exit; replayed by the next start with the same --buffer-dir).",
};
pub const BUFFER_BYTES: Metric = Metric {
    name: "redline_relay_buffer_bytes",
    kind: Kind::Gauge,
    labels: &[],
    help: "Bytes in the on-disk buffer's segments.",
};
pub const BUFFER_CAPACITY_BYTES: Metric = Metric {
    name: "redline_relay_buffer_capacity_bytes",
    kind: Kind::Gauge,
    labels: &[],
    help: "--buffer-max-bytes (0 without --buffer-dir).",
};
pub const SERIES: Metric = Metric {
    name: "redline_relay_series",
    kind: Kind::Gauge,
    labels: &[],
    help: "Distinct series forwarded since start (each gets a staleness marker at the end).",
};

pub const ALL: &[Metric] = &[
    REQUESTS,
    REJECTED,
    RECEIVED_SAMPLES,
    FORWARDED_SAMPLES,
    BUFFERED_SAMPLES,
    DROPPED_SAMPLES,
    BUFFER_BYTES,
    BUFFER_CAPACITY_BYTES,
    SERIES,
];
