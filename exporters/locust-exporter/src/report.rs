//! What a Locust master's web UI serves on `/stats/requests` (Locust 2.x), and fetching it.
//!
//! Fields that Locust leaves out or sets to null (no requests yet, an older version) read as
//! absent; the fields the counters need (`state`, `stats[].num_requests`, `num_failures`)
//! must be there, so a page that is not Locust's is an `invalid` poll, not zeros.

use serde::Deserialize;

use crate::poll::PollResult;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct StatsReport {
    /// Per (name, method), then the total ("Aggregated") last.
    pub stats: Vec<Entry>,
    #[serde(default)]
    pub errors: Vec<ErrorRow>,
    /// ready, spawning, running, cleanup, stopping, stopped, missing.
    pub state: String,
    #[serde(default)]
    pub user_count: u64,
    /// Only on a master.
    #[serde(default)]
    pub worker_count: Option<u64>,
    #[serde(default)]
    pub fail_ratio: Option<f64>,
}

/// One row of Locust's statistics table. Times in milliseconds.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Entry {
    pub name: String,
    #[serde(default)]
    pub method: Option<String>,
    pub num_requests: u64,
    pub num_failures: u64,
    #[serde(default)]
    pub median_response_time: Option<f64>,
    #[serde(default)]
    pub avg_response_time: Option<f64>,
    #[serde(default)]
    pub max_response_time: Option<f64>,
    #[serde(default)]
    pub current_rps: Option<f64>,
    #[serde(default)]
    pub current_fail_per_sec: Option<f64>,
    #[serde(default, rename = "response_time_percentile_0.95")]
    pub p95: Option<f64>,
    #[serde(default, rename = "response_time_percentile_0.99")]
    pub p99: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ErrorRow {
    pub name: String,
    #[serde(default)]
    pub method: Option<String>,
    pub error: String,
    pub occurrences: u64,
}

impl StatsReport {
    /// The per-endpoint rows (Locust appends the total last).
    pub fn endpoints(&self) -> &[Entry] {
        match self.stats.split_last() {
            Some((_, rest)) => rest,
            None => &[],
        }
    }

    pub fn total(&self) -> Option<&Entry> {
        self.stats.last()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("Locust is unreachable: {0}")]
    Unreachable(String),
    #[error("Locust answered HTTP {0}")]
    Status(u16),
    #[error("not Locust's /stats/requests JSON: {0}")]
    Invalid(String),
}

impl PollError {
    pub fn result(&self) -> PollResult {
        match self {
            Self::Unreachable(_) => PollResult::Unreachable,
            Self::Status(_) => PollResult::HttpError,
            Self::Invalid(_) => PollResult::Invalid,
        }
    }
}

pub fn parse(body: &[u8]) -> Result<StatsReport, PollError> {
    serde_json::from_slice(body).map_err(|e| {
        PollError::Invalid(format!(
            "{e} (body starts {:?})",
            String::from_utf8_lossy(&body[..body.len().min(60)])
        ))
    })
}

pub async fn fetch(http: &reqwest::Client, url: &reqwest::Url) -> Result<StatsReport, PollError> {
    // Errors are shown without the URL: it may carry a password.
    let resp = http
        .get(url.clone())
        .send()
        .await
        .map_err(|e| PollError::Unreachable(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(PollError::Status(resp.status().as_u16()));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| PollError::Unreachable(e.without_url().to_string()))?;
    parse(&body)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Shaped like Locust 2.47's answer on a master with two workers.
    pub const SAMPLE: &str = r#"{
      "current_fail_per_sec": 0.5, "current_response_time_percentiles": {"response_time_percentile_0.5": 12, "response_time_percentile_0.95": 40},
      "current_rps": 20.1, "errors": [{"error": "HTTPError('503 Server Error: Service Unavailable for url: /api/v1/predict/1')", "method": "POST", "name": "/api/v1/predict/1", "occurrences": 4}],
      "fail_ratio": 0.02, "state": "running",
      "stats": [
        {"avg_content_length": 80.0, "avg_response_time": 13.2, "current_fail_per_sec": 0.5, "current_rps": 15.0, "max_response_time": 52, "median_response_time": 12, "method": "POST", "min_response_time": 3, "name": "/api/v1/predict/1", "num_failures": 4, "num_requests": 150, "response_time_percentile_0.95": 40, "response_time_percentile_0.99": 50, "total_fail_per_sec": 0.4, "total_rps": 15.0},
        {"avg_content_length": 2.0, "avg_response_time": 2.1, "current_fail_per_sec": 0, "current_rps": 5.0, "max_response_time": 9, "median_response_time": 2, "method": "GET", "min_response_time": 1, "name": "/health", "num_failures": 0, "num_requests": 50, "response_time_percentile_0.95": 4, "response_time_percentile_0.99": 8, "total_fail_per_sec": 0, "total_rps": 5.0},
        {"avg_content_length": 60.5, "avg_response_time": 10.4, "current_fail_per_sec": 0.5, "current_rps": 20.0, "max_response_time": 52, "median_response_time": 11, "method": null, "min_response_time": 1, "name": "Aggregated", "num_failures": 4, "num_requests": 200, "response_time_percentile_0.95": 38, "response_time_percentile_0.99": 50, "total_fail_per_sec": 0.4, "total_rps": 20.0}
      ],
      "total_avg_response_time": 10.4, "total_fail_per_sec": 0.4, "total_rps": 20.0,
      "user_count": 10, "worker_count": 2, "workers": [{"id": "w1", "state": "running", "user_count": 5, "cpu_usage": 3, "memory_usage": 1}]
    }"#;

    #[test]
    fn locusts_answer_parses_with_the_total_apart() {
        let r = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(r.state, "running");
        assert_eq!(r.user_count, 10);
        assert_eq!(r.worker_count, Some(2));
        assert_eq!(r.endpoints().len(), 2);
        assert_eq!(r.endpoints()[0].p95, Some(40.0));
        assert_eq!(r.total().unwrap().name, "Aggregated");
        assert_eq!(r.total().unwrap().method, None);
        assert_eq!(r.errors[0].occurrences, 4);
    }

    #[test]
    fn garbage_and_other_json_are_invalid_polls() {
        for body in [
            "<html>nginx</html>",
            "{}",
            r#"{"stats": [], "state": 3}"#,
            "",
        ] {
            let e = parse(body.as_bytes()).unwrap_err();
            assert_eq!(e.result(), PollResult::Invalid, "{body}: {e}");
        }
        // Before any test Locust serves no rows at all; that is valid.
        let r =
            parse(br#"{"stats": [], "errors": [], "state": "ready", "user_count": 0}"#).unwrap();
        assert!(r.total().is_none() && r.endpoints().is_empty());
    }
}
