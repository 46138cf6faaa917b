//! Series written by `redline tokens create`: how long the API server took to create each
//! labelled ServiceAccount (the MaaS plan's "SA creation time" column, which it records
//! against the number of active tokens), the tokens issued and when they expire.

label_sets! {
    TierLabel { tier }
    TierStep { tier, step }
}

catalogue! {
    SERVICEACCOUNT_CREATE_DURATION: Histogram<TierLabel> = "redline_tokens_serviceaccount_create_duration_seconds",
        "Duration of one ServiceAccount create call, from request to response, by tier.";
    ISSUED: Counter<TierLabel> = "redline_tokens_issued_total",
        "Bound ServiceAccount tokens issued through the TokenRequest API, by tier.";
    ERRORS: Counter<TierStep> = "redline_tokens_errors_total",
        "Failed API calls while creating tokens, by tier and step (serviceaccount, token).";
    CREATE_ELAPSED: Gauge = "redline_tokens_create_elapsed_seconds",
        "Wall time of the whole create run: every ServiceAccount and token, and the Secret.";
    EXPIRY: Gauge<TierLabel> = "redline_tokens_nearest_expiry_timestamp_seconds",
        "Unix time at which the first token of the tier expires.";
}
