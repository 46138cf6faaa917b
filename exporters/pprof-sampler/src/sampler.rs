//! The work loop: every `--interval`, fetch each target's heap profile (and goroutine
//! count), turn it into gauges, archive the raw bytes. One central ticker rather than a
//! timer per target so that the target set can change between ticks (pods come and go)
//! and so that "no overlap" is one flag per target: a tick that finds the previous fetch
//! still running counts `result="skipped"` instead of piling up requests on a slow pod.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::archive::Archive;
use crate::metrics::{Metrics, OnlyPod, PodLabels, ReasonLabels, ResultLabels, TopLabels};
use crate::profile::{self, Parser, ProfileError, Summary};

/// One endpoint to sample.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// `pod` label: the pod name, or `host:port` for a static URL.
    pub pod: String,
    pub container: String,
    pub heap_url: String,
    pub goroutine_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SamplerSettings {
    pub interval: Duration,
    pub timeout: Duration,
    pub gc_every: u64,
    pub top: usize,
    pub max_body_bytes: u64,
    /// Used in archive file names.
    pub testid: String,
}

/// Why a fetch failed; the `reason` label of `redline_pprof_sample_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    Connect,
    Request,
    HttpStatus,
    TooLarge,
    Gzip,
    Decode,
    NotHeap,
    Goroutine,
    Archive,
}

impl Failure {
    pub fn reason(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Connect => "connect",
            Failure::Request => "request",
            Failure::HttpStatus => "http_status",
            Failure::TooLarge => "too_large",
            Failure::Gzip => "gzip",
            Failure::Decode => "decode",
            Failure::NotHeap => "not_heap",
            Failure::Goroutine => "goroutine",
            Failure::Archive => "archive",
        }
    }

    fn of_profile(e: &ProfileError) -> Self {
        match e {
            ProfileError::Gzip(_) => Failure::Gzip,
            ProfileError::TooLarge => Failure::TooLarge,
            ProfileError::NoSampleType(..) => Failure::NotHeap,
            ProfileError::Decode(_) | ProfileError::Malformed(_) | ProfileError::Dangling(..) => {
                Failure::Decode
            }
        }
    }
}

struct Shared {
    settings: SamplerSettings,
    client: reqwest::Client,
    metrics: Metrics,
    archive: Option<Arc<Mutex<Archive>>>,
}

/// Per-target state shared with its in-flight fetch.
struct Slot {
    target: Target,
    busy: Arc<AtomicBool>,
    /// Cleared when the target leaves, so a fetch finishing afterwards removes the
    /// gauges it just set instead of leaving a gone pod's values behind.
    alive: Arc<AtomicBool>,
    top_labels: Arc<Mutex<Vec<TopLabels>>>,
    samples: u64,
}

pub struct Sampler {
    shared: Arc<Shared>,
}

impl Sampler {
    pub fn new(
        settings: SamplerSettings,
        metrics: Metrics,
        archive: Option<Archive>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            // Pod IPs and localhost: an HTTP(S)_PROXY from the environment would be wrong.
            .no_proxy()
            .connect_timeout(settings.timeout)
            .pool_max_idle_per_host(1)
            .build()?;
        if let Some(a) = &archive {
            metrics.archive_files.set(a.files() as i64);
            metrics.archive_bytes.set(a.bytes() as i64);
        }
        Ok(Sampler {
            shared: Arc::new(Shared {
                settings,
                client,
                metrics,
                archive: archive.map(|a| Arc::new(Mutex::new(a))),
            }),
        })
    }

    /// Samples the current targets every interval until `stop` is cancelled. In-flight
    /// fetches are bounded by the timeout and aborted on stop.
    pub async fn run(&self, mut targets: watch::Receiver<Vec<Target>>, stop: CancellationToken) {
        let shared = &self.shared;
        let mut slots: HashMap<String, Slot> = HashMap::new();
        let mut tasks = JoinSet::new();
        let mut tick = tokio::time::interval(shared.settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                // Reap finished fetches between ticks so the set stays bounded by targets.
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                _ = tick.tick() => {}
            }
            self.reconcile(&mut slots, &targets.borrow_and_update());
            for slot in slots.values_mut() {
                if slot.busy.swap(true, Ordering::AcqRel) {
                    shared
                        .metrics
                        .samples
                        .get_or_create(&ResultLabels {
                            pod: slot.target.pod.clone(),
                            result: "skipped".into(),
                        })
                        .inc();
                    continue;
                }
                slot.samples += 1;
                let gc = shared.settings.gc_every > 0
                    && slot.samples.is_multiple_of(shared.settings.gc_every);
                let job = Job {
                    shared: shared.clone(),
                    target: slot.target.clone(),
                    busy: slot.busy.clone(),
                    alive: slot.alive.clone(),
                    top_labels: slot.top_labels.clone(),
                    gc,
                };
                tasks.spawn(job.run());
            }
        }
        tasks.shutdown().await;
    }

    fn reconcile(&self, slots: &mut HashMap<String, Slot>, targets: &[Target]) {
        let m = &self.shared.metrics;
        slots.retain(|pod, slot| {
            let keep = targets.iter().any(|t| t.pod == *pod && *t == slot.target);
            if !keep {
                slot.alive.store(false, Ordering::SeqCst);
                let top = slot.top_labels.lock().expect("poisoned").clone();
                m.forget_pod(&slot.target.pod, &slot.target.container, &top);
                tracing::info!(pod, "target gone");
            }
            keep
        });
        for t in targets {
            if !slots.contains_key(&t.pod) {
                tracing::info!(pod = t.pod, url = t.heap_url, "new target");
                slots.insert(
                    t.pod.clone(),
                    Slot {
                        target: t.clone(),
                        busy: Arc::new(AtomicBool::new(false)),
                        alive: Arc::new(AtomicBool::new(true)),
                        top_labels: Arc::new(Mutex::new(Vec::new())),
                        samples: 0,
                    },
                );
            }
        }
        m.targets.set(slots.len() as i64);
    }
}

struct Job {
    shared: Arc<Shared>,
    target: Target,
    busy: Arc<AtomicBool>,
    alive: Arc<AtomicBool>,
    top_labels: Arc<Mutex<Vec<TopLabels>>>,
    gc: bool,
}

impl Job {
    async fn run(self) {
        let m = &self.shared.metrics;
        let pod = self.target.pod.clone();
        let start = Instant::now();
        let result = self.sample().await;
        m.sample_duration
            .get_or_create(&OnlyPod { pod: pod.clone() })
            .observe(start.elapsed().as_secs_f64());
        let outcome = match result {
            Ok(()) => "ok",
            Err(f) => {
                tracing::debug!(pod, reason = f.reason(), "sample failed");
                m.sample_errors
                    .get_or_create(&ReasonLabels {
                        pod: pod.clone(),
                        reason: f.reason().into(),
                    })
                    .inc();
                "error"
            }
        };
        m.samples
            .get_or_create(&ResultLabels {
                pod,
                result: outcome.into(),
            })
            .inc();
        if !self.alive.load(Ordering::SeqCst) {
            let top = self.top_labels.lock().expect("poisoned").clone();
            m.forget_pod(&self.target.pod, &self.target.container, &top);
        }
        self.busy.store(false, Ordering::Release);
    }

    async fn sample(&self) -> Result<(), Failure> {
        let s = &self.shared.settings;
        let m = &self.shared.metrics;
        let url = if self.gc {
            let sep = if self.target.heap_url.contains('?') {
                '&'
            } else {
                '?'
            };
            format!("{}{sep}gc=1", self.target.heap_url)
        } else {
            self.target.heap_url.clone()
        };
        let body = fetch(&self.shared.client, &url, s.timeout, s.max_body_bytes).await?;
        if self.gc {
            m.gc_samples
                .get_or_create(&OnlyPod {
                    pod: self.target.pod.clone(),
                })
                .inc();
        }
        // A new parser each time: keeping one per worker thread for its buffers measured no
        // faster (the allocator hands the freed megabyte straight back).
        let summary = Parser::new()
            .read(&body)
            .and_then(|p| p.summary("inuse_space", s.top))
            .map_err(|e| Failure::of_profile(&e))?;
        self.record(summary);

        // The archive keeps what was served, byte for byte, for `go tool pprof`.
        let mut failure = None;
        if let Some(archive) = &self.shared.archive {
            let archive = archive.clone();
            let testid = s.testid.clone();
            let pod = self.target.pod.clone();
            let unix = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let saved = tokio::task::spawn_blocking(move || {
                let mut a = archive.lock().expect("poisoned");
                let before = a.removed();
                let r = a.save(&testid, unix, &pod, &body);
                (r, a.files(), a.bytes(), a.removed() - before)
            })
            .await;
            match saved {
                Ok((r, files, bytes, removed)) => {
                    m.archive_files.set(files as i64);
                    m.archive_bytes.set(bytes as i64);
                    m.archive_removed.inc_by(removed);
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "archive");
                        failure = Some(Failure::Archive);
                    }
                }
                Err(_) => failure = Some(Failure::Archive),
            }
        }

        if let Some(g) = &self.target.goroutine_url {
            match fetch(&self.shared.client, g, s.timeout, s.max_body_bytes).await {
                Ok(text) => match profile::parse_goroutine_total(&String::from_utf8_lossy(&text)) {
                    Some(n) => {
                        m.goroutines.get_or_create(&self.pod_labels()).set(n as i64);
                    }
                    None => failure = failure.or(Some(Failure::Goroutine)),
                },
                Err(_) => failure = failure.or(Some(Failure::Goroutine)),
            }
        }
        failure.map_or(Ok(()), Err)
    }

    fn pod_labels(&self) -> PodLabels {
        PodLabels {
            pod: self.target.pod.clone(),
            container: self.target.container.clone(),
        }
    }

    /// Totals into gauges, then the top-N functions by flat and cum in-use bytes; series of
    /// functions that dropped out of the top N are removed, which keeps the label set at
    /// 2×N per pod however the heap changes.
    fn record(&self, summary: Summary) {
        let m = &self.shared.metrics;
        let l = self.pod_labels();
        for t in summary.totals {
            let family = match t.sample_type.as_str() {
                "inuse_space" => &m.heap_inuse_bytes,
                "inuse_objects" => &m.heap_inuse_objects,
                "alloc_space" => &m.heap_alloc_bytes,
                "alloc_objects" => &m.heap_alloc_objects,
                _ => continue,
            };
            family.get_or_create(&l).set(t.total);
        }
        let mut fresh = Vec::with_capacity(summary.top_flat.len() + summary.top_cum.len());
        for (top, kind) in [(summary.top_flat, "flat"), (summary.top_cum, "cum")] {
            for (i, f) in top.into_iter().enumerate() {
                let value = if kind == "flat" { f.flat } else { f.cum };
                let labels = TopLabels {
                    pod: l.pod.clone(),
                    function: f.name,
                    rank: (i + 1).to_string(),
                    kind: kind.into(),
                };
                m.top_inuse_bytes.get_or_create(&labels).set(value);
                fresh.push(labels);
            }
        }
        let mut prev = self.top_labels.lock().expect("poisoned");
        for old in prev.iter().filter(|o| !fresh.contains(o)) {
            m.top_inuse_bytes.remove(old);
        }
        *prev = fresh;
    }
}

/// GET with an overall deadline (connect + headers + body) and a body cap.
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    max_body: u64,
) -> Result<Vec<u8>, Failure> {
    let classify = |e: reqwest::Error| {
        if e.is_timeout() {
            Failure::Timeout
        } else if e.is_connect() {
            Failure::Connect
        } else {
            Failure::Request
        }
    };
    let work = async {
        let mut resp = client.get(url).send().await.map_err(classify)?;
        if !resp.status().is_success() {
            return Err(Failure::HttpStatus);
        }
        let mut body =
            Vec::with_capacity(resp.content_length().unwrap_or(0).min(max_body) as usize);
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if body.len() as u64 + chunk.len() as u64 > max_body {
                return Err(Failure::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(Failure::Timeout))
}
