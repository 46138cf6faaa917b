//! Series written by `redline churn`: scale events over Services/Deployments (stable and
//! oscillate patterns), the replica counts asked for and seen, and the Kubernetes API
//! calls it made to get there.

label_sets! {
    ServicePattern { service, pattern }
    ServiceLabel { service }
    VerbResource { verb, resource }
    VerbCode { verb, code }
}

catalogue! {
    SCALE_EVENTS: Counter<ServicePattern> = "redline_churn_scale_events_total",
        "Scale events applied (one per service per replica change), by pattern (stable, oscillate, ...).";
    REPLICAS_TARGET: Gauge<ServiceLabel> = "redline_churn_replicas_target",
        "Replicas the pattern asks of the service's Deployment right now.";
    REPLICAS_CURRENT: Gauge<ServiceLabel> = "redline_churn_replicas_current",
        "Ready replicas of the service's Deployment as last seen from the API server.";
    API_REQUEST_DURATION: Histogram<VerbResource> = "redline_churn_api_request_duration_seconds",
        "Duration of Kubernetes API calls made by the churn daemon.";
    API_ERRORS: Counter<VerbCode> = "redline_churn_api_errors_total",
        "Failed Kubernetes API calls, by verb and HTTP status code (0 when no response).";
    EVENTS_IN_FLIGHT: Gauge = "redline_churn_events_in_flight",
        "Scale events applied whose Deployment has not yet reached its target replicas.";
}
