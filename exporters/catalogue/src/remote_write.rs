//! Self-metrics of the remote-write client, written by every daemon. Besides the labels
//! below each carries `daemon` (the subcommand), added by the runtime: the daemons of one
//! run share its testid, and without it they would write the same series.

label_sets! {
    KindLabel { kind }
    KindReason { kind, reason }
}

catalogue! {
    SAMPLES_SENT: Counter<KindLabel> = "redline_remote_write_samples_sent_total",
        "Samples (kind=float), histogram samples (kind=histogram) and exemplars (kind=exemplar) accepted by the receiver.";
    SAMPLES_FAILED: Counter<KindLabel> = "redline_remote_write_samples_failed_total",
        "Samples in send attempts that failed (each failed attempt counts; retried ones too).";
    SAMPLES_RETRIED: Counter<KindLabel> = "redline_remote_write_samples_retried_total",
        "Samples sent again after a retryable failure (5xx, 429, connection error).";
    SAMPLES_DROPPED: Counter<KindReason> = "redline_remote_write_samples_dropped_total",
        "Samples given up on, by reason (queue_full, rejected_4xx, shutdown_deadline, out_of_order, histograms_refused).";
    UNCONFIRMED: Counter<KindLabel> = "redline_remote_write_unconfirmed_total",
        "Samples, histograms and exemplars a remote-write 2.0 receiver answered 2xx for but did not count in its X-Prometheus-Remote-Write-*-Written headers.";
    QUEUE_LENGTH: Gauge = "redline_remote_write_queue_length",
        "Samples waiting in the shard queues.";
    QUEUE_CAPACITY: Gauge = "redline_remote_write_queue_capacity",
        "Samples the shard queues hold at most.";
    SEND_DURATION: Histogram = "redline_remote_write_send_duration_seconds",
        "Duration of one remote-write HTTP request.";
    HIGHEST_SENT_TIMESTAMP: Gauge = "redline_remote_write_highest_sent_timestamp_seconds",
        "Newest sample timestamp the receiver accepted (Unix seconds).";
}
