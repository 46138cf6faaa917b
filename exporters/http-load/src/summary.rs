//! End of run: k6's `handleSummary` data (`--summary-export`), its terminal summary, and a
//! per-step table (the MaaS plan's result tables) — all read from the same merged snapshot
//! the collector writes series from.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::engine::StepTiming;
use crate::metrics::{Metrics, Phases, Shard, StepKey, Timed, TrendStat};

/// The default `--summary-trend-stats`: k6's (`avg,min,med,max,p(90),p(95)`) plus p(99),
/// which the seeds judge on.
pub const DEFAULT_TREND_STATS: &str = "avg,min,med,max,p(90),p(95),p(99)";

/// Checks `--summary-trend-stats` names (k6's: avg, min, med, max, count, p(N)).
pub fn parse_trend_stats(list: &[String]) -> Result<Vec<String>, String> {
    let stats: Vec<String> = list
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    for s in &stats {
        if s != "count" {
            TrendStat::parse(s).map_err(|e| format!("--summary-trend-stats: {e}, or count"))?;
        }
    }
    if stats.is_empty() {
        return Err("--summary-trend-stats: name at least one stat, e.g. p(95),p(99)".into());
    }
    Ok(stats)
}

/// One row of the per-step table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepRow {
    pub scenario: String,
    pub step: String,
    pub level: f64,
    pub unit: String,
    pub duration_s: f64,
    pub requests: u64,
    pub actual_rps: f64,
    pub iterations: u64,
    pub dropped_iterations: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub success_rate: f64,
    /// No response (status 0) or 5xx.
    pub errors: u64,
    pub rate_limited: u64,
}

/// Everything the end of a run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    /// k6 `handleSummary` data plus `steps`.
    pub data: Value,
    pub steps: Vec<StepRow>,
}

/// A trend's `values` under k6's keys (`p(99)`, `med`, …), as `--summary-export` writes them.
fn trend(t: &Timed, scale_ms: f64, stats: &[String]) -> Value {
    let mut values = serde_json::Map::new();
    for s in stats {
        let v = match TrendStat::parse(s) {
            Ok(stat) => json!(stat.of(t) * scale_ms),
            // `count`: how many values (k6 writes it as a plain number).
            Err(_) => json!(t.hist.len()),
        };
        values.insert(s.clone(), v);
    }
    json!({"type": "trend", "contains": "time", "values": values})
}

fn merged<'a>(it: impl Iterator<Item = &'a Timed>, sigfig: u8) -> Timed {
    let mut out = Timed::new(sigfig);
    for t in it {
        out.add(t);
    }
    out
}

fn counter(count: u64, secs: f64, contains: &str) -> Value {
    json!({"type": "counter", "contains": contains, "values": {"count": count, "rate": count as f64 / secs.max(1e-9)}})
}

fn rate(passes: u64, fails: u64) -> Value {
    json!({"type": "rate", "contains": "default", "values": {"rate": passes as f64 / (passes + fails).max(1) as f64, "passes": passes, "fails": fails}})
}

/// A short stable id for a check (k6 uses an md5 of the group path; only the shape matters).
fn id(s: &str) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in s.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    format!("{h:032x}")
}

pub fn build(
    m: &Metrics,
    snap: &Shard,
    timings: &[StepTiming],
    run: Duration,
    stats: &[String],
    stdout_tty: bool,
    stderr_tty: bool,
) -> Summary {
    let secs = run.as_secs_f64();
    let total_reqs: u64 = snap.reqs.values().map(|(n, _)| n).sum();
    let ok_reqs: u64 = snap
        .reqs
        .iter()
        .filter(|(k, _)| m.expected(k.status))
        .map(|(_, (n, _))| n)
        .sum();
    let mut metrics = serde_json::Map::new();
    let dur = merged(snap.reqs.values().map(|(_, t)| t), 3);
    let dur_ok = merged(
        snap.reqs
            .iter()
            .filter(|(k, _)| m.expected(k.status))
            .map(|(_, (_, t))| t),
        3,
    );
    let steps = || snap.steps.values();
    metrics.insert("http_reqs".into(), counter(total_reqs, secs, "default"));
    metrics.insert("http_req_duration".into(), trend(&dur, 1e-3, stats));
    metrics.insert(
        "http_req_duration{expected_response:true}".into(),
        trend(&dur_ok, 1e-3, stats),
    );
    metrics.insert(
        "http_req_failed".into(),
        rate(total_reqs - ok_reqs, ok_reqs),
    );
    // k6's phases, from the same cells as the k6_http_req_*_seconds series.
    for (i, (_, key)) in Phases::NAMES.iter().enumerate() {
        metrics.insert(
            (*key).into(),
            trend(
                &merged(snap.phases.values().map(|p| p.get(i)), 2),
                1e-3,
                stats,
            ),
        );
    }
    metrics.insert(
        "iteration_duration".into(),
        trend(&merged(steps().map(|c| &c.iteration), 2), 1e-3, stats),
    );
    metrics.insert(
        "iterations".into(),
        counter(steps().map(|c| c.iterations).sum(), secs, "default"),
    );
    let dropped: u64 = steps().map(|c| c.dropped).sum();
    if dropped > 0 {
        metrics.insert(
            "dropped_iterations".into(),
            counter(dropped, secs, "default"),
        );
    }
    metrics.insert(
        "data_sent".into(),
        counter(steps().map(|c| c.sent).sum(), secs, "data"),
    );
    metrics.insert(
        "data_received".into(),
        counter(steps().map(|c| c.received).sum(), secs, "data"),
    );
    let (cp, cf) = snap
        .checks
        .values()
        .fold((0, 0), |(p, f), (a, b)| (p + a, f + b));
    if cp + cf > 0 {
        metrics.insert("checks".into(), rate(cp, cf));
    }
    metrics.insert("success_rate".into(), rate(ok_reqs, total_reqs - ok_reqs));
    let vus_max: u64 = m
        .gauges
        .iter()
        .map(|g| g.vus_max.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    metrics.insert("vus".into(), json!({"type": "gauge", "contains": "default", "values": {"value": vus_max, "min": 0, "max": vus_max}}));
    metrics.insert("vus_max".into(), json!({"type": "gauge", "contains": "default", "values": {"value": vus_max, "min": vus_max, "max": vus_max}}));
    let (tp, tc) = snap.llm.values().fold((0, 0), |(p, c), l| {
        (p + l.prompt_tokens, c + l.completion_tokens)
    });
    if tp + tc > 0 {
        metrics.insert("llm_prompt_tokens".into(), counter(tp, secs, "default"));
        metrics.insert("llm_completion_tokens".into(), counter(tc, secs, "default"));
        let ttft = merged(snap.llm.values().map(|l| &l.ttft), 2);
        if !ttft.hist.is_empty() {
            metrics.insert("llm_time_to_first_token".into(), trend(&ttft, 1e-3, stats));
            metrics.insert(
                "llm_inter_token_latency".into(),
                trend(&merged(snap.llm.values().map(|l| &l.itl), 2), 1e-3, stats),
            );
        }
    }

    let mut checks = Vec::new();
    let mut by_check: BTreeMap<u16, (u64, u64)> = BTreeMap::new();
    for ((c, _), (p, f)) in &snap.checks {
        let e = by_check.entry(*c).or_default();
        e.0 += p;
        e.1 += f;
    }
    for (c, (p, f)) in by_check {
        let name = &m.labels.checks[c as usize].1;
        checks.push(json!({"name": name, "path": format!("::{name}"), "id": id(&format!("::{name}")), "passes": p, "fails": f}));
    }

    let rows = step_rows(m, snap, timings);
    let data = json!({
        "root_group": {"name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e", "groups": [], "checks": checks},
        "options": {"summaryTrendStats": stats, "summaryTimeUnit": "", "noColor": false},
        "state": {"isStdOutTTY": stdout_tty, "isStdErrTTY": stderr_tty, "testRunDurationMs": run.as_secs_f64() * 1000.0},
        "metrics": metrics,
        "steps": rows,
    });
    Summary { data, steps: rows }
}

fn step_rows(m: &Metrics, snap: &Shard, timings: &[StepTiming]) -> Vec<StepRow> {
    let lb = &m.labels;
    let mut rows = Vec::new();
    for t in timings {
        let in_step = |req: u16, step: u16| {
            step == t.step && lb.requests[req as usize].scenario == t.scenario
        };
        let reqs: Vec<_> = snap
            .reqs
            .iter()
            .filter(|(k, _)| in_step(k.req, k.step))
            .collect();
        let n: u64 = reqs.iter().map(|(_, (n, _))| n).sum();
        let ok: u64 = reqs
            .iter()
            .filter(|(k, _)| m.expected(k.status))
            .map(|(_, (n, _))| n)
            .sum();
        let errors: u64 = reqs
            .iter()
            .filter(|(k, _)| k.status == 0 || k.status >= 500)
            .map(|(_, (n, _))| n)
            .sum();
        let limited: u64 = reqs
            .iter()
            .filter(|(k, _)| k.status == 429)
            .map(|(_, (n, _))| n)
            .sum();
        let d = m.step_duration(snap, t.scenario, t.step);
        let q = |x: f64| {
            if d.hist.is_empty() {
                0.0
            } else {
                d.hist.value_at_quantile(x) as f64 / 1000.0
            }
        };
        let cell = snap.steps.get(&StepKey {
            scenario: t.scenario,
            step: t.step,
        });
        let secs = t.end.saturating_duration_since(t.start).as_secs_f64();
        let st = &lb.steps[t.scenario as usize][t.step as usize];
        rows.push(StepRow {
            scenario: lb.scenarios[t.scenario as usize].clone(),
            step: st.label.clone(),
            level: st.level,
            unit: st.unit.clone(),
            duration_s: secs,
            requests: n,
            actual_rps: n as f64 / secs.max(1e-9),
            iterations: cell.map_or(0, |c| c.iterations),
            dropped_iterations: cell.map_or(0, |c| c.dropped),
            p50_ms: q(0.5),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            success_rate: ok as f64 / n.max(1) as f64,
            errors,
            rate_limited: limited,
        });
    }
    rows
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else if ms >= 1.0 {
        format!("{ms:.2}ms")
    } else {
        format!("{:.2}µs", ms * 1000.0)
    }
}

fn fmt_bytes(b: f64) -> String {
    match b {
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kB", b / 1e3),
        b => format!("{b:.0} B"),
    }
}

/// k6-style text: the metrics block, then the per-step table.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let m = &s.data["metrics"];
    let line = |out: &mut String, name: &str, value: String| {
        let dots = ".".repeat(32usize.saturating_sub(name.len()));
        let _ = writeln!(out, "     {name}{dots}: {value}");
    };
    let v = |k: &str, f: &str| m[k]["values"][f].as_f64().unwrap_or(0.0);
    let stats: Vec<&str> = s.data["options"]["summaryTrendStats"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let mut names: Vec<&String> = m
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    names.sort();
    for name in names {
        let x = &m[name.as_str()];
        let text = match x["type"].as_str() {
            Some("trend") => stats
                .iter()
                .map(|st| match *st {
                    "count" => format!("{st}={}", v(name, st)),
                    _ => format!("{st}={}", fmt_ms(v(name, st))),
                })
                .collect::<Vec<_>>()
                .join(" "),
            Some("rate") => format!(
                "{:.2}% {} out of {}",
                v(name, "rate") * 100.0,
                v(name, "passes"),
                v(name, "passes") + v(name, "fails")
            ),
            Some("counter") if x["contains"] == "data" => format!(
                "{} {}/s",
                fmt_bytes(v(name, "count")),
                fmt_bytes(v(name, "rate"))
            ),
            Some("counter") => format!("{} {:.2}/s", v(name, "count"), v(name, "rate")),
            _ => format!(
                "{} min={} max={}",
                v(name, "value"),
                v(name, "min"),
                v(name, "max")
            ),
        };
        line(&mut out, name, text);
    }
    if !s.steps.is_empty() {
        let _ = writeln!(out, "\n  steps:");
        let _ = writeln!(
            out,
            "  {:<14} {:<6} {:>10} {:>10} {:>9} {:>10} {:>10} {:>9} {:>7} {:>8} {:>7}",
            "scenario",
            "step",
            "level",
            "reqs",
            "rps",
            "p50",
            "p95",
            "success",
            "errors",
            "limited",
            "dropped"
        );
        for r in &s.steps {
            let level = if r.unit == "rate" {
                format!("{}/s", r.level)
            } else {
                format!("{} {}", r.level, r.unit)
            };
            let _ = writeln!(
                out,
                "  {:<14} {:<6} {:>10} {:>10} {:>9.1} {:>10} {:>10} {:>8.2}% {:>7} {:>8} {:>7}",
                r.scenario,
                r.step,
                level,
                r.requests,
                r.actual_rps,
                fmt_ms(r.p50_ms),
                fmt_ms(r.p95_ms),
                r.success_rate * 100.0,
                r.errors,
                r.rate_limited,
                r.dropped_iterations
            );
        }
    }
    out
}
