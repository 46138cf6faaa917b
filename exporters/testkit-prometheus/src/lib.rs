//! A real Prometheus for tests: Debian's `prometheus` binary, started on a free
//! loopback port in a temp dir with the remote-write receiver and native histograms
//! enabled, killed when dropped.
//!
//! Tests that push, alert or query go through this and never through a mock, so
//! what they assert is what a user's Prometheus would store.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("cannot start {binary}: {source} (install Debian's `prometheus` package)")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error("prometheus did not become ready within {0:?}; its log:\n{1}")]
    NotReady(Duration, String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("query {query:?} failed: {message}")]
    Query { query: String, message: String },
}

/// How to start Prometheus.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rule files to load (copied into the config's `rule_files`).
    pub rule_files: Vec<PathBuf>,
    /// `global.evaluation_interval`; short so alert tests run fast.
    pub evaluation_interval: Duration,
    /// Extra scrape configs as raw YAML list items (each starting with `- job_name:`).
    pub scrape_configs: Vec<String>,
    /// Alertmanager-free lookback; Prometheus' default is 5m.
    pub lookback_delta: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rule_files: Vec::new(),
            evaluation_interval: Duration::from_secs(1),
            scrape_configs: Vec::new(),
            lookback_delta: None,
        }
    }
}

/// A running Prometheus. Dropping it kills the process and removes its data.
pub struct Prometheus {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    http: reqwest::Client,
    options: Options,
}

/// One series of an instant-query result.
#[derive(Debug, Clone, Deserialize)]
pub struct Series {
    pub metric: std::collections::BTreeMap<String, String>,
    /// `[unix_seconds, "value"]` for floats.
    #[serde(default)]
    pub value: Option<(f64, String)>,
    /// `[unix_seconds, {count, sum, buckets}]` for native histograms.
    #[serde(default)]
    pub histogram: Option<(f64, serde_json::Value)>,
    /// Range queries.
    #[serde(default)]
    pub values: Vec<(f64, String)>,
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

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Prometheus {
    /// Starts Prometheus with default options.
    pub async fn start() -> Result<Self, HarnessError> {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Result<Self, HarnessError> {
        let dir = tempfile::Builder::new().prefix("redline-prom-").tempdir()?;
        let mut prom = Self {
            child: None,
            port: free_port()?,
            dir,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            options,
        };
        prom.write_config()?;
        prom.spawn().await?;
        Ok(prom)
    }

    fn write_config(&self) -> Result<(), HarnessError> {
        let mut cfg = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: {}ms\n",
            self.options.evaluation_interval.as_millis()
        );
        if !self.options.rule_files.is_empty() {
            cfg.push_str("rule_files:\n");
            for f in &self.options.rule_files {
                let abs = std::fs::canonicalize(f)?;
                cfg.push_str(&format!("  - {:?}\n", abs.display().to_string()));
            }
        }
        cfg.push_str("scrape_configs:\n");
        if self.options.scrape_configs.is_empty() {
            cfg.push_str("  []\n");
        }
        for sc in &self.options.scrape_configs {
            for line in sc.lines() {
                cfg.push_str("  ");
                cfg.push_str(line);
                cfg.push('\n');
            }
        }
        std::fs::write(self.dir.path().join("prometheus.yml"), cfg)?;
        Ok(())
    }

    async fn spawn(&mut self) -> Result<(), HarnessError> {
        let binary =
            std::env::var("REDLINE_PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".into());
        let log = std::fs::File::create(self.dir.path().join("prometheus.log"))?;
        let mut cmd = Command::new(&binary);
        cmd.arg(format!(
            "--config.file={}",
            self.dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            self.dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
        .arg("--web.enable-remote-write-receiver")
        .arg("--enable-feature=native-histograms")
        .arg("--web.enable-lifecycle")
        .arg("--log.level=warn");
        if let Some(lb) = self.options.lookback_delta {
            cmd.arg(format!("--query.lookback-delta={}ms", lb.as_millis()));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|source| HarnessError::Spawn { binary, source })?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(30)).await
    }

    async fn wait_ready(&self, limit: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(r) = self
                .http
                .get(format!("{}/-/ready", self.url()))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(HarnessError::NotReady(limit, self.log()))
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The remote-write receiver's URL.
    pub fn write_url(&self) -> String {
        format!("{}/api/v1/write", self.url())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Prometheus' own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Kills the process (SIGKILL) but keeps its data; the port goes dark.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same data, as after an outage.
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        self.stop();
        self.spawn().await
    }

    /// Instant query at the server's now.
    pub async fn query(&self, q: &str) -> Result<Vec<Series>, HarnessError> {
        self.api("query", &[("query", q.to_string())]).await
    }

    /// Instant query at a given Unix time (seconds).
    pub async fn query_at(&self, q: &str, time: f64) -> Result<Vec<Series>, HarnessError> {
        self.api(
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
        self.api(
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

    async fn api(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<Series>, HarnessError> {
        let resp: ApiResponse = self
            .http
            .post(format!("{}/api/v1/{path}", self.url()))
            .form(params)
            .send()
            .await?
            .json()
            .await?;
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
            }]),
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn starts_answers_and_restarts_on_the_same_port() {
        let mut p = Prometheus::start().await.expect("start");
        let up = p.query("vector(42)").await.unwrap();
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].float(), 42.0);
        let port = p.port();
        p.stop();
        assert!(
            p.query("vector(1)").await.is_err(),
            "stopped server answered"
        );
        p.restart().await.unwrap();
        assert_eq!(p.port(), port);
        assert_eq!(p.scalar("vector(7)").await.unwrap(), Some(7.0));
    }

    #[tokio::test]
    async fn bad_queries_are_errors_not_empty_results() {
        let p = Prometheus::start().await.unwrap();
        let e = p.query("sum(").await.unwrap_err();
        assert!(matches!(e, HarnessError::Query { .. }), "{e}");
    }
}
