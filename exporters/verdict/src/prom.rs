//! A small client for the Prometheus HTTP API: instant and range queries, and the rules list.
//! Errors name the URL without credentials and never carry the bearer token.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::args::VerdictArgs;
use crate::error::VerdictError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PromError {
    #[error("Prometheus at {url} is unreachable: {message}")]
    Unreachable { url: String, message: String },
    #[error("Prometheus at {url} answered HTTP {status} to {what}: {message}")]
    Status {
        url: String,
        status: u16,
        what: String,
        message: String,
    },
    #[error("Prometheus at {url} rejected {what}: {message}")]
    Api {
        url: String,
        what: String,
        message: String,
    },
}

/// One series of a query result: its labels and its float samples `(unix_seconds, value)`.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<(f64, f64)>,
}

impl Series {
    pub fn label(&self, key: &str) -> &str {
        self.labels.get(key).map(String::as_str).unwrap_or("")
    }
    pub fn last(&self) -> Option<f64> {
        self.samples.last().map(|s| s.1)
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<(f64, String)>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// `/api/v1/rules` as far as the verdict reads it.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct RulesData {
    #[serde(default)]
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RuleGroup {
    pub name: String,
    #[serde(default)]
    pub file: String,
    /// Evaluation interval in seconds.
    #[serde(default)]
    pub interval: f64,
    #[serde(default)]
    pub rules: Vec<ApiRule>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiRule {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub duration: f64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub health: String,
    #[serde(default, rename = "lastError")]
    pub last_error: String,
}

enum Request<'a> {
    Get(&'a [(&'a str, String)]),
    Post(&'a [(&'a str, String)]),
}

pub struct PromClient {
    http: reqwest::Client,
    base: String,
    /// The URL as shown in messages: no user info, no query.
    shown: String,
    token: Option<String>,
}

/// Strips credentials (`user:pass@`) and query strings from a URL before it is shown.
pub fn redact_url(raw: &str) -> String {
    match reqwest::Url::parse(raw) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => "<unparseable URL>".to_string(),
    }
}

impl PromClient {
    pub fn new(args: &VerdictArgs) -> Result<Self, VerdictError> {
        let token = match &args.bearer_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|source| VerdictError::TokenFile {
                        path: path.clone(),
                        source,
                    })?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        if reqwest::Url::parse(&args.prometheus).is_err() {
            return Err(VerdictError::BadArg {
                flag: "prometheus",
                value: redact_url(&args.prometheus),
                message: "not a URL; want e.g. http://127.0.0.1:9090".into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(args.timeout)
            .build()
            .map_err(|e| VerdictError::Client(e.without_url().to_string()))?;
        Ok(Self {
            http,
            base: args.prometheus.trim_end_matches('/').to_string(),
            shown: redact_url(&args.prometheus),
            token,
        })
    }

    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
        params: Request<'_>,
    ) -> Result<T, PromError> {
        let url = format!("{}/api/v1/{path}", self.base);
        // Queries are POSTed (long PromQL fits); endpoints that only take GET get a query string.
        let mut req = match params {
            Request::Post(f) => self.http.post(url).form(f),
            Request::Get(q) => self.http.get(url).query(q),
        };
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let unreachable = |e: reqwest::Error| PromError::Unreachable {
            url: self.shown.clone(),
            message: error_chain(&e.without_url()),
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(unreachable)?;
        let envelope: Result<Envelope<T>, _> = serde_json::from_slice(&body);
        match envelope {
            Ok(Envelope {
                status: s,
                data: Some(data),
                ..
            }) if s == "success" => Ok(data),
            Ok(env) => Err(PromError::Api {
                url: self.shown.clone(),
                what: what.to_string(),
                message: env
                    .error
                    .unwrap_or_else(|| format!("status {}", env.status)),
            }),
            Err(e) if status.is_success() => Err(PromError::Api {
                url: self.shown.clone(),
                what: what.to_string(),
                message: format!("unreadable answer: {e}"),
            }),
            Err(_) => Err(PromError::Status {
                url: self.shown.clone(),
                status: status.as_u16(),
                what: what.to_string(),
                message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            }),
        }
    }

    /// Instant query at `time` (Unix seconds).
    pub async fn query(&self, q: &str, time: f64) -> Result<Vec<Series>, PromError> {
        let form = [("query", q.to_string()), ("time", fmt_time(time))];
        let data: QueryData = self.call("query", q, Request::Post(&form)).await?;
        decode(data, &self.shown, q)
    }

    /// Range query; `step` in seconds (at least 1).
    pub async fn query_range(
        &self,
        q: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<Series>, PromError> {
        let [from, to] = span(start, end);
        let form = [
            ("query", q.to_string()),
            from,
            to,
            ("step", format!("{}", step.max(1.0))),
        ];
        let data: QueryData = self.call("query_range", q, Request::Post(&form)).await?;
        decode(data, &self.shown, q)
    }

    /// Metric names that have series matching `selector` in `[start, end]`.
    pub async fn names(
        &self,
        selector: &str,
        start: f64,
        end: f64,
    ) -> Result<Vec<String>, PromError> {
        let [from, to] = span(start, end);
        let form = [("match[]", selector.to_string()), from, to];
        let what = format!("metric names of {selector}");
        self.call("label/__name__/values", &what, Request::Get(&form))
            .await
    }

    pub async fn rules(&self) -> Result<RulesData, PromError> {
        self.call("rules", "/api/v1/rules", Request::Get(&[])).await
    }
}

fn fmt_time(t: f64) -> String {
    format!("{t:.3}")
}

/// The `start`/`end` pair of a range call; an end before the start is clamped so that a
/// run which ended as it began still asks a valid question.
fn span(start: f64, end: f64) -> [(&'static str, String); 2] {
    [
        ("start", fmt_time(start)),
        ("end", fmt_time(end.max(start))),
    ]
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn decode(data: QueryData, url: &str, q: &str) -> Result<Vec<Series>, PromError> {
    let api = |message: String| PromError::Api {
        url: url.to_string(),
        what: q.to_string(),
        message,
    };
    match data.result_type.as_str() {
        "vector" | "matrix" => {
            let raw: Vec<RawSeries> =
                serde_json::from_value(data.result).map_err(|e| api(e.to_string()))?;
            Ok(raw
                .into_iter()
                .map(|r| Series {
                    labels: r.metric,
                    samples: r
                        .value
                        .into_iter()
                        .chain(r.values)
                        .filter_map(|(t, v)| Some((t, parse_value(&v)?)))
                        .collect(),
                })
                .collect())
        }
        "scalar" => {
            let (t, v): (f64, String) =
                serde_json::from_value(data.result).map_err(|e| api(e.to_string()))?;
            Ok(vec![Series {
                labels: BTreeMap::new(),
                samples: parse_value(&v).map(|v| (t, v)).into_iter().collect(),
            }])
        }
        other => Err(api(format!("unexpected result type {other}"))),
    }
}

/// Prometheus writes floats as strings, including "NaN", "+Inf" and "-Inf".
fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => v.parse().ok(),
    }
}

/// A PromQL string literal for a label value.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_shown_without_credentials() {
        assert_eq!(
            redact_url("http://alice:s3cret@prom.example:9090/?token=x"),
            "http://prom.example:9090"
        );
        assert!(!redact_url("https://u:pw@h/").contains("pw"));
    }

    #[test]
    fn label_values_are_quoted_safely() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn values_parse_like_prometheus_writes_them() {
        assert_eq!(parse_value("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_value("-Inf"), Some(f64::NEG_INFINITY));
        assert!(parse_value("NaN").unwrap().is_nan());
        assert_eq!(parse_value("0.25"), Some(0.25));
        assert_eq!(parse_value("x"), None);
    }
}
