//! Self-metrics of `redline k6-relay`: what k6 (or any remote-write 1.0 sender) handed the
//! relay, what it forwarded into the remote-write queue, what it spilled to disk and what it
//! could not keep. The relayed series themselves keep their own names (`k6_*`); samples the
//! queue later gives up on are counted by `redline_remote_write_samples_dropped_total`.

label_sets! {
    ResultLabel { result }
    ReasonLabel { reason }
    KindLabel { kind }
    KindReason { kind, reason }
}

catalogue! {
    REQUESTS: Counter<ResultLabel> = "redline_relay_requests_total",
        "Write requests received, by result: accepted, rejected (4xx, see redline_relay_rejected_requests_total) or unavailable (503: queue and disk buffer full).";
    REJECTED: Counter<ReasonLabel> = "redline_relay_rejected_requests_total",
        "Write requests answered 4xx, by reason: content_type, content_encoding, too_large, snappy, protobuf, missing_name, bad_label, bad_series, method, path.";
    RECEIVED_SAMPLES: Counter<KindLabel> = "redline_relay_received_samples_total",
        "Samples (kind=float), native-histogram samples (kind=histogram) and exemplars (kind=exemplar) in accepted write requests.";
    FORWARDED_SAMPLES: Counter<KindLabel> = "redline_relay_forwarded_samples_total",
        "Samples handed to the remote-write queue (directly or replayed from the disk buffer).";
    BUFFERED_SAMPLES: Counter<KindLabel> = "redline_relay_buffered_samples_total",
        "Samples written to the on-disk buffer because the remote-write queue was full.";
    DROPPED_SAMPLES: Counter<KindReason> = "redline_relay_dropped_samples_total",
        "Samples the relay could not keep, by reason: queue_full (no disk buffer), buffer_full, buffer_corrupt, left_in_buffer (still on disk at exit; replayed by the next start with the same --buffer-dir).";
    BUFFER_BYTES: Gauge = "redline_relay_buffer_bytes",
        "Bytes in the on-disk buffer's segments.";
    BUFFER_CAPACITY_BYTES: Gauge = "redline_relay_buffer_capacity_bytes",
        "--buffer-max-bytes (0 without --buffer-dir).";
    SERIES: Gauge = "redline_relay_series",
        "Distinct series forwarded since start (each gets a staleness marker at the end).";
}
