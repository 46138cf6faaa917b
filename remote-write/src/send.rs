//! One HTTP request to the receiver, and what to do about its answer: the
//! [`Transport`] every shard sends through.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::config::{Auth, Config};
use crate::error::Error;
use crate::protocol::Wire;
use crate::transport::{Outcome, Transport, Written};

const SAMPLES_WRITTEN: &str = "x-prometheus-remote-write-samples-written";
const HISTOGRAMS_WRITTEN: &str = "x-prometheus-remote-write-histograms-written";
const EXEMPLARS_WRITTEN: &str = "x-prometheus-remote-write-exemplars-written";

pub(crate) struct Sender {
    client: reqwest::Client,
    url: String,
    auth: Auth,
    token_cache: Mutex<Option<(SystemTime, String)>>,
    logged_causes: Mutex<HashSet<String>>,
}

impl Sender {
    pub(crate) fn new(cfg: &Config) -> Result<Self, Error> {
        // Content type and protocol version go on each request: they follow the protocol.
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
        for (k, v) in &cfg.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| Error::Config(format!("header name {k:?} is not valid")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| Error::Config(format!("header {k}: value is not valid")))?;
            headers.insert(name, value);
        }
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(cfg.user_agent.clone())
            .timeout(cfg.request_timeout)
            .pool_idle_timeout(Duration::from_secs(30));
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| Error::Config(format!("CA file {}: {e}", ca.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                Error::Config(format!(
                    "CA file {}: not a PEM certificate: {e}",
                    ca.display()
                ))
            })?;
            builder = builder.add_root_certificate(cert);
        }
        if cfg.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        if let Auth::BearerFile(p) = &cfg.auth {
            // Fail at start, not at the first push, when the file is missing.
            std::fs::metadata(p)
                .map_err(|e| Error::Config(format!("bearer token file {}: {e}", p.display())))?;
        }
        Ok(Self {
            client: builder
                .build()
                .map_err(|e| Error::Config(format!("http client: {e}")))?,
            url: cfg.url.clone(),
            auth: cfg.auth.clone(),
            token_cache: Mutex::new(None),
            logged_causes: Mutex::new(HashSet::new()),
        })
    }

    fn bearer_from_file(&self, path: &std::path::Path) -> Result<String, String> {
        let modified = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_err(|e| format!("bearer token file {}: {e}", path.display()))?;
        let mut cache = self.token_cache.lock().expect("token cache poisoned");
        if let Some((m, t)) = cache.as_ref()
            && *m == modified
        {
            return Ok(t.clone());
        }
        let token = std::fs::read_to_string(path)
            .map_err(|e| format!("bearer token file {}: {e}", path.display()))?
            .trim()
            .to_string();
        *cache = Some((modified, token.clone()));
        Ok(token)
    }

    async fn post(&self, body: Bytes, wire: Wire) -> Outcome {
        let mut req = self
            .client
            .post(&self.url)
            .header(header::CONTENT_TYPE, wire.content_type())
            .header("x-prometheus-remote-write-version", wire.version_header())
            .body(body);
        match &self.auth {
            Auth::None => {}
            Auth::Bearer(t) => req = req.bearer_auth(t.expose()),
            Auth::BearerFile(p) => match self.bearer_from_file(p) {
                Ok(t) => req = req.bearer_auth(t),
                Err(cause) => {
                    return Outcome::Retry { after: None, cause };
                }
            },
            Auth::Basic { username, password } => {
                req = req.basic_auth(username, Some(password.expose()))
            }
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let kind = if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect"
                } else {
                    "request"
                };
                return Outcome::Retry {
                    after: None,
                    cause: format!("{kind} error: {}", error_chain(&e)),
                };
            }
        };
        let status = resp.status().as_u16();
        let written = written_of(resp.headers());
        if resp.status().is_success() {
            return written.map_or(Outcome::Sent, Outcome::Stored);
        }
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = resp.text().await.unwrap_or_default();
        outcome_of(
            status,
            retry_after,
            body.trim().chars().take(512).collect(),
            written,
        )
    }
}

/// The written-samples headers of a 2.0 answer; `None` when it has none of them (a 1.0
/// receiver). A header that is present but not a number counts as 0 stored.
fn written_of(headers: &HeaderMap) -> Option<Written> {
    let get = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().ok().and_then(|s| s.trim().parse().ok()))
    };
    let (s, h, e) = (
        get(SAMPLES_WRITTEN),
        get(HISTOGRAMS_WRITTEN),
        get(EXEMPLARS_WRITTEN),
    );
    if s.is_none() && h.is_none() && e.is_none() {
        return None;
    }
    Some(Written {
        samples: s.flatten().unwrap_or(0),
        histograms: h.flatten().unwrap_or(0),
        exemplars: e.flatten().unwrap_or(0),
    })
}

impl Transport for Sender {
    fn send(&self, body: Bytes, wire: Wire) -> impl std::future::Future<Output = Outcome> + Send {
        self.post(body, wire)
    }

    /// Logs a rejection once per distinct cause: a receiver rejecting every batch
    /// for the same reason must not flood the log, but each new reason must show.
    fn log_rejection_once(&self, status: u16, body: &str) {
        // The cause without numbers, so "sample 12 out of order" and "sample 13 out of
        // order" count as one.
        let cause: String = format!("{status} {body}")
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .take(200)
            .collect();
        let mut seen = self.logged_causes.lock().expect("poisoned");
        if seen.len() < 1_000 && seen.insert(cause) {
            tracing::warn!(status, body, url = %self.url, "remote-write rejected a batch; dropped it (not retried)");
        }
    }
}

/// What a non-2xx answer means for the batch. `Retry-After` is honoured on 429 only.
fn outcome_of(
    status: u16,
    retry_after: Option<Duration>,
    body: String,
    written: Option<Written>,
) -> Outcome {
    if status == 429 || (500..600).contains(&status) {
        Outcome::Retry {
            after: if status == 429 { retry_after } else { None },
            cause: format!("HTTP {status}: {body}"),
        }
    } else {
        Outcome::Reject {
            status,
            body,
            written,
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// `Retry-After` is either delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        let in_5s = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
        let d = parse_retry_after(&in_5s).unwrap();
        assert!(
            d <= Duration::from_secs(5) && d >= Duration::from_secs(3),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn server_errors_and_429_are_retried_other_answers_rejected() {
        let after = Some(Duration::from_secs(4));
        for status in [500, 502, 503, 504, 599] {
            assert_eq!(
                outcome_of(status, after, "busy".into(), None),
                Outcome::Retry {
                    after: None,
                    cause: format!("HTTP {status}: busy"),
                },
            );
        }
        assert_eq!(
            outcome_of(429, after, "slow down".into(), None),
            Outcome::Retry {
                after,
                cause: "HTTP 429: slow down".into(),
            },
            "Retry-After is honoured on 429"
        );
        for status in [400, 401, 403, 404, 409, 413, 300] {
            assert_eq!(
                outcome_of(status, after, "no".into(), None),
                Outcome::Reject {
                    status,
                    body: "no".into(),
                    written: None,
                },
            );
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_and_said_so() {
        // A port that was just free: nothing listens on it.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let sender = Sender::new(&Config::new(format!("http://{addr}/api/v1/write"))).unwrap();
        match sender.send(Bytes::from_static(b"x"), Wire::V1).await {
            Outcome::Retry { after: None, cause } => {
                assert!(cause.starts_with("connect error"), "{cause}")
            }
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn written_headers_are_read_and_their_absence_is_none() {
        let mut h = HeaderMap::new();
        assert_eq!(written_of(&h), None);
        h.insert(SAMPLES_WRITTEN, HeaderValue::from_static("12"));
        h.insert(EXEMPLARS_WRITTEN, HeaderValue::from_static(" 3 "));
        assert_eq!(
            written_of(&h),
            Some(Written {
                samples: 12,
                histograms: 0,
                exemplars: 3
            })
        );
        h.insert(HISTOGRAMS_WRITTEN, HeaderValue::from_static("lots"));
        assert_eq!(written_of(&h).unwrap().histograms, 0);
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let cfg = Config {
            auth: Auth::Basic {
                username: "u".into(),
                password: crate::config::Secret::new("hunter2"),
            },
            ..Config::new("http://x")
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }
}
