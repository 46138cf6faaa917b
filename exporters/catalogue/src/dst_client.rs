//! Series written by `redline dst-client`: Linkerd `Destination.Get` streams and how fast
//! every stream converges on the endpoints the churn daemon sets. Names are the ones the
//! Linkerd destination load-test plan lists, plus the fan-out signals its criteria need
//! ("all clients observe all changes within N seconds").

use crate::{Kind, Metric};

pub const UPDATE_LATENCY: Metric = Metric {
    name: "destination_client_update_latency_seconds",
    kind: Kind::Histogram,
    labels: &["service"],
    help: "From the churn event's timestamp (the Kubernetes change) to this stream's endpoint set reaching the event's target (one observation per stream per event).",
};
pub const ENDPOINT_LATENCY: Metric = Metric {
    name: "destination_client_endpoint_latency_seconds",
    kind: Kind::Histogram,
    labels: &["service"],
    help: "From the churn event's timestamp to this stream receiving each endpoint add or remove it caused (one observation per endpoint per stream).",
};
pub const STREAM_LIFETIME: Metric = Metric {
    name: "destination_client_stream_lifetime_seconds",
    kind: Kind::Histogram,
    labels: &[],
    help: "How long a Get stream lived, observed when it ends (by the client's own lifetime/reset schedule or otherwise).",
};
pub const CONNECTION_DURATION: Metric = Metric {
    name: "destination_client_connection_duration_seconds",
    kind: Kind::Histogram,
    labels: &[],
    help: "Time to establish a connection to the destination controller and receive the first update on it.",
};
pub const UPDATES_RECEIVED: Metric = Metric {
    name: "destination_client_updates_received_total",
    kind: Kind::Counter,
    labels: &["service"],
    help: "Update messages (add, remove, no_endpoints) received over all streams.",
};
pub const STREAMS_ACTIVE: Metric = Metric {
    name: "destination_client_streams_active",
    kind: Kind::Gauge,
    labels: &[],
    help: "Get streams currently open.",
};
pub const STREAMS_CREATED: Metric = Metric {
    name: "destination_client_streams_created_total",
    kind: Kind::Counter,
    labels: &[],
    help: "Get streams opened (initial and reconnections).",
};
pub const STREAMS_RESET: Metric = Metric {
    name: "destination_client_streams_reset_total",
    kind: Kind::Counter,
    labels: &[],
    help: "Streams ended by the server or the transport (not the client's own --stream-max-lifetime / --stream-reset-interval schedule).",
};
pub const CONNECTION_ERRORS: Metric = Metric {
    name: "destination_client_connection_errors_total",
    kind: Kind::Counter,
    labels: &["reason"],
    help: "Failed connection or stream attempts, by reason (connect, tls, status code name, other).",
};
pub const SEND_TIMEOUTS: Metric = Metric {
    name: "destination_client_send_timeouts_total",
    kind: Kind::Counter,
    labels: &[],
    help: "Streams the destination controller ended because its send to this client timed out (backpressure).",
};
pub const FANOUT_COMPLETION: Metric = Metric {
    name: "destination_client_fanout_completion_seconds",
    kind: Kind::Histogram,
    labels: &["service"],
    help: "Per scale event: from the event's timestamp to the last watching stream converging on the new endpoint set.",
};
pub const ENDPOINTS_OBSERVED: Metric = Metric {
    name: "destination_client_endpoints_observed",
    kind: Kind::Gauge,
    labels: &["service"],
    help: "Endpoints in the service's set as the slowest of its streams sees it now.",
};
pub const EVENTS_UNOBSERVED: Metric = Metric {
    name: "destination_client_events_unobserved_total",
    kind: Kind::Counter,
    labels: &["service"],
    help: "Scale events that some stream had not converged on when the convergence window (--converge-timeout) ran out.",
};

pub const ALL: &[Metric] = &[
    UPDATE_LATENCY,
    ENDPOINT_LATENCY,
    STREAM_LIFETIME,
    CONNECTION_DURATION,
    UPDATES_RECEIVED,
    STREAMS_ACTIVE,
    STREAMS_CREATED,
    STREAMS_RESET,
    CONNECTION_ERRORS,
    SEND_TIMEOUTS,
    FANOUT_COMPLETION,
    ENDPOINTS_OBSERVED,
    EVENTS_UNOBSERVED,
];
