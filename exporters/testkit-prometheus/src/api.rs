//! The Prometheus HTTP query API, as Prometheus 2, 3 and VictoriaMetrics all serve it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::HarnessError;

/// One series of a query result.
#[derive(Debug, Clone, Deserialize)]
pub struct Series {
    pub metric: BTreeMap<String, String>,
    /// `[unix_seconds, "value"]` for floats.
    #[serde(default)]
    pub value: Option<(f64, String)>,
    /// `[unix_seconds, {count, sum, buckets}]` for native histograms.
    #[serde(default)]
    pub histogram: Option<(f64, serde_json::Value)>,
    /// Range queries.
    #[serde(default)]
    pub values: Vec<(f64, String)>,
    /// Range queries of native histograms.
    #[serde(default)]
    pub histograms: Vec<(f64, serde_json::Value)>,
}

impl Series {
    /// The float value of an instant sample (NaN when it is a histogram).
    pub fn float(&self) -> f64 {
        self.value
            .as_ref()
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(f64::NAN)
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.metric.get(key).map(String::as_str)
    }

    /// `(timestamp ms, value)` of each float of a range result: milliseconds, because that is
    /// what was written and what tests compare (the API's float seconds round-trip inexactly).
    pub fn float_samples(&self) -> Vec<(i64, f64)> {
        self.values
            .iter()
            .map(|(t, v)| (millis(*t), v.parse().unwrap_or(f64::NAN)))
            .collect()
    }

    /// `(timestamp ms, count)` of each native histogram of a range result.
    pub fn histogram_counts(&self) -> Vec<(i64, f64)> {
        self.histograms
            .iter()
            .map(|(t, h)| {
                let count = h["count"].as_str().and_then(|c| c.parse().ok());
                (millis(*t), count.unwrap_or(f64::NAN))
            })
            .collect()
    }
}

/// `(value of label, float)` of each series of an instant result, sorted by the label: what a
/// `sum by (label)` or a per-reason counter is compared against.
pub fn by_label(result: &[Series], label: &str) -> Vec<(String, f64)> {
    let mut pairs: Vec<(String, f64)> = result
        .iter()
        .map(|s| (s.label(label).unwrap_or_default().to_string(), s.float()))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

/// The JSON body `request` is answered with.
async fn json<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, HarnessError> {
    Ok(request.send().await?.json().await?)
}

fn millis(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

#[derive(Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct ApiData {
    #[serde(default)]
    result: serde_json::Value,
}

/// One server's HTTP API. A [`Prometheus`](crate::Prometheus) dereferences to it, so
/// `p.query(..)` asks the server a test started.
#[derive(Clone)]
pub struct QueryApi {
    http: reqwest::Client,
    base_url: String,
}

impl QueryApi {
    pub(crate) fn new(base_url: String) -> Result<Self, HarnessError> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            base_url,
        })
    }

    /// Whether `path` answers 2xx right now.
    pub(crate) async fn answers(&self, path: &str) -> bool {
        matches!(
            self.http.get(format!("{}{path}", self.base_url)).send().await,
            Ok(r) if r.status().is_success()
        )
    }

    /// Instant query at the server's now.
    pub async fn query(&self, q: &str) -> Result<Vec<Series>, HarnessError> {
        self.call("query", &[("query", q.to_string())]).await
    }

    /// Instant query at a given Unix time (seconds).
    pub async fn query_at(&self, q: &str, time: f64) -> Result<Vec<Series>, HarnessError> {
        self.call(
            "query",
            &[("query", q.to_string()), ("time", time.to_string())],
        )
        .await
    }

    /// Range query.
    pub async fn query_range(
        &self,
        q: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<Series>, HarnessError> {
        self.call(
            "query_range",
            &[
                ("query", q.to_string()),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", step.to_string()),
            ],
        )
        .await
    }

    /// Single float of a query expected to return exactly one series.
    pub async fn scalar(&self, q: &str) -> Result<Option<f64>, HarnessError> {
        let r = self.query(q).await?;
        Ok(r.first().map(Series::float))
    }

    /// Each of `names`' highest value over the last `range` (`10m`) in the series `matchers`
    /// picks (`testid="x",scenario="y"`), `None` where it has none: a run's signals read after
    /// its staleness markers made them absent now.
    pub async fn peaks(
        &self,
        names: &[&str],
        matchers: &str,
        range: &str,
    ) -> Result<Vec<(String, Option<f64>)>, HarnessError> {
        let mut peaks = Vec::with_capacity(names.len());
        for name in names {
            let q = format!("max(max_over_time({name}{{{matchers}}}[{range}]))");
            peaks.push((name.to_string(), self.scalar(&q).await?));
        }
        Ok(peaks)
    }

    /// The whole JSON answer of `GET /api/v1/{path}` with `params` (`alerts`, `series`,
    /// `rules`...: the endpoints that do not return a query result); not checked for
    /// `status`, so a test can assert on errors too.
    pub async fn api(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<serde_json::Value, HarnessError> {
        let url = format!("{}/api/v1/{path}", self.base_url);
        json(self.http.get(url).query(params)).await
    }

    /// Polls `q` until `ok` accepts its result or `limit` passes; returns the last result.
    pub async fn wait_for(
        &self,
        q: &str,
        limit: Duration,
        ok: impl Fn(&[Series]) -> bool,
    ) -> Result<Vec<Series>, HarnessError> {
        let deadline = Instant::now() + limit;
        loop {
            let r = self.query(q).await?;
            if ok(&r) || Instant::now() >= deadline {
                return Ok(r);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn call(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<Series>, HarnessError> {
        let url = format!("{}/api/v1/{path}", self.base_url);
        let resp: ApiResponse = json(self.http.post(url).form(params)).await?;
        let query = params[0].1.clone();
        if resp.status != "success" {
            return Err(HarnessError::Query {
                query,
                message: resp.error.unwrap_or_default(),
            });
        }
        let result = resp.data.map(|d| d.result).unwrap_or_default();
        match result {
            serde_json::Value::Array(_) => {
                serde_json::from_value(result).map_err(|e| HarnessError::Query {
                    query,
                    message: e.to_string(),
                })
            }
            other => Ok(vec![Series {
                metric: Default::default(),
                value: serde_json::from_value(other).ok(),
                histogram: None,
                values: Vec::new(),
                histograms: Vec::new(),
            }]),
        }
    }
}
