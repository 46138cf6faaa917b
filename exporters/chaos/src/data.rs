//! The data check: a writer that keeps writing unique values through a request template
//! while faults happen, and a verifier that reads every acknowledged write back after
//! recovery. A write counts as acknowledged only on a 2xx; a read that answers 404 or a
//! different value is a lost write. Reads that cannot be answered at all are "unverified",
//! never lost: an unreachable service is the prober's finding, not the data check's.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use prometheus_client::metrics::counter::Counter;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Reads in flight while verifying.
const VERIFY_CONCURRENCY: usize = 8;
/// Attempts per read before it is reported as unverified.
const READ_ATTEMPTS: u32 = 3;

/// `METHOD URL` with `{seq}` (the write's sequence number) and `{run}` (this run's id)
/// placeholders, e.g. `PUT http://app/kv/{run}-{seq}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTemplate {
    pub method: reqwest::Method,
    pub url: String,
}

impl FromStr for RequestTemplate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (method, url) = s.trim().split_once(char::is_whitespace).ok_or_else(|| {
            format!("{s:?}: expected 'METHOD URL', e.g. 'PUT http://app/kv/{{seq}}'")
        })?;
        let method = reqwest::Method::from_str(&method.to_ascii_uppercase())
            .map_err(|_| format!("{s:?}: {method:?} is not an HTTP method"))?;
        let url = url.trim().to_string();
        if !url.contains("{seq}") {
            return Err(format!(
                "{s:?}: the URL needs a {{seq}} placeholder so every write has its own key"
            ));
        }
        reqwest::Url::parse(&url.replace("{seq}", "0").replace("{run}", "r"))
            .map_err(|e| format!("{s:?}: {e}"))?;
        Ok(Self { method, url })
    }
}

impl RequestTemplate {
    fn url_for(&self, run: &str, seq: u64) -> String {
        self.url
            .replace("{seq}", &seq.to_string())
            .replace("{run}", run)
    }
}

#[derive(Debug, Clone)]
pub struct DataConfig {
    pub write: RequestTemplate,
    pub read: RequestTemplate,
    pub interval: Duration,
    pub timeout: Duration,
    /// The writer stops after this many acknowledged writes (bounds the verification).
    pub max_writes: u64,
    /// Makes keys and values unique to this run.
    pub run_id: String,
}

/// What one verification found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verification {
    /// Acknowledged writes read back this time.
    pub checked: u64,
    /// Acknowledged writes found missing or changed for the first time.
    pub newly_lost: u64,
    /// Reads that got no answer after retries.
    pub unverified: u64,
}

#[derive(Default)]
struct Book {
    /// seq -> value, for every acknowledged write.
    acked: BTreeMap<u64, String>,
    lost: BTreeSet<u64>,
    attempted: u64,
}

/// A running writer plus the verifier over what it wrote.
#[derive(Clone)]
pub struct DataHandle {
    cfg: Arc<DataConfig>,
    client: reqwest::Client,
    book: Arc<Mutex<Book>>,
    lost_metric: Counter,
}

impl DataHandle {
    pub fn acknowledged(&self) -> u64 {
        self.book().acked.len() as u64
    }

    pub fn attempted(&self) -> u64 {
        self.book().attempted
    }

    pub fn lost(&self) -> u64 {
        self.book().lost.len() as u64
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads back every acknowledged write not already known lost. Each write is
    /// re-checked every time: a write that survived one fault may not survive the next.
    pub async fn verify(&self) -> Verification {
        let todo: Vec<(u64, String)> = {
            let b = self.book();
            b.acked
                .iter()
                .filter(|(seq, _)| !b.lost.contains(seq))
                .map(|(s, v)| (*s, v.clone()))
                .collect()
        };
        let mut reads = futures::stream::iter(todo)
            .map(|(seq, want)| async move { (seq, self.read_back(seq, &want).await) })
            .buffer_unordered(VERIFY_CONCURRENCY);
        let mut v = Verification::default();
        while let Some((seq, outcome)) = reads.next().await {
            match outcome {
                ReadBack::Same => v.checked += 1,
                ReadBack::Lost => {
                    v.checked += 1;
                    if self.book().lost.insert(seq) {
                        v.newly_lost += 1;
                        self.lost_metric.inc();
                    }
                }
                ReadBack::NoAnswer => v.unverified += 1,
            }
        }
        if v.newly_lost > 0 {
            tracing::warn!(
                lost = v.newly_lost,
                checked = v.checked,
                "acknowledged writes lost"
            );
        }
        v
    }

    async fn read_back(&self, seq: u64, want: &str) -> ReadBack {
        let url = self.cfg.read.url_for(&self.cfg.run_id, seq);
        for attempt in 0..READ_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            let resp = self
                .client
                .request(self.cfg.read.method.clone(), &url)
                .send()
                .await;
            let Ok(resp) = resp else { continue };
            let status = resp.status();
            if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
                return ReadBack::Lost;
            }
            if !status.is_success() {
                continue;
            }
            return match resp.bytes().await {
                Ok(body) if body.as_ref() == want.as_bytes() => ReadBack::Same,
                Ok(_) => ReadBack::Lost,
                Err(_) => continue,
            };
        }
        ReadBack::NoAnswer
    }
}

enum ReadBack {
    Same,
    Lost,
    NoAnswer,
}

/// Starts the writer; it stops at `cancel` or after `max_writes` acknowledged writes.
pub fn spawn(
    cfg: DataConfig,
    lost_metric: Counter,
    cancel: CancellationToken,
) -> Result<DataHandle, reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout)
        .pool_max_idle_per_host(0)
        .build()?;
    let handle = DataHandle {
        cfg: Arc::new(cfg),
        client,
        book: Arc::default(),
        lost_metric,
    };
    tokio::spawn(write_loop(handle.clone(), cancel));
    Ok(handle)
}

async fn write_loop(h: DataHandle, cancel: CancellationToken) {
    let mut ticks = tokio::time::interval(h.cfg.interval.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seq = 0u64;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if h.acknowledged() >= h.cfg.max_writes {
            tracing::info!(
                writes = h.cfg.max_writes,
                "data check: write budget reached; writer stops"
            );
            return;
        }
        let value = format!("{}-{seq}", h.cfg.run_id);
        let url = h.cfg.write.url_for(&h.cfg.run_id, seq);
        let started = Instant::now();
        let resp = h
            .client
            .request(h.cfg.write.method.clone(), &url)
            .body(value.clone())
            .send()
            .await;
        let acked = matches!(&resp, Ok(r) if r.status().is_success());
        {
            let mut b = h.book();
            b.attempted += 1;
            if acked {
                b.acked.insert(seq, value);
            }
        }
        tracing::trace!(
            seq,
            acked,
            ms = started.elapsed().as_millis() as u64,
            "data write"
        );
        seq += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_fill() {
        let t: RequestTemplate = "put http://app/kv/{run}-{seq}".parse().unwrap();
        assert_eq!(t.method, reqwest::Method::PUT);
        assert_eq!(t.url_for("r1", 7), "http://app/kv/r1-7");
        assert!("PUT http://app/kv/x".parse::<RequestTemplate>().is_err());
        assert!("http://app/kv/{seq}".parse::<RequestTemplate>().is_err());
        assert!("PUT not a url {seq}".parse::<RequestTemplate>().is_err());
    }

    #[tokio::test]
    async fn in_process_target_keeps_every_acknowledged_write() {
        let target = redline_demo_target::spawn(redline_demo_target::TargetArgs::ephemeral())
            .await
            .unwrap();
        let cancel = CancellationToken::new();
        let lost = Counter::default();
        let h = spawn(
            DataConfig {
                write: format!("PUT {}/kv/{{run}}/{{seq}}", target.url())
                    .parse()
                    .unwrap(),
                read: format!("GET {}/kv/{{run}}/{{seq}}", target.url())
                    .parse()
                    .unwrap(),
                interval: Duration::from_millis(5),
                timeout: Duration::from_secs(2),
                max_writes: 20,
                run_id: "unit".into(),
            },
            lost.clone(),
            cancel.clone(),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while h.acknowledged() < 20 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(h.acknowledged(), 20, "the writer stops at its budget");
        let v = h.verify().await;
        assert_eq!(
            v,
            Verification {
                checked: 20,
                newly_lost: 0,
                unverified: 0
            }
        );
        cancel.cancel();
        target.shutdown().await.unwrap();
        assert_eq!(lost.get(), 0);
    }
}
