//! Test support: a small real-time load generator that sends real HTTP requests and writes
//! k6-shaped series (labels per alerts/README.md) through the real remote-write client, so
//! the real alert rules judge real traffic. Stands in for `redline http-load` in these tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redline_remote_write::{Config, RemoteWriter, Series, now_millis, stale_nan};
use redline_testkit_prometheus::{Options, Prometheus};

/// Classic buckets as k6-style seconds, dense around the tests' 50 ms and 1.5 s latencies.
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct Step {
    pub name: &'static str,
    pub vus: usize,
    /// Path and query on the target, e.g. `/?sleep=50`.
    pub path: String,
    pub duration: Duration,
}

#[derive(Default)]
struct Stats {
    /// (status, expected_response) -> requests
    reqs: BTreeMap<(String, bool), u64>,
    /// reason -> requests without a response
    errors: BTreeMap<&'static str, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

pub struct Totals {
    pub requests: u64,
    pub responded: u64,
}

pub async fn prometheus_with_rules() -> Prometheus {
    prometheus_with_rules_and(Vec::new()).await
}

/// alerts/ plus a test's own rule files (a scenario's thresholds, say).
pub async fn prometheus_with_rules_and(extra: Vec<PathBuf>) -> Prometheus {
    let mut rule_files = rule_files();
    rule_files.extend(extra);
    Prometheus::start_with(Options {
        rule_files,
        evaluation_interval: Duration::from_secs(1),
        ..Default::default()
    })
    .await
    .expect("start prometheus")
}

pub fn alerts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../alerts")
}

pub fn rule_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(alerts_dir())
        .expect("alerts/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no rule files in alerts/");
    files
}

fn classify(e: &reqwest::Error) -> &'static str {
    let text = format!("{e:?}").to_ascii_lowercase();
    if e.is_timeout() {
        "timeout"
    } else if text.contains("refused") {
        "connect_refused"
    } else if text.contains("reset") {
        "reset"
    } else {
        "other"
    }
}

async fn worker(client: reqwest::Client, url: String, stats: Arc<Mutex<Stats>>, until: Instant) {
    // Bounded in time; the pause keeps refused connections from spinning a core.
    while Instant::now() < until {
        let started = Instant::now();
        let outcome = match client.get(&url).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let _ = resp.bytes().await;
                Ok(status)
            }
            Err(e) => Err(classify(&e)),
        };
        let took = started.elapsed().as_secs_f64();
        {
            let mut s = stats.lock().unwrap();
            match outcome {
                Ok(status) => {
                    *s.reqs
                        .entry((status.to_string(), (200..400).contains(&status)))
                        .or_default() += 1;
                    for (i, le) in BUCKETS.iter().enumerate() {
                        if took <= *le {
                            s.buckets[i] += 1;
                        }
                    }
                    s.count += 1;
                    s.sum += took;
                }
                Err(reason) => {
                    *s.reqs.entry(("0".to_string(), false)).or_default() += 1;
                    *s.errors.entry(reason).or_default() += 1;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn series(name: &str, base: &[(&str, &str)], extra: &[(&str, &str)]) -> Series {
    Series::new(
        name,
        base.iter()
            .chain(extra.iter())
            .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .expect("valid series")
}

fn push_step(
    w: &RemoteWriter,
    testid: &str,
    scenario: &str,
    step: &Step,
    stats: &Stats,
    level_value: f64,
) {
    let ts = now_millis();
    let base = [
        ("testid", testid),
        ("scenario", scenario),
        ("step", step.name),
    ];
    let req_labels = [("name", "gen"), ("method", "GET")];
    for ((status, expected), n) in &stats.reqs {
        let exp = if *expected { "true" } else { "false" };
        let s = series(
            "k6_http_reqs_total",
            &base,
            &[
                req_labels[0],
                req_labels[1],
                ("status", status),
                ("expected_response", exp),
            ],
        );
        w.push(&s, ts, *n as f64);
    }
    for (reason, n) in &stats.errors {
        let s = series(
            "redline_http_request_errors_total",
            &base,
            &[req_labels[0], ("reason", reason)],
        );
        w.push(&s, ts, *n as f64);
    }
    for (i, le) in BUCKETS.iter().enumerate() {
        let le = format!("{le}");
        let s = series(
            "k6_http_req_duration_seconds_bucket",
            &base,
            &[req_labels[0], req_labels[1], ("le", &le)],
        );
        w.push(&s, ts, stats.buckets[i] as f64);
    }
    let inf = series(
        "k6_http_req_duration_seconds_bucket",
        &base,
        &[req_labels[0], req_labels[1], ("le", "+Inf")],
    );
    w.push(&inf, ts, stats.count as f64);
    w.push(
        &series("k6_http_req_duration_seconds_count", &base, &req_labels),
        ts,
        stats.count as f64,
    );
    w.push(
        &series("k6_http_req_duration_seconds_sum", &base, &req_labels),
        ts,
        stats.sum,
    );
    w.push(
        &series("redline_step_level", &base, &[("unit", "vus")]),
        ts,
        level_value,
    );
    w.push(&series("k6_vus", &base, &[]), ts, level_value);
}

/// Runs the steps one after another against `base_url`, writing every second.
pub async fn run(
    write_url: &str,
    testid: &str,
    scenario: &str,
    base_url: &str,
    steps: Vec<Step>,
) -> Totals {
    let mut cfg = Config::new(write_url);
    cfg.batch_send_deadline = Duration::from_millis(200);
    let writer = RemoteWriter::start(cfg).expect("remote writer");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut totals = Totals {
        requests: 0,
        responded: 0,
    };
    for step in &steps {
        let stats = Arc::new(Mutex::new(Stats::default()));
        let until = Instant::now() + step.duration;
        let url = format!("{base_url}{}", step.path);
        let workers: Vec<_> = (0..step.vus)
            .map(|_| tokio::spawn(worker(client.clone(), url.clone(), stats.clone(), until)))
            .collect();
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_secs(1)).await;
            push_step(
                &writer,
                testid,
                scenario,
                step,
                &stats.lock().unwrap(),
                step.vus as f64,
            );
        }
        for w in workers {
            w.await.unwrap();
        }
        let s = stats.lock().unwrap();
        push_step(&writer, testid, scenario, step, &s, step.vus as f64);
        totals.requests += s.reqs.values().sum::<u64>();
        totals.responded += s.count;
        // The step is over: its level series ends now, not 5 minutes later.
        let base = [
            ("testid", testid),
            ("scenario", scenario),
            ("step", step.name),
        ];
        let ts = now_millis() + 1;
        writer.push(
            &series("redline_step_level", &base, &[("unit", "vus")]),
            ts,
            stale_nan(),
        );
        writer.push(&series("k6_vus", &base, &[]), ts, stale_nan());
    }
    let report = writer.shutdown(Duration::from_secs(5)).await;
    assert!(report.completed, "remote write did not flush: {report:?}");
    totals
}

/// A loopback port nothing listens on.
/// A loopback port that refuses connections for as long as the returned socket lives:
/// bound but never listening, so no server started by a concurrent test can take it
/// (a port merely bound and released could be handed to one).
pub fn closed_port() -> (u16, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    (socket.local_addr().unwrap().port(), socket)
}
