//! The collector: on each collection, merges the shards and writes every k6/redline family
//! from the snapshot (the summary reads the same snapshot, so the two never disagree).
//! Families are written in a fixed order, each from rows sorted by key.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use redline_catalogue::http_load as cat;

use super::cells::{LlmCell, Phases, StepCell};
use super::export::US;
use super::families::{counter, gauge, histogram, tagged};
use super::gauges::ScenarioGauges;
use super::recorder::Metrics;
use super::series::SeriesLabels;
use super::shard::Shard;
use super::timed::Timed;

type Written = Result<(), std::fmt::Error>;

/// The collector: merges shards on each collection and writes every family.
#[derive(Debug)]
pub struct MetricsCollector(pub Arc<Metrics>);

impl Collector for MetricsCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Written {
        let m = &*self.0;
        let snap = m.snapshot();
        let labels = SeriesLabels::new(m, &snap);
        let enc = &mut enc;
        requests(enc, m, &labels, &snap)?;
        phases(enc, &labels, &snap)?;
        errors(enc, &labels, &snap)?;
        trend_stats(enc, m, &labels, &snap)?;
        steps(enc, &labels, &snap)?;
        step_spans(enc, m, &snap)?;
        checks(enc, &labels, &snap)?;
        live_gauges(enc, m)?;
        llm(enc, &labels, &snap)
    }
}

/// `map`'s entries sorted by key.
fn sorted<K: Ord + Copy, V, S>(map: &std::collections::HashMap<K, V, S>) -> Vec<(K, &V)> {
    let mut rows: Vec<_> = map.iter().map(|(k, v)| (*k, v)).collect();
    rows.sort_by_key(|(k, _)| *k);
    rows
}

/// `http_reqs` and `http_req_duration` per response; the failed rate and the 429s per
/// request, step and tier.
fn requests(enc: &mut DescriptorEncoder, m: &Metrics, sl: &SeriesLabels, s: &Shard) -> Written {
    let reqs = sorted(&s.reqs);
    counter(
        enc,
        &cat::HTTP_REQS,
        &reqs
            .iter()
            .map(|(k, (n, _))| (sl.response(k), *n as f64))
            .collect::<Vec<_>>(),
    )?;
    histogram(
        enc,
        &cat::HTTP_REQ_DURATION,
        &reqs
            .iter()
            .map(|(k, (_, t))| (sl.response(k), t))
            .collect::<Vec<_>>(),
        US,
    )?;

    let mut failed: BTreeMap<(u16, u16, u16), (u64, u64)> = BTreeMap::new();
    let mut limited: BTreeMap<(u16, u16, u16), u64> = BTreeMap::new();
    for (k, (n, _)) in &reqs {
        let e = failed.entry((k.req, k.step, k.tier)).or_default();
        e.1 += n;
        if !m.expected(k.status) {
            e.0 += n;
        }
        if k.status == 429 {
            *limited.entry((k.req, k.step, k.tier)).or_default() += n;
        }
    }
    gauge(
        enc,
        &cat::HTTP_REQ_FAILED,
        &failed
            .iter()
            .map(|((r, st, tier), (f, n))| {
                (
                    sl.request_tier(*r, *st, *tier),
                    *f as f64 / (*n).max(1) as f64,
                )
            })
            .collect::<Vec<_>>(),
    )?;
    counter(
        enc,
        &cat::RATE_LIMITED,
        &limited
            .iter()
            .map(|((r, st, tier), n)| {
                let mut l = sl.request_tier(*r, *st, *tier);
                l.retain(|(key, _)| *key != "method");
                (l, *n as f64)
            })
            .collect::<Vec<_>>(),
    )
}

/// k6's request phases, with the labels of the response they belong to.
fn phases(enc: &mut DescriptorEncoder, sl: &SeriesLabels, s: &Shard) -> Written {
    let phases = sorted(&s.phases);
    for (i, (family, _)) in Phases::NAMES.iter().enumerate() {
        let rows: Vec<_> = phases
            .iter()
            .map(|(k, p)| (k, p.get(i)))
            .filter(|(_, t)| !t.hist.is_empty())
            .map(|(k, t)| (sl.response(k), t))
            .collect();
        histogram(enc, family, &rows, US)?;
    }
    Ok(())
}

/// Requests that got no response, by reason.
fn errors(enc: &mut DescriptorEncoder, sl: &SeriesLabels, s: &Shard) -> Written {
    counter(
        enc,
        &cat::REQUEST_ERRORS,
        &sorted(&s.errors)
            .iter()
            .map(|((r, st, reason), n)| {
                let mut l = sl.request(*r, *st);
                l.retain(|(key, _)| *key != "method");
                l.push(("reason", reason.as_str()));
                (l, **n as f64)
            })
            .collect::<Vec<_>>(),
    )
}

/// Trend-stat gauges (`--trend-stats`): cumulative per (request, step), like k6's.
fn trend_stats(enc: &mut DescriptorEncoder, m: &Metrics, sl: &SeriesLabels, s: &Shard) -> Written {
    if m.trend_stats.is_empty() {
        return Ok(());
    }
    let mut merged: BTreeMap<(u16, u16), Timed> = BTreeMap::new();
    for (k, (_, t)) in &s.reqs {
        merged
            .entry((k.req, k.step))
            .or_insert_with(|| Timed::new(3))
            .add(t);
    }
    for stat in &m.trend_stats {
        let name = format!("k6_http_req_duration_{}", stat.suffix());
        // `--trend-stats` takes only the catalogued stats (lib.rs), so none is skipped here.
        let Some(family) = cat::TREND_STATS.iter().find(|f| f.name == name) else {
            continue;
        };
        let rows: Vec<_> = merged
            .iter()
            .map(|((r, st), t)| (sl.request(*r, *st), stat.value(t)))
            .collect();
        gauge(enc, family, &rows)?;
    }
    Ok(())
}

/// Per scenario and step: iterations, dropped iterations, bytes, iteration duration.
fn steps(enc: &mut DescriptorEncoder, sl: &SeriesLabels, s: &Shard) -> Written {
    let steps = sorted(&s.steps);
    let per_step = |f: fn(&StepCell) -> u64| {
        steps
            .iter()
            .map(|(k, c)| (sl.step(k), f(c) as f64))
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
            .map(|(k, c)| (sl.step(k), &c.iteration))
            .collect::<Vec<_>>(),
        US,
    )
}

/// Each scenario's index, live gauges, name and tags.
fn scenarios(
    m: &Metrics,
) -> impl Iterator<Item = (usize, &ScenarioGauges, &str, &[(String, String)])> {
    let lb = &m.labels;
    m.gauges.iter().enumerate().map(|(i, g)| {
        let tags = lb.scenario_tags(i as u16);
        (i, g, lb.scenarios[i].as_str(), tags)
    })
}

/// Quantiles of `redline_step_http_req_duration_seconds`.
const STEP_QUANTILES: [(&str, f64); 3] = [("0.5", 0.5), ("0.95", 0.95), ("0.99", 0.99)];

/// Each started step's exact start and end, and its duration quantiles from its own
/// histogram: what the verdict reads instead of guessing a step from pushed samples.
fn step_spans(enc: &mut DescriptorEncoder, m: &Metrics, s: &Shard) -> Written {
    let lb = &m.labels;
    let mut started = Vec::new();
    let mut ended = Vec::new();
    let mut quantiles = Vec::new();
    for (i, g, scenario, tags) in scenarios(m) {
        for span in g.spans() {
            let l = tagged(
                vec![
                    ("scenario", scenario),
                    ("step", lb.step_label(i as u16, span.step)),
                ],
                tags,
            );
            started.push((l.clone(), span.start));
            if let Some(end) = span.end {
                ended.push((l.clone(), end));
            }
            let d = m.step_duration(s, i as u16, span.step);
            if d.hist.is_empty() {
                continue;
            }
            for (q, x) in STEP_QUANTILES {
                let mut lq = l.clone();
                lq.insert(2, ("quantile", q));
                quantiles.push((lq, d.hist.value_at_quantile(x) as f64 / 1e6));
            }
        }
    }
    gauge(enc, &cat::STEP_STARTED, &started)?;
    gauge(enc, &cat::STEP_ENDED, &ended)?;
    gauge(enc, &cat::STEP_DURATION, &quantiles)
}

/// k6's checks rate and redline's pass/fail counts, per check and step.
fn checks(enc: &mut DescriptorEncoder, sl: &SeriesLabels, s: &Shard) -> Written {
    let checks = sorted(&s.checks);
    gauge(
        enc,
        &cat::CHECKS,
        &checks
            .iter()
            .map(|((c, st), (p, f))| (sl.check(*c, *st), *p as f64 / (p + f).max(1) as f64))
            .collect::<Vec<_>>(),
    )?;
    let mut check_totals = Vec::new();
    for ((c, st), (p, f)) in &checks {
        for (result, n) in [("pass", p), ("fail", f)] {
            let mut l = sl.check(*c, *st);
            l.push(("result", result));
            check_totals.push((l, *n as f64));
        }
    }
    counter(enc, &cat::CHECKS_TOTAL, &check_totals)
}

/// The engine's live gauges: VUs, the asked-for rate and the running step's level.
fn live_gauges(enc: &mut DescriptorEncoder, m: &Metrics) -> Written {
    let lb = &m.labels;
    let mut vus = Vec::new();
    let mut vus_max = Vec::new();
    let mut rate = Vec::new();
    let mut level = Vec::new();
    for (i, g, scenario, tags) in scenarios(m) {
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
        with_unit.push(("unit", st.unit.as_str()));
        level.push((with_unit, st.level));
    }
    gauge(enc, &cat::VUS, &vus)?;
    gauge(enc, &cat::VUS_MAX, &vus_max)?;
    gauge(enc, &cat::TARGET_RATE, &rate)?;
    gauge(enc, &cat::STEP_INFO, &level)
}

/// OpenAI figures: tokens by kind; time to first token, inter-token latency and output
/// tokens per second of streamed responses.
fn llm(enc: &mut DescriptorEncoder, sl: &SeriesLabels, s: &Shard) -> Written {
    let llm = sorted(&s.llm);
    let mut tokens = Vec::new();
    for ((sc, st, tier), c) in &llm {
        for (kind, n) in [
            ("prompt", c.prompt_tokens),
            ("completion", c.completion_tokens),
        ] {
            let mut l = sl.llm(*sc, *st, *tier);
            l.push(("kind", kind));
            tokens.push((l, n as f64));
        }
    }
    counter(enc, &cat::LLM_TOKENS, &tokens)?;
    let streamed = |f: fn(&LlmCell) -> &Timed| {
        llm.iter()
            .filter(|(_, c)| !f(c).hist.is_empty())
            .map(|((sc, st, tier), c)| (sl.llm(*sc, *st, *tier), f(c)))
            .collect::<Vec<_>>()
    };
    histogram(enc, &cat::LLM_TTFT, &streamed(|c| &c.ttft), US)?;
    histogram(enc, &cat::LLM_ITL, &streamed(|c| &c.itl), US)?;
    histogram(enc, &cat::LLM_OUTPUT_TPS, &streamed(|c| &c.tps_milli), 1e-3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::keys::{ReqKey, StepKey};
    use crate::metrics::labels::{Labels, Tags};

    /// The first step of the first scenario.
    const FIRST_STEP: StepKey = StepKey {
        scenario: 0,
        step: 0,
    };

    /// Requests of the first request of the first step, answered `status`.
    fn first_request(status: u16) -> ReqKey {
        ReqKey {
            req: 0,
            step: 0,
            tier: 0,
            status,
        }
    }

    fn text(m: &Arc<Metrics>) -> String {
        let mut reg = prometheus_client::registry::Registry::default();
        reg.register_collector(Box::new(MetricsCollector(Arc::clone(m))));
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &reg).unwrap();
        s
    }

    /// With every kind of figure recorded and every trend stat asked for, the collector
    /// writes exactly the catalogue's families, each as its kind and with its keys: the
    /// runtime's catalogue check, the one every daemon's registry is held to.
    #[test]
    fn every_catalogued_family_is_written_as_catalogued() {
        let mut labels = Labels::one_request();
        labels.steps[0][0].unit = "rate".into();
        labels.checks = vec![(0, "ok".into())];
        let trend_stats = [
            "p(95)", "p(50)", "p(90)", "p(99)", "p(99.9)", "avg", "min", "max", "med",
        ]
        .iter()
        .map(|s| crate::metrics::TrendStat::parse(s).unwrap())
        .collect();
        let m = Arc::new(Metrics::new(labels, None, trend_stats));
        let key = first_request(429);
        m.with(|s| {
            s.request(key, 3_000);
            let p = s.phases(key);
            for t in [
                &mut p.blocked,
                &mut p.sending,
                &mut p.waiting,
                &mut p.receiving,
                &mut p.connecting,
                &mut p.tls,
            ] {
                t.record(10);
            }
            s.error(0, 0, crate::metrics::ErrorReason::Timeout);
            s.step(FIRST_STEP).iteration.record(3_100);
            s.check(0, 0, true);
            let llm = s.llm(0, 0, 0);
            llm.ttft.record(100);
            llm.itl.record(10);
            llm.tps_milli.record(50_000);
        });
        let g = &m.gauges[0];
        g.step.store(0, Ordering::Relaxed);
        g.step_started(0, 1.0);
        g.step_ended(0, 2.0);

        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(MetricsCollector(Arc::clone(&m))));
        let problems = redline_runtime::catalogue_mismatches(&registry, cat::ALL);
        assert!(problems.is_empty(), "{problems:?}");
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
                ..Labels::one_request()
            },
            None,
            vec![],
        ));
        let key = first_request(200);
        m.with(|s| {
            s.request(key, 3_000);
            let p = s.phases(key);
            p.blocked.record(10);
            p.sending.record(20);
            p.waiting.record(2_500);
            p.receiving.record(480);
            p.connecting.record(100);
            s.step(FIRST_STEP).iteration.record(3_100);
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
}
