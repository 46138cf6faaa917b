//! Series written by `redline dst-client`: Linkerd `Destination.Get` streams and how fast
//! every stream converges on the endpoints the churn daemon sets. Names are the ones the
//! Linkerd destination load-test plan lists, plus the fan-out signals its criteria need
//! ("all clients observe all changes within N seconds").

label_sets! {
    ServiceLabel { service }
    ReasonLabel { reason }
}

catalogue! {
    UPDATE_LATENCY: Histogram<ServiceLabel> = "destination_client_update_latency_seconds",
        "From the churn event's timestamp (the Kubernetes change) to this stream's endpoint set reaching the event's target (one observation per stream per event).";
    ENDPOINT_LATENCY: Histogram<ServiceLabel> = "destination_client_endpoint_latency_seconds",
        "From the churn event's timestamp to this stream receiving each endpoint add or remove it caused (one observation per endpoint per stream).";
    STREAM_LIFETIME: Histogram = "destination_client_stream_lifetime_seconds",
        "How long a Get stream lived, observed when it ends (by the client's own lifetime/reset schedule or otherwise).";
    CONNECTION_DURATION: Histogram = "destination_client_connection_duration_seconds",
        "Time to establish a connection to the destination controller and receive the first update on it.";
    UPDATES_RECEIVED: Counter<ServiceLabel> = "destination_client_updates_received_total",
        "Update messages (add, remove, no_endpoints) received over all streams.";
    STREAMS_ACTIVE: Gauge = "destination_client_streams_active",
        "Get streams currently open.";
    STREAMS_REQUESTED: Gauge = "destination_client_streams_requested",
        "Get streams the run asked for (services x --streams-per-service), set before they open; RedlineDstStreamsBelowRequested compares streams_active with it.";
    STREAMS_CREATED: Counter = "destination_client_streams_created_total",
        "Get streams opened (initial and reconnections).";
    STREAMS_RESET: Counter = "destination_client_streams_reset_total",
        "Streams ended by the server or the transport (not the client's own --stream-max-lifetime / --stream-reset-interval schedule).";
    CONNECTION_ERRORS: Counter<ReasonLabel> = "destination_client_connection_errors_total",
        "Failed connection or stream attempts, by reason (connect, tls, status code name, other).";
    SEND_TIMEOUTS: Counter = "destination_client_send_timeouts_total",
        "Streams the destination controller ended because its send to this client timed out (backpressure).";
    FANOUT_COMPLETION: Histogram<ServiceLabel> = "destination_client_fanout_completion_seconds",
        "Per scale event: from the event's timestamp to the last watching stream converging on the new endpoint set.";
    ENDPOINTS_OBSERVED: Gauge<ServiceLabel> = "destination_client_endpoints_observed",
        "Endpoints in the service's set as the slowest of its streams sees it now.";
    EVENTS_UNOBSERVED: Counter<ServiceLabel> = "destination_client_events_unobserved_total",
        "Scale events that some stream had not converged on when the convergence window (--converge-timeout) ran out.";
}
