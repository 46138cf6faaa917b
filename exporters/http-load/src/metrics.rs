//! Measurement. The hot path records into a per-thread shard (an uncontended mutex only the
//! collector ever also takes): HDR histograms in µs plus counters, keyed by small label-set
//! indices. Collection merges the shards into a [`Snapshot`], from which the collector writes
//! k6's series (native + classic histograms, counters, rates, gauges) and the summary reads
//! its figures, so the two can never disagree.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, NativeHistogram, NativeHistogramBuckets, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use redline_catalogue::http_load as cat;

use crate::scenario::StatusRange;

/// µs, 1 µs .. 1 h; longer values are clamped (SSE streams of an hour are not latency).
const HIST_MAX_US: u64 = 3_600_000_000;

pub type Hist = Histogram<u64>;

fn hist(sigfig: u8) -> Hist {
    Histogram::new_with_bounds(1, HIST_MAX_US, sigfig).expect("static bounds")
}

/// Records, clamping instead of failing.
pub fn record(h: &mut Hist, us: u64) {
    let _ = h.record(us.min(HIST_MAX_US));
}

/// Names behind the indices used as keys.
#[derive(Debug, Default, Clone)]
pub struct Labels {
    pub scenarios: Vec<String>,
    /// Per scenario: step labels, and level/unit for `redline_step_level`.
    pub steps: Vec<Vec<StepLabel>>,
    pub requests: Vec<RequestLabel>,
    /// Per check: (scenario index, check name).
    pub checks: Vec<(u16, String)>,
    pub tiers: Vec<String>,
    /// Per scenario: its `tags` (k6's scenario tags), on every series of the scenario.
    /// Missing entries mean no tags.
    pub scenario_tags: Vec<Tags>,
    /// Per request id: the scenario's tags merged with the request's own (the request's win),
    /// on the series of that request. Missing entries mean no tags.
    pub request_tags: Vec<Tags>,
}

/// Extra labels from a scenario file's `tags`: validated keys, literal values, sorted by key.
pub type Tags = Vec<(String, String)>;

#[derive(Debug, Clone)]
pub struct StepLabel {
    pub label: String,
    pub level: f64,
    pub unit: &'static str,
}

#[derive(Debug, Clone)]
pub struct RequestLabel {
    pub scenario: u16,
    pub name: String,
    pub method: String,
}

/// Why a request got no response (`redline_http_request_errors_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ErrorReason {
    ConnectRefused,
    Timeout,
    Reset,
    Tls,
    Other,
}

impl ErrorReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::ConnectRefused => "connect_refused",
            ErrorReason::Timeout => "timeout",
            ErrorReason::Reset => "reset",
            ErrorReason::Tls => "tls",
            ErrorReason::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReqKey {
    pub req: u16,
    pub step: u16,
    pub tier: u16,
    pub status: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepKey {
    pub scenario: u16,
    pub step: u16,
}

#[derive(Debug, Clone)]
pub struct Timed {
    pub sum_us: u64,
    pub hist: Hist,
}

impl Timed {
    fn new(sigfig: u8) -> Self {
        Self {
            sum_us: 0,
            hist: hist(sigfig),
        }
    }
    /// Grows with the largest value recorded (a few KiB for µs-scale phases instead of the
    /// full 1 µs .. 1 h layout); it reallocates at most once per doubling of the maximum,
    /// never per request.
    fn auto(sigfig: u8) -> Self {
        Self {
            sum_us: 0,
            hist: Histogram::new(sigfig).expect("static sigfig"),
        }
    }
    pub fn record(&mut self, us: u64) {
        self.sum_us += us;
        record(&mut self.hist, us);
    }
    fn add(&mut self, o: &Timed) {
        self.sum_us += o.sum_us;
        let _ = self.hist.add(&o.hist);
    }
}

#[derive(Debug, Clone)]
pub struct StepCell {
    pub iterations: u64,
    pub dropped: u64,
    pub sent: u64,
    pub received: u64,
    pub iteration: Timed,
}

impl StepCell {
    fn new() -> Self {
        Self {
            iterations: 0,
            dropped: 0,
            sent: 0,
            received: 0,
            iteration: Timed::new(2),
        }
    }
    fn add(&mut self, o: &StepCell) {
        self.iterations += o.iterations;
        self.dropped += o.dropped;
        self.sent += o.sent;
        self.received += o.received;
        self.iteration.add(&o.iteration);
    }
}

/// k6's per-request phases, with the same key (labels) as the duration. Responses only: a
/// request that got none has no phases, like its missing status.
#[derive(Debug, Clone)]
pub struct Phases {
    pub blocked: Timed,
    pub sending: Timed,
    pub waiting: Timed,
    pub receiving: Timed,
    /// Once per new connection.
    pub connecting: Timed,
    /// Once per new https connection.
    pub tls: Timed,
}

impl Phases {
    fn new() -> Self {
        Self {
            blocked: Timed::auto(2),
            sending: Timed::auto(2),
            waiting: Timed::auto(2),
            receiving: Timed::auto(2),
            connecting: Timed::auto(2),
            tls: Timed::auto(2),
        }
    }
    /// Each phase's series family and k6 summary key, in the order of [`Phases::get`].
    pub const NAMES: [(&'static redline_catalogue::Metric, &'static str); 6] = [
        (&cat::HTTP_REQ_BLOCKED, "http_req_blocked"),
        (&cat::HTTP_REQ_CONNECTING, "http_req_connecting"),
        (&cat::HTTP_REQ_TLS_HANDSHAKING, "http_req_tls_handshaking"),
        (&cat::HTTP_REQ_SENDING, "http_req_sending"),
        (&cat::HTTP_REQ_WAITING, "http_req_waiting"),
        (&cat::HTTP_REQ_RECEIVING, "http_req_receiving"),
    ];
    pub fn get(&self, i: usize) -> &Timed {
        match i {
            0 => &self.blocked,
            1 => &self.connecting,
            2 => &self.tls,
            3 => &self.sending,
            4 => &self.waiting,
            _ => &self.receiving,
        }
    }
    fn add(&mut self, o: &Phases) {
        self.blocked.add(&o.blocked);
        self.sending.add(&o.sending);
        self.waiting.add(&o.waiting);
        self.receiving.add(&o.receiving);
        self.connecting.add(&o.connecting);
        self.tls.add(&o.tls);
    }
}

#[derive(Debug, Clone)]
pub struct LlmCell {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub ttft: Timed,
    pub itl: Timed,
    /// Output tokens per second ×1000 (HDR holds integers).
    pub tps_milli: Timed,
}

impl LlmCell {
    fn new() -> Self {
        Self {
            prompt_tokens: 0,
            completion_tokens: 0,
            ttft: Timed::new(2),
            itl: Timed::new(2),
            tps_milli: Timed::new(2),
        }
    }
    fn add(&mut self, o: &LlmCell) {
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.ttft.add(&o.ttft);
        self.itl.add(&o.itl);
        self.tps_milli.add(&o.tps_milli);
    }
}

/// Everything recorded, by key. A shard holds one thread's share; a snapshot the sum.
#[derive(Debug, Default, Clone)]
pub struct Shard {
    pub reqs: HashMap<ReqKey, (u64, Timed)>,
    /// Blocked, connecting, TLS, sending, waiting, receiving, with the same labels as the
    /// duration (as k6 tags them).
    pub phases: HashMap<ReqKey, Phases>,
    pub errors: HashMap<(u16, u16, ErrorReason), u64>,
    pub steps: HashMap<StepKey, StepCell>,
    /// (check, step) → (passes, fails).
    pub checks: HashMap<(u16, u16), (u64, u64)>,
    /// (scenario, step, tier).
    pub llm: HashMap<(u16, u16, u16), LlmCell>,
}

impl Shard {
    pub fn request(&mut self, key: ReqKey, duration_us: u64) {
        let e = self.reqs.entry(key).or_insert_with(|| (0, Timed::new(3)));
        e.0 += 1;
        e.1.record(duration_us);
    }
    pub fn phases(&mut self, key: ReqKey) -> &mut Phases {
        self.phases.entry(key).or_insert_with(Phases::new)
    }
    pub fn error(&mut self, req: u16, step: u16, reason: ErrorReason) {
        *self.errors.entry((req, step, reason)).or_default() += 1;
    }
    pub fn step(&mut self, key: StepKey) -> &mut StepCell {
        self.steps.entry(key).or_insert_with(StepCell::new)
    }
    pub fn check(&mut self, check: u16, step: u16, pass: bool) {
        let e = self.checks.entry((check, step)).or_default();
        if pass {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    pub fn llm(&mut self, scenario: u16, step: u16, tier: u16) -> &mut LlmCell {
        self.llm
            .entry((scenario, step, tier))
            .or_insert_with(LlmCell::new)
    }

    fn merge(&mut self, o: &Shard) {
        for (k, (n, t)) in &o.reqs {
            let e = self.reqs.entry(*k).or_insert_with(|| (0, Timed::new(3)));
            e.0 += n;
            e.1.add(t);
        }
        for (k, p) in &o.phases {
            self.phases.entry(*k).or_insert_with(Phases::new).add(p);
        }
        for (k, n) in &o.errors {
            *self.errors.entry(*k).or_default() += n;
        }
        for (k, c) in &o.steps {
            self.steps.entry(*k).or_insert_with(StepCell::new).add(c);
        }
        for (k, (p, f)) in &o.checks {
            let e = self.checks.entry(*k).or_default();
            e.0 += p;
            e.1 += f;
        }
        for (k, c) in &o.llm {
            self.llm.entry(*k).or_insert_with(LlmCell::new).add(c);
        }
    }
}

/// Live per-scenario state the engine sets and gauges read.
#[derive(Debug, Default)]
pub struct ScenarioGauges {
    /// Index of the running step, `usize::MAX` when none runs.
    pub step: AtomicUsize,
    pub vus: AtomicU64,
    pub vus_max: AtomicU64,
    /// f64 bits: iterations/s an arrival-rate executor is asked for right now.
    pub target_rate: AtomicU64,
}

impl ScenarioGauges {
    pub fn new() -> Self {
        let g = Self::default();
        g.step.store(usize::MAX, Ordering::Relaxed);
        g
    }
    pub fn set_rate(&self, r: f64) {
        self.target_rate.store(r.to_bits(), Ordering::Relaxed);
    }
    pub fn rate(&self) -> f64 {
        f64::from_bits(self.target_rate.load(Ordering::Relaxed))
    }
}

static NEXT_RECORDER: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static LOCAL: RefCell<Vec<(u64, Arc<Mutex<Shard>>)>> = const { RefCell::new(Vec::new()) };
}

/// What the engine records into and the runtime collects from.
#[derive(Debug)]
pub struct Metrics {
    id: u64,
    pub labels: Labels,
    shards: Mutex<Vec<Arc<Mutex<Shard>>>>,
    pub gauges: Vec<ScenarioGauges>,
    /// Which trend-stat gauges to write (`--trend-stats`).
    pub trend_stats: Vec<TrendStat>,
    expected: Vec<StatusRange>,
    pub started: AtomicBool,
}

impl Metrics {
    pub fn new(
        labels: Labels,
        expected: Option<Vec<StatusRange>>,
        trend_stats: Vec<TrendStat>,
    ) -> Self {
        let gauges = labels
            .scenarios
            .iter()
            .map(|_| ScenarioGauges::new())
            .collect();
        Self {
            id: NEXT_RECORDER.fetch_add(1, Ordering::Relaxed),
            labels,
            shards: Mutex::new(Vec::new()),
            gauges,
            trend_stats,
            expected: expected.unwrap_or_else(|| vec![StatusRange::Range([200, 399])]),
            started: AtomicBool::new(false),
        }
    }

    /// k6's `expected_response`: a response in the expected statuses (200..=399 by default).
    pub fn expected(&self, status: u16) -> bool {
        status != 0 && self.expected.iter().any(|r| r.contains(status))
    }

    /// Runs `f` on this thread's shard. Never held across an await.
    pub fn with<R>(&self, f: impl FnOnce(&mut Shard) -> R) -> R {
        LOCAL.with(|local| {
            let shard = {
                let mut local = local.borrow_mut();
                match local.iter().find(|(id, _)| *id == self.id) {
                    Some((_, s)) => Arc::clone(s),
                    None => {
                        // Shards of finished runs are only held here now: let them go.
                        local.retain(|(_, s)| Arc::strong_count(s) > 1);
                        let s = Arc::new(Mutex::new(Shard::default()));
                        self.shards.lock().expect("shard list").push(Arc::clone(&s));
                        local.push((self.id, Arc::clone(&s)));
                        s
                    }
                }
            };
            let mut g = shard.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut g)
        })
    }

    /// All shards merged.
    pub fn snapshot(&self) -> Shard {
        let shards: Vec<_> = self.shards.lock().expect("shard list").clone();
        let mut out = Shard::default();
        for s in shards {
            let g = s.lock().unwrap_or_else(|e| e.into_inner());
            out.merge(&g);
        }
        out
    }

    fn step_label(&self, scenario: u16, step: u16) -> &str {
        self.labels.steps[scenario as usize]
            .get(step as usize)
            .map_or("", |s| s.label.as_str())
    }

    fn scenario_tags(&self, scenario: u16) -> &[(String, String)] {
        self.labels
            .scenario_tags
            .get(scenario as usize)
            .map_or(&[], Vec::as_slice)
    }

    fn request_tags(&self, req: u16) -> &[(String, String)] {
        self.labels
            .request_tags
            .get(req as usize)
            .map_or(&[], Vec::as_slice)
    }
}

/// A k6 trend stat (`K6_PROMETHEUS_RW_TREND_STATS`): `p(95)`, `avg`, `min`, `max`, `med`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrendStat {
    Avg,
    Min,
    Max,
    Med,
    P(f64),
}

impl TrendStat {
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s.trim() {
            "avg" => TrendStat::Avg,
            "min" => TrendStat::Min,
            "max" => TrendStat::Max,
            "med" => TrendStat::Med,
            p => {
                let inner = p
                    .strip_prefix("p(")
                    .and_then(|x| x.strip_suffix(')'))
                    .ok_or_else(|| format!("trend stat {p:?}: use avg, min, max, med or p(N)"))?;
                let q: f64 = inner
                    .parse()
                    .map_err(|_| format!("trend stat {p:?}: N must be a number"))?;
                if !(0.0..=100.0).contains(&q) {
                    return Err(format!("trend stat {p:?}: N must be within 0..100"));
                }
                TrendStat::P(q)
            }
        })
    }

    /// k6's series suffix: `p(99.9)` → `p999`.
    pub fn suffix(self) -> String {
        match self {
            TrendStat::Avg => "avg".into(),
            TrendStat::Min => "min".into(),
            TrendStat::Max => "max".into(),
            TrendStat::Med => "med".into(),
            TrendStat::P(q) => format!("p{}", format!("{q}").replace('.', "")),
        }
    }

    /// The value in seconds, from a merged histogram and its exact sum.
    pub fn value(self, t: &Timed) -> f64 {
        let h = &t.hist;
        if h.is_empty() {
            return 0.0;
        }
        let us = match self {
            TrendStat::Avg => t.sum_us as f64 / h.len() as f64,
            TrendStat::Min => h.min() as f64,
            TrendStat::Max => h.max() as f64,
            TrendStat::Med => h.value_at_quantile(0.5) as f64,
            TrendStat::P(q) => h.value_at_quantile(q / 100.0) as f64,
        };
        us / 1e6
    }
}

/// Classic bucket bounds (s) for `k6_http_req_duration_seconds_bucket` and the other
/// histograms: dense around the seeds' thresholds (250 ms, 500 ms, 1 s, 5 s).
pub const CLASSIC_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0,
    1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0,
];

const NATIVE_SCHEMA: i32 = 3;
const ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39; // 2^-128, client_golang's default

/// An HDR histogram (µs, or milli-units with `scale`) as Prometheus histograms: classic
/// per-bucket counts and native schema-3 sparse buckets, built from the same counts.
pub struct Exported {
    pub sum: f64,
    pub count: u64,
    pub classic: Vec<(f64, u64)>,
    pub zero_count: u64,
    pub spans: Vec<(i32, u32)>,
    pub deltas: Vec<i64>,
}

pub fn export(t: &Timed, scale: f64) -> Exported {
    let mut classic: Vec<(f64, u64)> = CLASSIC_BOUNDS.iter().map(|b| (*b, 0)).collect();
    classic.push((f64::INFINITY, 0));
    let mut native: BTreeMap<i32, u64> = BTreeMap::new();
    let mut zero_count = 0;
    for v in t.hist.iter_recorded() {
        let n = v.count_at_value();
        let x = t.hist.median_equivalent(v.value_iterated_to()) as f64 * scale;
        let i = classic.partition_point(|(b, _)| *b < x);
        let last = classic.len() - 1;
        classic[i.min(last)].1 += n;
        if x <= ZERO_THRESHOLD {
            zero_count += n;
        } else {
            let idx = (x.log2() * f64::from(1 << NATIVE_SCHEMA)).ceil() as i32;
            *native.entry(idx).or_default() += n;
        }
    }
    let mut spans: Vec<(i32, u32)> = Vec::new();
    let mut deltas = Vec::new();
    let (mut prev_idx, mut prev_count) = (None::<i32>, 0i64);
    for (idx, n) in native {
        match prev_idx {
            Some(p) if idx == p + 1 => spans.last_mut().expect("open span").1 += 1,
            Some(p) => spans.push((idx - p - 1, 1)),
            None => spans.push((idx, 1)),
        }
        deltas.push(n as i64 - prev_count);
        prev_count = n as i64;
        prev_idx = Some(idx);
    }
    Exported {
        sum: t.sum_us as f64 * scale,
        count: t.hist.len(),
        classic,
        zero_count,
        spans,
        deltas,
    }
}

/// The collector: merges shards on each collection and writes every family.
#[derive(Debug)]
pub struct MetricsCollector(pub Arc<Metrics>);

type L<'a> = Vec<(&'a str, &'a str)>;

/// `l` with `tags` appended (tag keys never collide with built-in keys: see
/// `scenario::validate_tags`).
fn tagged<'a>(mut l: L<'a>, tags: &'a [(String, String)]) -> L<'a> {
    l.extend(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    l
}

fn counter(
    enc: &mut DescriptorEncoder,
    m: &redline_catalogue::Metric,
    rows: &[(L<'_>, f64)],
) -> Result<(), std::fmt::Error> {
    let mut d =
        enc.encode_descriptor(m.family_name(), m.family_help(), None, MetricType::Counter)?;
    for (l, v) in rows {
        d.encode_family(l)?
            .encode_counter::<NoLabelSet, _, f64>(v, None)?;
    }
    Ok(())
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(L<'_>, f64)],
) -> Result<(), std::fmt::Error> {
    let mut d = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (l, v) in rows {
        d.encode_family(l)?.encode_gauge(v)?;
    }
    Ok(())
}

fn histogram(
    enc: &mut DescriptorEncoder,
    m: &redline_catalogue::Metric,
    rows: &[(L<'_>, &Timed)],
    scale: f64,
) -> Result<(), std::fmt::Error> {
    let mut d = enc.encode_descriptor(
        m.family_name(),
        m.family_help(),
        None,
        MetricType::Histogram,
    )?;
    for (l, t) in rows {
        let e = export(t, scale);
        d.encode_family(l)?
            .encode_histogram_with_native::<NoLabelSet>(
                e.sum,
                e.count,
                &e.classic,
                None,
                NativeHistogram {
                    schema: NATIVE_SCHEMA,
                    zero_threshold: ZERO_THRESHOLD,
                    zero_count: e.zero_count,
                    negative: NativeHistogramBuckets {
                        spans: &[],
                        deltas: &[],
                    },
                    positive: NativeHistogramBuckets {
                        spans: &e.spans,
                        deltas: &e.deltas,
                    },
                    created: None,
                },
            )?;
    }
    Ok(())
}

impl Collector for MetricsCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = &*self.0;
        let snap = m.snapshot();
        m.encode_into(&mut enc, &snap)
    }
}

const US: f64 = 1e-6;

impl Metrics {
    fn encode_into(&self, enc: &mut DescriptorEncoder, s: &Shard) -> Result<(), std::fmt::Error> {
        let lb = &self.labels;
        let status_str: BTreeMap<u16, String> = s
            .reqs
            .keys()
            .chain(s.phases.keys())
            .map(|k| (k.status, k.status.to_string()))
            .collect();
        let mut reqs: Vec<_> = s.reqs.iter().collect();
        reqs.sort_by_key(|(k, _)| **k);
        let req_labels = |k: &ReqKey| -> L<'_> {
            let r = &lb.requests[k.req as usize];
            let l = vec![
                ("scenario", lb.scenarios[r.scenario as usize].as_str()),
                ("step", self.step_label(r.scenario, k.step)),
                ("name", r.name.as_str()),
                ("method", r.method.as_str()),
                ("status", status_str[&k.status].as_str()),
                (
                    "expected_response",
                    if self.expected(k.status) {
                        "true"
                    } else {
                        "false"
                    },
                ),
                ("tier", lb.tiers[k.tier as usize].as_str()),
            ];
            tagged(l, self.request_tags(k.req))
        };
        counter(
            enc,
            &cat::HTTP_REQS,
            &reqs
                .iter()
                .map(|(k, (n, _))| (req_labels(k), *n as f64))
                .collect::<Vec<_>>(),
        )?;
        histogram(
            enc,
            &cat::HTTP_REQ_DURATION,
            &reqs
                .iter()
                .map(|(k, (_, t))| (req_labels(k), t))
                .collect::<Vec<_>>(),
            US,
        )?;

        // failed rate and rate-limited by (req, step, tier)
        let mut failed: BTreeMap<(u16, u16, u16), (u64, u64)> = BTreeMap::new();
        let mut limited: BTreeMap<(u16, u16, u16), u64> = BTreeMap::new();
        for (k, (n, _)) in &reqs {
            let e = failed.entry((k.req, k.step, k.tier)).or_default();
            e.1 += n;
            if !self.expected(k.status) {
                e.0 += n;
            }
            if k.status == 429 {
                *limited.entry((k.req, k.step, k.tier)).or_default() += n;
            }
        }
        let rst = |(req, step, tier): (u16, u16, u16)| -> L<'_> {
            let r = &lb.requests[req as usize];
            let l = vec![
                ("scenario", lb.scenarios[r.scenario as usize].as_str()),
                ("step", self.step_label(r.scenario, step)),
                ("name", r.name.as_str()),
                ("method", r.method.as_str()),
                ("tier", lb.tiers[tier as usize].as_str()),
            ];
            tagged(l, self.request_tags(req))
        };
        gauge(
            enc,
            cat::HTTP_REQ_FAILED.name,
            cat::HTTP_REQ_FAILED.family_help(),
            &failed
                .iter()
                .map(|(k, (f, n))| (rst(*k), *f as f64 / (*n).max(1) as f64))
                .collect::<Vec<_>>(),
        )?;
        counter(
            enc,
            &cat::RATE_LIMITED,
            &limited
                .iter()
                .map(|(k, n)| {
                    let mut l = rst(*k);
                    l.retain(|(key, _)| *key != "method");
                    (l, *n as f64)
                })
                .collect::<Vec<_>>(),
        )?;

        let rs = |req: u16, step: u16| -> L<'_> {
            let r = &lb.requests[req as usize];
            let l = vec![
                ("scenario", lb.scenarios[r.scenario as usize].as_str()),
                ("step", self.step_label(r.scenario, step)),
                ("name", r.name.as_str()),
                ("method", r.method.as_str()),
            ];
            tagged(l, self.request_tags(req))
        };
        let mut phases: Vec<_> = s.phases.iter().collect();
        phases.sort_by_key(|(k, _)| **k);
        for (i, (family, _)) in Phases::NAMES.iter().enumerate() {
            let rows: Vec<_> = phases
                .iter()
                .map(|(k, p)| (k, p.get(i)))
                .filter(|(_, t)| !t.hist.is_empty())
                .map(|(k, t)| (req_labels(k), t))
                .collect();
            histogram(enc, family, &rows, US)?;
        }

        let mut errors: Vec<_> = s.errors.iter().collect();
        errors.sort_by_key(|(k, _)| **k);
        counter(
            enc,
            &cat::REQUEST_ERRORS,
            &errors
                .iter()
                .map(|((r, st, reason), n)| {
                    let mut l = rs(*r, *st);
                    l.retain(|(key, _)| *key != "method");
                    l.push(("reason", reason.as_str()));
                    (l, **n as f64)
                })
                .collect::<Vec<_>>(),
        )?;

        // Trend-stat gauges: cumulative per (request, step), like k6's.
        if !self.trend_stats.is_empty() {
            let mut merged: BTreeMap<(u16, u16), Timed> = BTreeMap::new();
            for (k, (_, t)) in &reqs {
                merged
                    .entry((k.req, k.step))
                    .or_insert_with(|| Timed::new(3))
                    .add(t);
            }
            for stat in &self.trend_stats {
                let name = format!("k6_http_req_duration_{}", stat.suffix());
                let rows: Vec<_> = merged
                    .iter()
                    .map(|((r, st), t)| (rs(*r, *st), stat.value(t)))
                    .collect();
                gauge(
                    enc,
                    &name,
                    "k6 trend-stat gauge of http_req_duration (seconds, cumulative since the step started).",
                    &rows,
                )?;
            }
        }

        let mut steps: Vec<_> = s.steps.iter().collect();
        steps.sort_by_key(|(k, _)| **k);
        let sl = |k: &StepKey| -> L<'_> {
            let l = vec![
                ("scenario", lb.scenarios[k.scenario as usize].as_str()),
                ("step", self.step_label(k.scenario, k.step)),
            ];
            tagged(l, self.scenario_tags(k.scenario))
        };
        let per_step = |f: fn(&StepCell) -> u64| {
            steps
                .iter()
                .map(|(k, c)| (sl(k), f(c) as f64))
                .collect::<Vec<_>>()
        };
        counter(enc, &cat::ITERATIONS, &per_step(|c| c.iterations))?;
        counter(enc, &cat::DROPPED_ITERATIONS, &per_step(|c| c.dropped))?;
        counter(enc, &cat::DATA_SENT, &per_step(|c| c.sent))?;
        counter(enc, &cat::DATA_RECEIVED, &per_step(|c| c.received))?;
        histogram(
            enc,
            &cat::ITERATION_DURATION,
            &steps
                .iter()
                .filter(|(_, c)| !c.iteration.hist.is_empty())
                .map(|(k, c)| (sl(k), &c.iteration))
                .collect::<Vec<_>>(),
            US,
        )?;

        let mut checks: Vec<_> = s.checks.iter().collect();
        checks.sort_by_key(|(k, _)| **k);
        let cl = |(check, step): (u16, u16)| -> L<'_> {
            let (sc, name) = &lb.checks[check as usize];
            let l = vec![
                ("scenario", lb.scenarios[*sc as usize].as_str()),
                ("step", self.step_label(*sc, step)),
                ("check", name.as_str()),
            ];
            tagged(l, self.scenario_tags(*sc))
        };
        gauge(
            enc,
            cat::CHECKS.name,
            cat::CHECKS.family_help(),
            &checks
                .iter()
                .map(|(k, (p, f))| (cl(**k), *p as f64 / (p + f).max(1) as f64))
                .collect::<Vec<_>>(),
        )?;
        let mut check_totals = Vec::new();
        for (k, (p, f)) in &checks {
            for (result, n) in [("pass", p), ("fail", f)] {
                let mut l = cl(**k);
                l.push(("result", result));
                check_totals.push((l, *n as f64));
            }
        }
        counter(enc, &cat::CHECKS_TOTAL, &check_totals)?;

        // Live gauges.
        let mut vus = Vec::new();
        let mut vus_max = Vec::new();
        let mut rate = Vec::new();
        let mut level = Vec::new();
        for (i, g) in self.gauges.iter().enumerate() {
            let scenario = lb.scenarios[i].as_str();
            let tags = self.scenario_tags(i as u16);
            vus_max.push((
                tagged(vec![("scenario", scenario)], tags),
                g.vus_max.load(Ordering::Relaxed) as f64,
            ));
            let step = g.step.load(Ordering::Relaxed);
            let Some(st) = lb.steps[i].get(step) else {
                continue;
            };
            let l = tagged(
                vec![("scenario", scenario), ("step", st.label.as_str())],
                tags,
            );
            vus.push((l.clone(), g.vus.load(Ordering::Relaxed) as f64));
            if st.unit == "rate" {
                rate.push((l.clone(), g.rate()));
            }
            let mut with_unit = l;
            with_unit.push(("unit", st.unit));
            level.push((with_unit, st.level));
        }
        gauge(enc, cat::VUS.name, cat::VUS.family_help(), &vus)?;
        gauge(enc, cat::VUS_MAX.name, cat::VUS_MAX.family_help(), &vus_max)?;
        gauge(
            enc,
            cat::TARGET_RATE.name,
            cat::TARGET_RATE.family_help(),
            &rate,
        )?;
        gauge(
            enc,
            cat::STEP_INFO.name,
            cat::STEP_INFO.family_help(),
            &level,
        )?;

        // LLM.
        let mut llm: Vec<_> = s.llm.iter().collect();
        llm.sort_by_key(|(k, _)| **k);
        let ll = |(sc, st, tier): (u16, u16, u16)| -> L<'_> {
            let l = vec![
                ("scenario", lb.scenarios[sc as usize].as_str()),
                ("step", self.step_label(sc, st)),
                ("tier", lb.tiers[tier as usize].as_str()),
            ];
            tagged(l, self.scenario_tags(sc))
        };
        let mut tokens = Vec::new();
        for (k, c) in &llm {
            for (kind, n) in [
                ("prompt", c.prompt_tokens),
                ("completion", c.completion_tokens),
            ] {
                let mut l = ll(**k);
                l.push(("kind", kind));
                tokens.push((l, n as f64));
            }
        }
        counter(enc, &cat::LLM_TOKENS, &tokens)?;
        let streamed = |f: fn(&LlmCell) -> &Timed| {
            llm.iter()
                .filter(|(_, c)| !f(c).hist.is_empty())
                .map(|(k, c)| (ll(**k), f(c)))
                .collect::<Vec<_>>()
        };
        histogram(enc, &cat::LLM_TTFT, &streamed(|c| &c.ttft), US)?;
        histogram(enc, &cat::LLM_ITL, &streamed(|c| &c.itl), US)?;
        histogram(enc, &cat::LLM_OUTPUT_TPS, &streamed(|c| &c.tps_milli), 1e-3)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_buckets_hold_every_observation_at_the_right_index() {
        let mut t = Timed::new(3);
        for us in [1_000u64, 1_000, 50_000, 50_000, 50_000, 2_000_000] {
            t.record(us);
        }
        let e = export(&t, US);
        assert_eq!(e.count, 6);
        assert!((e.sum - 2.152).abs() < 1e-9);
        // Decode spans/deltas back to (index, count).
        let mut idx = 0;
        let mut cnt = 0i64;
        let mut di = 0;
        let mut got = Vec::new();
        for (k, (off, len)) in e.spans.iter().enumerate() {
            idx = if k == 0 { *off } else { idx + off };
            for j in 0..*len {
                cnt += e.deltas[di];
                di += 1;
                got.push((idx + j as i32, cnt));
            }
            idx += *len as i32;
        }
        let total: i64 = got.iter().map(|(_, c)| c).sum();
        assert_eq!(total, 6);
        // 50 ms falls in the bucket (2^((i-1)/8), 2^(i/8)].
        let i50 = got.iter().find(|(_, c)| *c == 3).unwrap().0;
        let (lo, hi) = (
            2f64.powf((i50 - 1) as f64 / 8.0),
            2f64.powf(i50 as f64 / 8.0),
        );
        assert!(lo < 0.05 && 0.05 <= hi, "{lo}..{hi}");
        // Classic: cumulative at 0.05 s holds the 1 ms and 50 ms observations.
        let upto: u64 = e
            .classic
            .iter()
            .take_while(|(b, _)| *b <= 0.05 + 1e-12)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(upto, 5);
        assert_eq!(e.classic.last().unwrap().0, f64::INFINITY);
    }

    #[test]
    fn trend_stat_names_follow_k6() {
        assert_eq!(TrendStat::parse("p(99.9)").unwrap().suffix(), "p999");
        assert_eq!(TrendStat::parse("p(95)").unwrap().suffix(), "p95");
        assert_eq!(TrendStat::parse("avg").unwrap().suffix(), "avg");
        assert!(TrendStat::parse("p95").is_err());
    }

    /// Scenario `s`, one step `1` in VUs, one request `r` (GET), no tier, no checks.
    fn one_request() -> Labels {
        Labels {
            scenarios: vec!["s".into()],
            steps: vec![vec![StepLabel {
                label: "1".into(),
                level: 1.0,
                unit: "vus",
            }]],
            requests: vec![RequestLabel {
                scenario: 0,
                name: "r".into(),
                method: "GET".into(),
            }],
            tiers: vec![String::new()],
            ..Labels::default()
        }
    }

    fn text(m: &Arc<Metrics>) -> String {
        let mut reg = prometheus_client::registry::Registry::default();
        reg.register_collector(Box::new(MetricsCollector(Arc::clone(m))));
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &reg).unwrap();
        s
    }

    #[test]
    fn phases_and_tags_are_written_with_the_duration_labels() {
        let tags = |p: &[(&str, &str)]| -> Tags {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let m = Arc::new(Metrics::new(
            Labels {
                scenario_tags: vec![tags(&[("team", "blue")])],
                request_tags: vec![tags(&[("component", "api"), ("team", "red")])],
                ..one_request()
            },
            None,
            vec![],
        ));
        let key = ReqKey {
            req: 0,
            step: 0,
            tier: 0,
            status: 200,
        };
        m.with(|s| {
            s.request(key, 3_000);
            let p = s.phases(key);
            p.blocked.record(10);
            p.sending.record(20);
            p.waiting.record(2_500);
            p.receiving.record(480);
            p.connecting.record(100);
            s.step(StepKey {
                scenario: 0,
                step: 0,
            })
            .iteration
            .record(3_100);
        });
        let t = text(&m);
        let req = r#"{scenario="s",step="1",name="r",method="GET",status="200",expected_response="true",tier="",component="api",team="red"}"#;
        for (family, sum) in [
            ("k6_http_req_duration_seconds", 0.003),
            ("k6_http_req_blocked_seconds", 0.00001),
            ("k6_http_req_sending_seconds", 0.00002),
            ("k6_http_req_waiting_seconds", 0.0025),
            ("k6_http_req_receiving_seconds", 0.00048),
            ("k6_http_req_connecting_seconds", 0.0001),
        ] {
            assert!(
                t.contains(&format!("{family}_count{req} 1\n")),
                "{family}:\n{t}"
            );
            let got: f64 = t
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{family}_sum{req} ")))
                .unwrap_or_else(|| panic!("{family}:\n{t}"))
                .parse()
                .unwrap();
            assert!((got - sum).abs() < 1e-12, "{family}: {got}");
        }
        // No TLS handshake recorded, so no series (an empty histogram would read as one).
        assert!(
            !t.contains("k6_http_req_tls_handshaking_seconds_count"),
            "{t}"
        );
        let step = r#"{scenario="s",step="1",team="blue"}"#;
        assert!(
            t.contains(&format!("k6_iteration_duration_seconds_count{step} 1\n")),
            "{t}"
        );
        assert!(t.contains(&format!("k6_iterations_total{step} 0")), "{t}");
        assert!(
            t.contains(r#"k6_vus_max{scenario="s",team="blue"} 0"#),
            "{t}"
        );
    }

    #[test]
    fn shards_per_thread_merge() {
        let m = Arc::new(Metrics::new(one_request(), None, vec![]));
        let key = ReqKey {
            req: 0,
            step: 0,
            tier: 0,
            status: 200,
        };
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        m.with(|s| s.request(key, 10));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let snap = m.snapshot();
        assert_eq!(snap.reqs[&key].0, 4000);
        assert_eq!(m.shards.lock().unwrap().len(), 4);
    }
}
