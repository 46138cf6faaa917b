//! `cargo bench -p redline-pprof-sampler` (`-- parse` or `-- cpu` runs one part)
//!
//! 1. Parse: what the sampler does with every fetched heap profile (`Shared::summarise`:
//!    gunzip, read the protobuf, total every sample type, flat/cum per function, top-N by
//!    flat and by cum), on real Go heap profiles that `benches/gen/realheap.go` writes with
//!    `go run` (go/parser and go/types over the standard library, every allocation sampled,
//!    ~40% of the samples still in use). Issue #6's goal: under 5 ms for a 1 MB profile.
//!    "1 MB" is the decompressed profile.proto (1 MiB raw, ~250 KiB as served); the input
//!    is always the gzip'd bytes as `/debug/pprof/heap` serves them, so gunzip is part of
//!    the figure. A profile that is 1 MiB as served (~5 MiB raw) is measured too. Each
//!    stage is timed alone and the total is the sampler's call as it is.
//! 2. Sampler CPU (issue #6's second figure): 1 s interval over 20 in-process fake
//!    endpoints serving a real profile, read from /proc/self/task/*/stat for the sampler
//!    runtime's threads only (the fake endpoints run on a separately named runtime, so
//!    their CPU is not counted). It includes fetching over HTTP and setting the gauges.
//!
//! Times are CPU time of the measuring thread, not wall time: the machine is shared.
//! `PPROF_BENCH_DIR=dir` keeps the generated profiles there and reuses them, so that two
//! builds compared back to back read the same bytes.
//! A plain std::time loop rather than criterion: a few numbers to print, no extra dependency.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prometheus_client::registry::Registry;
use redline_pprof_sampler::metrics::Metrics;
use redline_pprof_sampler::profile::{self, Parser};
use redline_pprof_sampler::sampler::{Sampler, SamplerSettings, Target};
use tokio_util::sync::CancellationToken;

/// A real Go heap profile from `benches/gen/realheap.go`, `BYTES` decompressed (`raw`) or
/// as served (`gz`). Kept in `$PPROF_BENCH_DIR` when that is set, and taken from there if
/// it is already written: A/B comparisons then read the very same bytes.
fn go_profile(dir: &Path, mode: &str, bytes: usize) -> Option<Vec<u8>> {
    let out = dir.join(format!("real-{mode}-{bytes}.pb.gz"));
    if let Ok(saved) = std::fs::read(&out) {
        return Some(saved);
    }
    let generator = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/gen/realheap.go");
    let status = Command::new("go")
        .arg("run")
        .arg(&generator)
        .arg(&out)
        .arg(mode)
        .arg(bytes.to_string())
        .status()
        .ok()?;
    status.success().then(|| std::fs::read(&out).ok()).flatten()
}

/// On-CPU nanoseconds of the calling thread (/proc/thread-self/schedstat, ns resolution).
/// The machine is shared with other builds: wall time per call measures them too, CPU time
/// of this thread does not count the time they hold the core.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU ns per call over at least 20 calls and about 2 s of wall time.
fn time_it(mut f: impl FnMut()) -> f64 {
    f(); // warm up allocator and caches
    let start = Instant::now();
    let cpu0 = thread_cpu_ns();
    let mut n = 0u32;
    while n < 20 || (start.elapsed() < Duration::from_secs(2) && n < 10_000) {
        f();
        n += 1;
    }
    (thread_cpu_ns() - cpu0) as f64 / f64::from(n)
}

/// The sampler's default `--top`.
const TOP: usize = 5;

/// Milliseconds of CPU per profile for each stage.
#[derive(Clone, Copy)]
struct Stages {
    gunzip: f64,
    decode: f64,
    analysis: f64,
    total: f64,
}

impl std::fmt::Display for Stages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "gunzip {:.2} ms, decode {:.2} ms, analysis {:.2} ms, total {:.2} ms",
            self.gunzip, self.decode, self.analysis, self.total
        )
    }
}

fn describe(label: &str, gz: &[u8]) {
    let mut raw = Vec::new();
    profile::gunzip(gz, &mut raw).unwrap();
    let mut parser = Parser::new();
    let p = parser.read(gz).unwrap();
    let live = p.total("inuse_space").unwrap();
    println!(
        "{label}: {:.0} KiB gzip, {:.0} KiB raw; {} samples, {} locations, {} functions; {live} B in use",
        gz.len() as f64 / 1024.0,
        raw.len() as f64 / 1024.0,
        p.sample_count(),
        p.location_count(),
        p.function_count(),
    );
}

fn bench_parse(gz: &[u8]) -> Stages {
    let mut raw = Vec::new();
    profile::gunzip(gz, &mut raw).unwrap();
    let mut parser = Parser::new();
    let mut buf = Vec::new();
    let gunzip = time_it(|| {
        profile::gunzip(std::hint::black_box(gz), &mut buf).unwrap();
        std::hint::black_box(&buf);
    });
    // Reading the decompressed bytes: everything but the samples, which stay encoded.
    let decode = time_it(|| {
        std::hint::black_box(parser.read(std::hint::black_box(&raw)).unwrap());
    });
    // One walk over the samples: totals, flat/cum per function, top-N both ways.
    let analysis = {
        let p = parser.read(&raw).unwrap();
        time_it(|| {
            std::hint::black_box(p.summary("inuse_space", TOP).unwrap());
        })
    };
    // Exactly what the sampler does with a fetched body (Job::sample).
    let total = time_it(|| {
        let summary = Parser::new()
            .read(std::hint::black_box(gz))
            .and_then(|p| p.summary("inuse_space", TOP));
        std::hint::black_box(summary.unwrap());
    });
    Stages {
        gunzip: gunzip / 1e6,
        decode: decode / 1e6,
        analysis: analysis / 1e6,
        total: total / 1e6,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `runs` runs of [`bench_parse`], each printed, then the median of each stage.
fn parse_runs(label: &str, gz: &[u8], runs: usize) {
    describe(label, gz);
    let all: Vec<Stages> = (0..runs)
        .map(|i| {
            let s = bench_parse(gz);
            println!("  run {}: {s}", i + 1);
            s
        })
        .collect();
    let m = |f: fn(&Stages) -> f64| median(all.iter().map(f).collect());
    let med = Stages {
        gunzip: m(|s| s.gunzip),
        decode: m(|s| s.decode),
        analysis: m(|s| s.analysis),
        total: m(|s| s.total),
    };
    println!("parse {label}: median of {runs}: {med} (CPU per profile)");
}

/// utime+stime (clock ticks) of this process's threads whose name starts with `prefix`.
fn thread_ticks(prefix: &str) -> u64 {
    let mut ticks = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "tid (comm) state ..." — comm may contain spaces, so split at the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        // After comm: state is field 3, utime 14, stime 15 (1-based over the whole line).
        ticks += f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    }
    ticks
}

fn bench_cpu(label: &str, profile_bytes: &'static [u8], targets: usize, secs: u64) {
    // Fake endpoints on their own runtime and threads ("fake-*").
    let fake_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("fake-endpoint")
        .enable_all()
        .build()
        .unwrap();
    let fakes: Vec<common::Fake> = fake_rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..targets {
            v.push(
                common::serve(common::Behaviour::Profile(Bytes::from_static(
                    profile_bytes,
                )))
                .await,
            );
        }
        v
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sampler")
        .enable_all()
        .build()
        .unwrap();
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let settings = SamplerSettings {
        interval: Duration::from_secs(1),
        timeout: Duration::from_millis(900),
        gc_every: 0,
        top: 5,
        max_body_bytes: 64 << 20,
        testid: "bench".into(),
    };
    let list: Vec<Target> = fakes
        .iter()
        .enumerate()
        .map(|(i, f)| Target {
            pod: format!("pod-{i}"),
            container: "c".into(),
            heap_url: format!("{}/debug/pprof/heap", f.url()),
            goroutine_url: Some(format!("{}/debug/pprof/goroutine?debug=1", f.url())),
        })
        .collect();
    let stop = CancellationToken::new();
    let (_tx, rx) = tokio::sync::watch::channel(list);
    let sampler = Arc::new(rt.block_on(async { Sampler::new(settings, metrics, None).unwrap() }));
    let handle = rt.spawn({
        let (s, stop) = (sampler.clone(), stop.clone());
        async move { s.run(rx, stop).await }
    });
    // Skip the first tick's connection setup.
    std::thread::sleep(Duration::from_millis(1500));
    let t0 = thread_ticks("sampler");
    let w0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let ticks = thread_ticks("sampler") - t0;
    let wall = w0.elapsed().as_secs_f64();
    stop.cancel();
    rt.block_on(handle).unwrap();
    let hz = 100.0; // USER_HZ on Linux
    let cpu = ticks as f64 / hz;
    let s = common::series(&registry);
    let ok = common::value(&s, "redline_pprof_samples_total", &[r#"result="ok""#]).unwrap_or(0.0);
    let errors = common::value(&s, "redline_pprof_sample_errors_total", &[]).unwrap_or(0.0);
    println!(
        "sampler cpu {label}: {targets} targets at 1 s for {wall:.1} s: {cpu:.2} s CPU = {:.2}% of one core ({:.2} ms per sample); {ok} ok samples, {errors} errors",
        100.0 * cpu / wall,
        1000.0 * cpu / (wall * targets as f64)
    );
    drop(fakes);
    drop(fake_rt);
}

fn main() {
    // `cargo test --benches` runs bench binaries with no `--bench`; keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("PPROF_BENCH_DIR").map_or(tmp.path().to_path_buf(), Into::into);
    let prom = common::FIXTURE_B;
    if quick {
        describe("real Prometheus heap profile", prom);
        println!("  {}", bench_parse(prom));
        return;
    }
    let raw1m = go_profile(&dir, "raw", 1 << 20);
    if raw1m.is_none() {
        println!("go not found: only the small saved Prometheus profile is measured");
    }
    if part("parse") {
        parse_runs("real Prometheus heap profile", prom, 3);
        if let Some(raw1m) = &raw1m {
            parse_runs("go heap profile, 1 MiB raw", raw1m, 5);
        }
        if let Some(gz1m) = go_profile(&dir, "gz", 1 << 20) {
            parse_runs("go heap profile, 1 MiB gzip", &gz1m, 3);
        }
    }
    if part("cpu") {
        bench_cpu("real Prometheus profile", prom, 20, 10);
        if let Some(raw1m) = raw1m {
            let leaked: &'static [u8] = Box::leak(raw1m.into_boxed_slice());
            for _ in 0..3 {
                bench_cpu("go heap profile, 1 MiB raw", leaked, 20, 10);
            }
        }
    }
}
