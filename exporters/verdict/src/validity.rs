//! An invalid run is not a failed application (the VPS seed's first run: 100 % failures from
//! quota and connection errors, "invalid due to infrastructure issues").
//!
//! A run is **invalid** when fewer than `--min-response-ratio` (1 %) of its requests got any
//! HTTP response *and* none did in its first 30 s: its requests never reached the target
//! (connection refused, timeouts, DNS, TLS, or an admission/quota problem that kept the target
//! from running). A target that answered at first and then stopped answering is a failed
//! application, judged by the alerts (exit 1). "No response" is k6's `status="0"`; for Locust
//! the failures whose error names a connection problem.

use serde::Serialize;

use crate::prom::{PromClient, PromError, quote};
use crate::window::Window;

/// Seconds from the run's start in which a valid run must have had some response.
pub const EARLY_SECONDS: f64 = 30.0;

/// Locust error strings that mean "no HTTP response".
const LOCUST_NO_RESPONSE: &str =
    "(?i).*(connection|refused|timed? ?out|returned 0|status 0|name resolution|reset).*";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Invalidity {
    pub requests: f64,
    /// Requests that got any HTTP response, in the whole run.
    pub responded: f64,
    /// ... and in its first [`EARLY_SECONDS`].
    pub responded_early: f64,
    /// The most frequent error: `redline_http_request_errors_total`'s reason when written,
    /// else k6's status (0 = no response), else Locust's error text.
    pub dominant_error: String,
    pub dominant_count: f64,
}

/// The rule itself, apart from Prometheus.
pub fn is_invalid(requests: f64, responded: f64, responded_early: f64, min_ratio: f64) -> bool {
    requests > 0.0 && responded / requests < min_ratio && responded_early <= 0.0
}

pub async fn check(
    client: &PromClient,
    testid: &str,
    win: Window,
    min_ratio: f64,
) -> Result<Option<Invalidity>, PromError> {
    let t = quote(testid);
    let w = win.duration().ceil() + 1.0;
    let requests_q = |range: f64| {
        format!(
            "sum(max_over_time(k6_http_reqs_total{{testid={t}}}[{range}s])) or sum(max_over_time(locust_requests_total{{testid={t}}}[{range}s]))"
        )
    };
    let responded_q = |range: f64| {
        format!(
            "sum(max_over_time(k6_http_reqs_total{{testid={t},status!=\"0\"}}[{range}s])) or (sum(max_over_time(locust_requests_total{{testid={t}}}[{range}s])) - (sum(max_over_time(locust_errors_total{{testid={t},error=~\"{LOCUST_NO_RESPONSE}\"}}[{range}s])) or vector(0)))"
        )
    };
    let scalar =
        |series: Vec<crate::prom::Series>| series.first().and_then(|s| s.last()).unwrap_or(0.0);
    let requests = scalar(client.query(&requests_q(w), win.to).await?);
    if requests <= 0.0 {
        return Ok(None);
    }
    let responded = scalar(client.query(&responded_q(w), win.to).await?);
    let early_at = (win.from + EARLY_SECONDS).min(win.to);
    let early_range = (early_at - win.from).ceil() + 1.0;
    let responded_early = scalar(client.query(&responded_q(early_range), early_at).await?);
    if !is_invalid(requests, responded, responded_early, min_ratio) {
        return Ok(None);
    }
    let (dominant_error, dominant_count) = dominant_error(client, &t, w, win.to).await?;
    Ok(Some(Invalidity {
        requests,
        responded,
        responded_early,
        dominant_error,
        dominant_count,
    }))
}

async fn dominant_error(
    client: &PromClient,
    t: &str,
    w: f64,
    at: f64,
) -> Result<(String, f64), PromError> {
    let candidates = [
        (
            format!(
                "sum by (reason) (max_over_time(redline_http_request_errors_total{{testid={t}}}[{w}s]))"
            ),
            "reason",
        ),
        (
            format!(
                "sum by (status) (max_over_time(k6_http_reqs_total{{testid={t},expected_response!=\"true\"}}[{w}s]))"
            ),
            "status",
        ),
        (
            format!("sum by (error) (max_over_time(locust_errors_total{{testid={t}}}[{w}s]))"),
            "error",
        ),
    ];
    for (q, label) in candidates {
        let series = client.query(&q, at).await?;
        if let Some(top) = series
            .iter()
            .filter_map(|s| Some((s.label(label).to_string(), s.last()?)))
            .filter(|(_, v)| *v > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1))
        {
            let name = match (label, top.0.as_str()) {
                ("status", "0") => "no response (status 0)".to_string(),
                ("status", s) => format!("HTTP {s}"),
                (_, "") => "unknown".to_string(),
                (_, s) => s.to_string(),
            };
            return Ok((name, top.1));
        }
    }
    Ok(("unknown".to_string(), 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_reached_is_invalid_but_a_later_outage_is_not() {
        assert!(is_invalid(182.0, 0.0, 0.0, 0.01));
        // Answered at first, then the target went away: the application failed.
        assert!(!is_invalid(1000.0, 5.0, 5.0, 0.01));
        // Mostly answered: judged by the alerts.
        assert!(!is_invalid(1000.0, 800.0, 100.0, 0.01));
        // No requests at all is "no data", not invalid.
        assert!(!is_invalid(0.0, 0.0, 0.0, 0.01));
    }
}
