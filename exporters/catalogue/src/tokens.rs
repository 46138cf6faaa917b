//! Series written by `redline tokens create`: how long the API server took to create each
//! labelled ServiceAccount (the MaaS plan's "SA creation time" column, which it records
//! against the number of active tokens), the tokens issued and when they expire.

use crate::{Kind, Metric};

pub const SERVICEACCOUNT_CREATE_DURATION: Metric = Metric {
    name: "redline_tokens_serviceaccount_create_duration_seconds",
    kind: Kind::Histogram,
    labels: &["tier"],
    help: "Duration of one ServiceAccount create call, from request to response, by tier.",
};
pub const ISSUED: Metric = Metric {
    name: "redline_tokens_issued_total",
    kind: Kind::Counter,
    labels: &["tier"],
    help: "Bound ServiceAccount tokens issued through the TokenRequest API, by tier.",
};
pub const ERRORS: Metric = Metric {
    name: "redline_tokens_errors_total",
    kind: Kind::Counter,
    labels: &["tier", "step"],
    help: "Failed API calls while creating tokens, by tier and step (serviceaccount, token).",
};
pub const CREATE_ELAPSED: Metric = Metric {
    name: "redline_tokens_create_elapsed_seconds",
    kind: Kind::Gauge,
    labels: &[],
    help: "Wall time of the whole create run: every ServiceAccount and token, and the Secret.",
};
pub const EXPIRY: Metric = Metric {
    name: "redline_tokens_nearest_expiry_timestamp_seconds",
    kind: Kind::Gauge,
    labels: &["tier"],
    help: "Unix time at which the first token of the tier expires.",
};

pub const ALL: &[Metric] = &[
    SERVICEACCOUNT_CREATE_DURATION,
    ISSUED,
    ERRORS,
    CREATE_ELAPSED,
    EXPIRY,
];
