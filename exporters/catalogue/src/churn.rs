//! Series written by `redline churn`: scale events over Services/Deployments (stable and
//! oscillate patterns), the replica counts asked for and seen, and the Kubernetes API
//! calls it made to get there.

use crate::{Kind, Metric};

pub const SCALE_EVENTS: Metric = Metric {
    name: "redline_churn_scale_events_total",
    kind: Kind::Counter,
    labels: &["service", "pattern"],
    help: "Scale events applied (one per service per replica change), by pattern (stable, oscillate, ...).",
};
pub const REPLICAS_TARGET: Metric = Metric {
    name: "redline_churn_replicas_target",
    kind: Kind::Gauge,
    labels: &["service"],
    help: "Replicas the pattern asks of the service's Deployment right now.",
};
pub const REPLICAS_CURRENT: Metric = Metric {
    name: "redline_churn_replicas_current",
    kind: Kind::Gauge,
    labels: &["service"],
    help: "Ready replicas of the service's Deployment as last seen from the API server.",
};
pub const API_REQUEST_DURATION: Metric = Metric {
    name: "redline_churn_api_request_duration_seconds",
    kind: Kind::Histogram,
    labels: &["verb", "resource"],
    help: "Duration of Kubernetes API calls made by the churn daemon.",
};
pub const API_ERRORS: Metric = Metric {
    name: "redline_churn_api_errors_total",
    kind: Kind::Counter,
    labels: &["verb", "code"],
    help: "Failed Kubernetes API calls, by verb and HTTP status code (0 when no response).",
};
pub const EVENTS_IN_FLIGHT: Metric = Metric {
    name: "redline_churn_events_in_flight",
    kind: Kind::Gauge,
    labels: &[],
    help: "Scale events applied whose Deployment has not yet reached its target replicas.",
};

pub const ALL: &[Metric] = &[
    SCALE_EVENTS,
    REPLICAS_TARGET,
    REPLICAS_CURRENT,
    API_REQUEST_DURATION,
    API_ERRORS,
    EVENTS_IN_FLIGHT,
];
