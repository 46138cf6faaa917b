//! How many Destination streams one dst-client process holds, and how fast updates fan
//! out to them: `cargo bench -p redline-dst-client` (or hack/bench-dst-client.sh).
//!
//! The test servers (Kubernetes API in KWOK mode + Destination) run in a child process
//! (this same binary, `REDLINE_BENCH_ROLE=server`), so the memory and CPU measured here
//! are the client's alone. Knobs (env): BENCH_SERVICES (50), BENCH_STREAMS_PER_SERVICE
//! (500), BENCH_ENDPOINTS (100; scaled to 2x for the fan-out), BENCH_CONNECTIONS (0 =
//! one per stream index), BENCH_VERIFY (1: end with --verify-endpoints' check of every
//! stream's set against the API; 0: skip it).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redline_churn::{ChurnArgs, PatternName};
use redline_dst_client::{DstClient, DstClientArgs, Metrics};
use redline_runtime::CommonArgs;
use tokio_util::sync::CancellationToken;

fn env(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn proc_status(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// Bytes of heap in use (glibc's count of allocated chunks, all arenas plus mmapped).
/// RSS minus this is memory freed but kept by the allocator, or not heap at all.
fn heap_in_use() -> u64 {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let mi = unsafe { libc::mallinfo2() };
    (mi.uordblks + mi.hblkhd) as u64
}

/// User + system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

fn serve() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let kube = redline_testkit_kube::KubeApiServer::builder()
            .kwok(
                redline_testkit_kube::KwokConfig::default()
                    .nodes(20)
                    .max_endpoints_per_slice(100),
            )
            .start()
            .await
            .unwrap();
        let dst = redline_testkit_destination::DestinationServer::start(&kube)
            .await
            .unwrap();
        println!("KUBE {}", kube.url());
        println!("DST {}", dst.url());
        std::io::stdout().flush().unwrap();
        // Until the parent closes our stdin.
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await
        .unwrap();
        eprintln!("server: {} updates sent", dst.updates_sent());
    });
}

fn churn_args(kube_url: &str) -> (ChurnArgs, kube::Client) {
    let mut c = ChurnArgs::with_common(CommonArgs::default());
    c.namespace = "test-load".into();
    c.create_namespace = true;
    c.run_id = Some("bench".into());
    c.qps = 10_000.0;
    c.burst = 10_000;
    c.keep = true;
    let mut cfg = kube::Config::new(kube_url.parse().unwrap());
    cfg.default_namespace = "default".into();
    cfg.default_retry = false;
    (c, kube::Client::try_from(cfg).unwrap())
}

fn main() {
    if std::env::var("REDLINE_BENCH_ROLE").as_deref() == Ok("server") {
        return serve();
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let services = env("BENCH_SERVICES", 50);
    let per_service = env("BENCH_STREAMS_PER_SERVICE", 500);
    let endpoints = env("BENCH_ENDPOINTS", 100);
    let connections = env("BENCH_CONNECTIONS", 0);
    let verify = env("BENCH_VERIFY", 1) == 1;
    let total = u64::from(services * per_service);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("REDLINE_BENCH_ROLE", "server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the test servers");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = |prefix: &str| {
        let l = lines.next().unwrap().unwrap();
        l.strip_prefix(prefix).unwrap().trim().to_string()
    };
    let (kube_url, dst_url) = (url("KUBE "), url("DST "));

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Services at `endpoints` replicas.
        let (mut c, kc) = churn_args(&kube_url);
        c.pattern = PatternName::Stable;
        c.services = services;
        c.endpoints_per_service = endpoints;
        c.duration = Some(Duration::from_millis(200));
        redline_churn::run_report(c, kc.clone(), CancellationToken::new())
            .await
            .unwrap();

        let rss0 = proc_status("VmRSS:");
        let heap0 = heap_in_use();
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        let mut a = DstClientArgs::new(
            CommonArgs::default(),
            &dst_url,
            &format!("test-service-{{1..{services}}}.test-load.svc.cluster.local:8080"),
        );
        a.streams_per_service = per_service;
        a.connections = connections;
        a.converge_timeout = Duration::from_secs(120);
        // Costs one pointer per stream now that streams share their sets, and proves the
        // sharing kept every stream's own set right.
        a.verify_endpoints = verify;
        let client = DstClient::start(&a, Metrics::default(), Some(kc.clone()))
            .await
            .unwrap();
        let m = client.metrics().clone();
        let full = |want: u32| {
            client.sweep();
            (1..=services).all(|i| {
                m.endpoints_observed
                    .get_or_create(&Metrics::service(&format!("test-service-{i}")))
                    .get()
                    == i64::from(want)
            })
        };
        // Read before and after the fan-out: the difference is what it delivered.
        let updates_received = || -> u64 {
            (1..=services)
                .map(|i| {
                    m.updates_received
                        .get_or_create(&Metrics::service(&format!("test-service-{i}")))
                        .get()
                })
                .sum()
        };
        let first_service_latencies = || {
            m.endpoint_latency
                .get_or_create(&Metrics::service("test-service-1"))
                .count()
        };
        let deadline = Instant::now() + Duration::from_secs(600);
        while !(m.streams_active.get() as u64 == total && full(endpoints)) {
            assert!(Instant::now() < deadline, "streams did not all open");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let open_time = t0.elapsed();
        let open_cpu = cpu_seconds() - cpu0;
        let rss1 = proc_status("VmRSS:");
        let hwm = proc_status("VmHWM:");
        let heap1 = heap_in_use();

        // Idle: holding the streams.
        let idle = Duration::from_secs(10);
        let c1 = cpu_seconds();
        tokio::time::sleep(idle).await;
        let idle_cpu = cpu_seconds() - c1;

        // Fan-out: every service `endpoints` -> 2x at once (oscillate, 1 cycle).
        let (mut c, _) = churn_args(&kube_url);
        c.pattern = PatternName::Oscillate;
        c.services = services;
        c.min_endpoints = endpoints;
        c.max_endpoints = endpoints * 2;
        c.min_hold = Duration::from_millis(500);
        c.max_hold = Duration::from_secs(600);
        c.duration = Some(Duration::from_millis(700));
        let ep0 = first_service_latencies();
        let msgs0 = updates_received();
        let c2 = cpu_seconds();
        let t2 = Instant::now();
        redline_churn::run_report(c, kc.clone(), CancellationToken::new())
            .await
            .unwrap();
        while !full(endpoints * 2) {
            assert!(Instant::now() < deadline, "fan-out did not complete");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let fanout_wall = t2.elapsed() - Duration::from_millis(500);
        let fanout_cpu = cpu_seconds() - c2;
        let msgs1 = updates_received();
        let delivered_endpoints = total * u64::from(endpoints);
        let ep1 = first_service_latencies();
        let fan = m
            .fanout_completion
            .get_or_create(&Metrics::service("test-service-1"))
            .clone();
        let upd = m
            .update_latency
            .get_or_create(&Metrics::service("test-service-1"))
            .clone();
        let rss2 = proc_status("VmRSS:");
        let hwm2 = proc_status("VmHWM:");
        let heap2 = heap_in_use();
        let verified = if verify {
            Some(
                client
                    .verify_endpoints(&kc, Duration::from_secs(60))
                    .await
                    .unwrap(),
            )
        } else {
            None
        };
        client.shutdown().await;
        drop(child.stdin.take());
        let _ = child.wait();

        let k = total as f64 / 1000.0;
        println!("dst-client benchmark: {services} services x {per_service} streams = {total} streams, {endpoints} endpoints each");
        println!(
            "open:    {:.1} s to open all and receive {endpoints} endpoints each; CPU {:.2} s ({:.3} s per 1,000 streams)",
            open_time.as_secs_f64(),
            open_cpu,
            open_cpu / k
        );
        let mib = |b: u64| b as f64 / f64::from(1 << 20);
        let kib_per_stream = |b: u64| b.saturating_sub(rss0) as f64 / 1024.0 / total as f64;
        println!(
            "memory:  RSS before {:.0} MiB; after opening {:.0} MiB ({:.1} KiB per stream, {:.1} MiB per 1,000 streams, peak {:.0} MiB)",
            mib(rss0),
            mib(rss1),
            kib_per_stream(rss1),
            mib(rss1.saturating_sub(rss0)) / k,
            mib(hwm)
        );
        println!(
            "         after the fan-out to {} endpoints {:.0} MiB ({:.1} KiB per stream, peak {:.0} MiB)",
            endpoints * 2,
            mib(rss2),
            kib_per_stream(rss2),
            mib(hwm2)
        );
        let heap_per_stream = |b: u64| b.saturating_sub(heap0) as f64 / 1024.0 / total as f64;
        println!(
            "heap:    in use {:.0} MiB before, {:.0} MiB after opening ({:.1} KiB per stream), {:.0} MiB after the fan-out ({:.1} KiB per stream)",
            mib(heap0),
            mib(heap1),
            heap_per_stream(heap1),
            mib(heap2),
            heap_per_stream(heap2)
        );
        println!(
            "idle:    {:.3} CPU s over {} s holding the streams ({:.2} ms CPU per second per 1,000 streams)",
            idle_cpu,
            idle.as_secs(),
            idle_cpu * 1000.0 / idle.as_secs_f64() / k
        );
        println!(
            "fan-out: {} -> {} endpoints on every service: {delivered_endpoints} endpoint updates ({} messages) delivered to {total} streams in {:.2} s = {:.0} endpoint updates/s, {:.0} messages/s; client CPU {:.2} s",
            endpoints,
            endpoints * 2,
            msgs1 - msgs0,
            fanout_wall.as_secs_f64(),
            delivered_endpoints as f64 / fanout_wall.as_secs_f64(),
            (msgs1 - msgs0) as f64 / fanout_wall.as_secs_f64(),
            fanout_cpu,
        );
        // Classic histograms: the true value is at or below the printed bucket bound
        // ("none": nothing observed; "+Inf": above the largest bound).
        let b = |v: Option<f64>| v.map_or("none".to_string(), |v| format!("{v}"));
        println!(
            "          test-service-1: {} endpoint observations; per-stream convergence p50 <= {} s, p99 <= {} s; fan-out completion <= {} s (all services, measured: {:.2} s)",
            ep1 - ep0,
            b(upd.quantile_bound(0.5)),
            b(upd.quantile_bound(0.99)),
            b(fan.quantile_bound(1.0)),
            fanout_wall.as_secs_f64()
        );
        if let Some(v) = &verified {
            println!(
                "verify:  {} streams against the API's {} endpoints: {} differ",
                v.streams,
                v.api_endpoints,
                v.mismatches.len()
            );
        }
        let peak = hwm2.max(rss2);
        println!(
            "goal:    {total} streams under 1 GiB through the fan-out (peak RSS {:.0} MiB): {}",
            mib(peak),
            if peak < (1 << 30) { "met" } else { "NOT met" }
        );
        if let Some(first) = verified.and_then(|v| v.mismatches.into_iter().next()) {
            panic!("streams differ from the API: {first}");
        }
    });
}
