//! `cargo bench -p redline-pprof-sampler`
//!
//! 1. Parse time of large real Go heap profiles (written by `benches/gen/bigheap.go` with
//!    `go run`, many distinct stacks): gunzip + prost decode, and the whole per-sample work
//!    (decode + totals + per-function flat/cum + top-N). Goal: < 5 ms for 1 MB.
//! 2. The sampler's own CPU at 1 s interval over 20 in-process fake endpoints serving a real
//!    saved profile, read from /proc/self/task/*/stat for the sampler runtime's threads only
//!    (the fake endpoints run on a separately named runtime, so their CPU is not counted).
//!
//! A plain std::time loop rather than criterion: two numbers to print, no extra dependency.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prometheus_client::registry::Registry;
use redline_pprof_sampler::metrics::Metrics;
use redline_pprof_sampler::profile::{self, Order};
use redline_pprof_sampler::sampler::{Sampler, SamplerSettings, Target};
use tokio_util::sync::CancellationToken;

fn go_profile(dir: &Path, sites: usize) -> Option<Vec<u8>> {
    let out = dir.join(format!("big{sites}.pb.gz"));
    let generator = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/gen/bigheap.go");
    let status = Command::new("go")
        .arg("run")
        .arg(&generator)
        .arg(&out)
        .arg(sites.to_string())
        .status()
        .ok()?;
    status.success().then(|| std::fs::read(&out).ok()).flatten()
}

fn raw_len(gz: &[u8]) -> usize {
    use std::io::Read;
    let mut v = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut v)
        .unwrap();
    v.len()
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

fn bench_parse(label: &str, gz: &[u8]) {
    let raw = raw_len(gz);
    let p = profile::decode(gz).unwrap();
    let decode = time_it(|| {
        std::hint::black_box(profile::decode(std::hint::black_box(gz)).unwrap());
    });
    let full = time_it(|| {
        let p = profile::decode(std::hint::black_box(gz)).unwrap();
        let (totals, stats) = p.analyse("inuse_space").unwrap();
        std::hint::black_box(totals);
        std::hint::black_box(profile::top(stats.clone(), 5, Order::Flat));
        std::hint::black_box(profile::top(stats, 5, Order::Cum));
    });
    let mut raw_bytes = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut raw_bytes).unwrap();
    let gunzip = time_it(|| {
        let mut v = Vec::with_capacity(raw_bytes.len());
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(std::hint::black_box(gz)),
            &mut v,
        )
        .unwrap();
        std::hint::black_box(v);
    });
    let prost_only = time_it(|| {
        std::hint::black_box(profile::decode(std::hint::black_box(&raw_bytes)).unwrap());
    });
    let analyse = time_it(|| {
        std::hint::black_box(p.analyse("inuse_space").unwrap());
    });
    let walk = time_it(|| {
        std::hint::black_box(p.totals().unwrap());
    });
    println!(
        "  {label}: gunzip {:.2} ms, protobuf decode {:.2} ms, totals+functions (one walk) {:.2} ms, of which walking the encoded samples {:.2} ms",
        gunzip / 1e6,
        prost_only / 1e6,
        analyse / 1e6,
        walk / 1e6
    );
    println!(
        "parse {label}: {:.0} KiB gzip / {:.0} KiB raw, {} samples, {} locations: decode {:.0} ns/iter ({:.2} ms), decode+totals+top {:.0} ns/iter ({:.2} ms) (thread CPU time)",
        gz.len() as f64 / 1024.0,
        raw as f64 / 1024.0,
        p.sample.len(),
        p.location.len(),
        decode,
        decode / 1e6,
        full,
        full / 1e6
    );
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
    let dir = tempfile::tempdir().unwrap();
    let prom = common::FIXTURE_B;
    bench_parse("real Prometheus heap profile", prom);
    if quick {
        return;
    }
    // ~1 MB decoded (the size of a busy activator's profile) and ~1 MB on the wire.
    match (
        go_profile(dir.path(), 27_000),
        go_profile(dir.path(), 215_000),
    ) {
        (Some(raw1m), Some(gz1m)) => {
            bench_parse("go bigheap ~1 MB raw", &raw1m);
            bench_parse("go bigheap ~1 MB gzip", &gz1m);
            let leaked: &'static [u8] = Box::leak(raw1m.into_boxed_slice());
            bench_cpu("real Prometheus profile", prom, 20, 10);
            bench_cpu("go bigheap ~1 MB raw", leaked, 20, 10);
        }
        _ => {
            println!("go not found: skipping the large-profile parse bench");
            bench_cpu("real Prometheus profile", prom, 20, 10);
        }
    }
}
