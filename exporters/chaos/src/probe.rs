//! The user-visible prober: an HTTP or TCP attempt every interval, and the interruption
//! tracker that turns attempts into outages.
//!
//! Attempts run concurrently (each bounded by the timeout) and are judged in the order
//! they started, at the instant they started. A blackholed attempt that waits for its
//! timeout therefore does not delay the next one, and the measured interruption keeps the
//! resolution of the interval rather than of the timeout.

use std::collections::VecDeque;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Closed interruptions kept per probe; older ones are only in the metrics.
const KEPT_INTERRUPTIONS: usize = 1024;

/// What a probe checks.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeTarget {
    /// A GET whose status must fall in `expect`.
    Http {
        url: reqwest::Url,
        expect: StatusRange,
    },
    /// A TCP connect (databases, caches).
    Tcp { addr: String },
}

/// `[name=]http(s)://...` or `[name=]tcp://host:port`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    /// The `probe` label: the given name, else the URL without credentials or query.
    pub name: String,
    pub target: ProbeTarget,
}

impl FromStr for ProbeSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (name, url) = match s.split_once('=') {
            Some((n, rest)) if !n.contains("://") && !n.is_empty() => {
                (Some(n.trim().to_string()), rest.trim())
            }
            _ => (None, s),
        };
        if let Some(addr) = url.strip_prefix("tcp://") {
            let addr = addr.trim_end_matches('/');
            if addr
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                return Err(format!("probe {url:?}: expected tcp://host:port"));
            }
            return Ok(Self {
                name: name.unwrap_or_else(|| format!("tcp://{addr}")),
                target: ProbeTarget::Tcp { addr: addr.into() },
            });
        }
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("probe {url:?}: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("probe {url:?}: scheme must be http, https or tcp"));
        }
        let label = name.unwrap_or_else(|| {
            // Never a label with credentials or query parameters (they may hold tokens).
            let host = parsed.host_str().unwrap_or_default();
            match parsed.port() {
                Some(p) => format!("{}://{host}:{p}{}", parsed.scheme(), parsed.path()),
                None => format!("{}://{host}{}", parsed.scheme(), parsed.path()),
            }
        });
        Ok(Self {
            name: label,
            target: ProbeTarget::Http {
                url: parsed,
                expect: StatusRange::default(),
            },
        })
    }
}

/// Inclusive range of HTTP statuses that count as success: `200`, `200-399`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRange {
    pub lo: u16,
    pub hi: u16,
}

impl Default for StatusRange {
    /// Redirects count as up: a login redirect (the seed's nginx answers 302) is a live site.
    fn default() -> Self {
        Self { lo: 200, hi: 399 }
    }
}

impl StatusRange {
    pub fn contains(&self, status: u16) -> bool {
        (self.lo..=self.hi).contains(&status)
    }
}

impl FromStr for StatusRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parse = |v: &str| {
            v.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| format!("{v:?} is not an HTTP status"))
        };
        let (lo, hi) = match s.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => {
                let c = parse(s)?;
                (c, c)
            }
        };
        if lo > hi {
            return Err(format!("status range {s:?} is empty"));
        }
        Ok(Self { lo, hi })
    }
}

/// Timing of every probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeConfig {
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive successes that end an interruption.
    pub successes: u32,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
            successes: 3,
        }
    }
}

/// One outage as the probe saw it: from the first failed attempt to the first good attempt
/// of the run of successes that ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interruption {
    pub start: Instant,
    pub end: Instant,
    /// Failed attempts inside it.
    pub failed: u64,
}

impl Interruption {
    pub fn length(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Up,
    Down {
        start: Instant,
        failed: u64,
        good_run: u32,
        first_good: Option<Instant>,
    },
}

/// The interruption state machine, fed attempts in the order they started.
#[derive(Debug)]
pub struct Tracker {
    successes: u32,
    state: State,
    closed: VecDeque<Interruption>,
    failures: u64,
    attempts: u64,
    /// Start of the newest attempt judged so far.
    last_attempt: Option<Instant>,
    last_ok: bool,
}

impl Tracker {
    pub fn new(successes: u32) -> Self {
        Self {
            successes: successes.max(1),
            state: State::Up,
            closed: VecDeque::new(),
            failures: 0,
            attempts: 0,
            last_attempt: None,
            last_ok: false,
        }
    }

    /// Judges one attempt; returns the interruption it closed, if any.
    pub fn record(&mut self, started: Instant, ok: bool) -> Option<Interruption> {
        self.attempts += 1;
        self.last_attempt = Some(started);
        self.last_ok = ok;
        if !ok {
            self.failures += 1;
        }
        match (&mut self.state, ok) {
            (State::Up, true) => None,
            (State::Up, false) => {
                self.state = State::Down {
                    start: started,
                    failed: 1,
                    good_run: 0,
                    first_good: None,
                };
                None
            }
            (
                State::Down {
                    failed,
                    good_run,
                    first_good,
                    ..
                },
                false,
            ) => {
                *failed += 1;
                *good_run = 0;
                *first_good = None;
                None
            }
            (
                State::Down {
                    start,
                    failed,
                    good_run,
                    first_good,
                },
                true,
            ) => {
                let first = *first_good.get_or_insert(started);
                *good_run += 1;
                if *good_run < self.successes {
                    return None;
                }
                let done = Interruption {
                    start: *start,
                    end: first,
                    failed: *failed,
                };
                self.state = State::Up;
                if self.closed.len() == KEPT_INTERRUPTIONS {
                    self.closed.pop_front();
                }
                self.closed.push_back(done);
                Some(done)
            }
        }
    }

    /// Up: no interruption is open.
    pub fn is_up(&self) -> bool {
        self.state == State::Up
    }

    /// Start of the open interruption, if one is open.
    pub fn down_since(&self) -> Option<Instant> {
        match self.state {
            State::Up => None,
            State::Down { start, .. } => Some(start),
        }
    }

    pub fn failures(&self) -> u64 {
        self.failures
    }

    pub fn attempts(&self) -> u64 {
        self.attempts
    }

    pub fn last_attempt(&self) -> Option<Instant> {
        self.last_attempt
    }

    /// Closed interruptions that started at or after `t0`.
    pub fn interruptions_since(&self, t0: Instant) -> Vec<Interruption> {
        self.closed
            .iter()
            .filter(|i| i.start >= t0)
            .copied()
            .collect()
    }
}

/// The metrics one probe updates (children of the `probe`-labelled families).
#[derive(Clone, Default)]
pub struct ProbeMetrics {
    pub up: Gauge,
    pub failures: Counter,
}

/// A running probe.
#[derive(Clone)]
pub struct ProbeHandle {
    name: String,
    tracker: Arc<Mutex<Tracker>>,
    judged: watch::Receiver<u64>,
}

impl ProbeHandle {
    pub fn name(&self) -> &str {
        &self.name
    }

    fn with<T>(&self, f: impl FnOnce(&Tracker) -> T) -> T {
        f(&self.tracker.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn is_up(&self) -> bool {
        self.with(Tracker::is_up)
    }

    pub fn failures(&self) -> u64 {
        self.with(Tracker::failures)
    }

    pub fn attempts(&self) -> u64 {
        self.with(Tracker::attempts)
    }

    pub fn down_since(&self) -> Option<Instant> {
        self.with(Tracker::down_since)
    }

    pub fn interruptions_since(&self, t0: Instant) -> Vec<Interruption> {
        self.with(|t| t.interruptions_since(t0))
    }

    /// Waits until the probe is up on evidence from attempts started at or after `after`;
    /// false if that does not happen within `timeout`.
    pub async fn settled(&self, after: Instant, timeout: Duration) -> bool {
        let mut rx = self.judged.clone();
        let deadline = Instant::now() + timeout;
        loop {
            let ok = self.with(|t| t.is_up() && t.last_attempt().is_some_and(|a| a >= after));
            if ok {
                return true;
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() { return self.is_up() },
                _ = tokio::time::sleep_until(deadline) => return false,
            }
        }
    }

    /// Waits until an interruption that started at or after `t0` has closed.
    pub async fn interrupted_and_recovered(
        &self,
        t0: Instant,
        timeout: Duration,
    ) -> Option<Interruption> {
        let mut rx = self.judged.clone();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.interruptions_since(t0).into_iter().next() {
                return Some(i);
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() { return None },
                _ = tokio::time::sleep_until(deadline) => return None,
            }
        }
    }
}

/// Starts probing until `cancel`.
pub fn spawn(
    spec: ProbeSpec,
    cfg: ProbeConfig,
    metrics: ProbeMetrics,
    cancel: CancellationToken,
) -> Result<ProbeHandle, reqwest::Error> {
    // A fresh connection per attempt: a pooled connection to a dead or partitioned peer
    // would fail for reasons a new user would not see, and one to a restarted peer would
    // hide the restart.
    let client = reqwest::Client::builder()
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout)
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let tracker = Arc::new(Mutex::new(Tracker::new(cfg.successes)));
    let (tx, rx) = watch::channel(0u64);
    let handle = ProbeHandle {
        name: spec.name.clone(),
        tracker: tracker.clone(),
        judged: rx,
    };
    tokio::spawn(probe_loop(spec, cfg, client, tracker, metrics, tx, cancel));
    Ok(handle)
}

async fn probe_loop(
    spec: ProbeSpec,
    cfg: ProbeConfig,
    client: reqwest::Client,
    tracker: Arc<Mutex<Tracker>>,
    metrics: ProbeMetrics,
    judged: watch::Sender<u64>,
    cancel: CancellationToken,
) {
    let interval = cfg.interval.max(Duration::from_millis(1));
    let max_in_flight = (cfg.timeout.as_nanos() / interval.as_nanos()) as usize + 2;
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut in_flight = FuturesOrdered::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => {
                if in_flight.len() >= max_in_flight {
                    continue;
                }
                let started = Instant::now();
                let attempt = attempt(&spec.target, &client, cfg.timeout);
                in_flight.push_back(async move { (started, attempt.await) });
            }
            Some((started, ok)) = in_flight.next(), if !in_flight.is_empty() => {
                let closed = tracker
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .record(started, ok);
                metrics.up.set(i64::from(ok));
                if !ok {
                    metrics.failures.inc();
                }
                if let Some(i) = closed {
                    tracing::info!(probe = %spec.name, seconds = i.length().as_secs_f64(),
                        failed = i.failed, "interruption over");
                }
                judged.send_modify(|n| *n += 1);
            }
        }
    }
}

async fn attempt(target: &ProbeTarget, client: &reqwest::Client, timeout: Duration) -> bool {
    match target {
        ProbeTarget::Http { url, expect } => {
            match tokio::time::timeout(timeout, client.get(url.clone()).send()).await {
                Ok(Ok(resp)) => expect.contains(resp.status().as_u16()),
                _ => false,
            }
        }
        ProbeTarget::Tcp { addr } => matches!(
            tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr.as_str())).await,
            Ok(Ok(_))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn interruption_runs_from_first_failure_to_first_good_of_the_closing_run() {
        let t = Instant::now();
        let mut tr = Tracker::new(3);
        assert_eq!(tr.record(at(t, 0), true), None);
        assert_eq!(tr.record(at(t, 100), false), None);
        assert_eq!(tr.record(at(t, 200), false), None);
        // A lone success does not end it: the next attempt fails again.
        assert_eq!(tr.record(at(t, 300), true), None);
        assert_eq!(tr.record(at(t, 400), false), None);
        assert_eq!(tr.record(at(t, 500), true), None);
        assert_eq!(tr.record(at(t, 600), true), None);
        assert!(!tr.is_up());
        let closed = tr
            .record(at(t, 700), true)
            .expect("third success closes it");
        assert_eq!(closed.start, at(t, 100));
        assert_eq!(closed.end, at(t, 500));
        assert_eq!(closed.length(), Duration::from_millis(400));
        assert_eq!(closed.failed, 3);
        assert!(tr.is_up());
        assert_eq!(tr.failures(), 3);
        assert_eq!(tr.interruptions_since(at(t, 101)), vec![]);
        assert_eq!(tr.interruptions_since(at(t, 100)), vec![closed]);
    }

    #[test]
    fn probe_specs_parse_and_labels_hide_credentials() {
        let p: ProbeSpec = "http://user:secret@app:8080/health?token=x"
            .parse()
            .unwrap();
        assert_eq!(p.name, "http://app:8080/health");
        let p: ProbeSpec = "db=tcp://postgres:5432".parse().unwrap();
        assert_eq!(p.name, "db");
        assert_eq!(
            p.target,
            ProbeTarget::Tcp {
                addr: "postgres:5432".into()
            }
        );
        assert!("tcp://postgres".parse::<ProbeSpec>().is_err());
        assert!("ftp://x".parse::<ProbeSpec>().is_err());
        assert_eq!(
            "204".parse::<StatusRange>().unwrap(),
            StatusRange { lo: 204, hi: 204 }
        );
        assert!("399-200".parse::<StatusRange>().is_err());
        assert!(StatusRange::default().contains(302));
        assert!(!StatusRange::default().contains(503));
    }

    #[tokio::test]
    async fn tcp_probe_sees_a_closed_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let target = ProbeTarget::Tcp { addr };
        let client = reqwest::Client::new();
        assert!(attempt(&target, &client, Duration::from_secs(1)).await);
        drop(listener);
        assert!(!attempt(&target, &client, Duration::from_secs(1)).await);
    }
}
