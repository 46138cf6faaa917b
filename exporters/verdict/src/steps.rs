//! The seeds' per-step tables, read from the recorded `redline:` series, and the MaaS plan's
//! findings template.
//!
//! A step is one `redline_step_level` series (Locust: `locust_users` with a `step` label).
//! http-load records each step's exact start and end and its whole-step duration quantiles
//! as it runs (`redline_step_started_timestamp_seconds`,
//! `redline_step_ended_timestamp_seconds`, `redline_step_http_req_duration_seconds`): the span, actual RPS (requests / span),
//! p50/p95/p99 and success (429s apart) are then the generator's own per-step figures,
//! whatever the push interval. Without them (Locust, k6), the span runs from the level
//! series' first to last sample (marked `~`: off by up to a push interval at each end),
//! latency and success are the recorded signals at the step's end, and actual RPS is the
//! counters' increase over that span. Counts (requests, errors, 429s) are always the step's
//! counter totals.

use std::collections::BTreeMap;

use crate::prom::{PromClient, PromError, Series, quote};
use crate::report::{ChartSeries, Findings, FiredAlert, StepClass, StepRow};
use crate::window::Window;

/// Alerts that mean "could not send the asked rate" (the MaaS rate test's Saturated).
const SATURATION_ALERTS: &[&str] = &[
    "RedlineSaturated",
    "RedlineDroppedIterations",
    LATENCY_RISING_ALERT,
];

/// The MaaS rate test's whole Saturated ("actual RPS < target, latency increasing"):
/// short of the rate while p95 rose over the baseline step's (alerts/maas.yml).
pub const LATENCY_RISING_ALERT: &str = "RedlineSaturatedLatencyRising";

type Key = (String, String);

fn key_of(s: &Series) -> Key {
    (s.label("scenario").to_string(), s.label("step").to_string())
}

pub async fn table(
    client: &PromClient,
    testid: &str,
    win: Window,
    res: f64,
    alerts: &[FiredAlert],
) -> Result<(Vec<StepRow>, Vec<ChartSeries>), PromError> {
    let t = quote(testid);
    let mut rows = spans(client, &t, win, res).await?;

    // Counter totals per step, at the window's end over the whole window.
    let w = (win.duration().ceil() + 1.0).max(1.0);
    let total = |sel_k6: String, sel_locust: String| {
        format!(
            "sum by (scenario, step) (max_over_time({sel_k6}[{w}s])) or sum by (scenario, step) (max_over_time({sel_locust}[{w}s]))"
        )
    };
    let increase = format!(
        "sum by (scenario, step) (max_over_time(k6_http_reqs_total{{testid={t}}}[{w}s]) - min_over_time(k6_http_reqs_total{{testid={t}}}[{w}s])) or sum by (scenario, step) (max_over_time(locust_requests_total{{testid={t}}}[{w}s]) - min_over_time(locust_requests_total{{testid={t}}}[{w}s]))"
    );
    // Each total is one figure per (scenario, step), at the window's end.
    let at_end = async |q: &str| Ok::<_, PromError>(by_key(client.query(q, win.to).await?));
    let requests = at_end(&total(
        format!("k6_http_reqs_total{{testid={t}}}"),
        format!("locust_requests_total{{testid={t}}}"),
    ))
    .await?;
    let errors = at_end(&total(
        format!("k6_http_reqs_total{{testid={t},status=~\"5..|0\"}}"),
        format!("locust_failures_total{{testid={t}}}"),
    ))
    .await?;
    let limited = at_end(&total(
        format!("k6_http_reqs_total{{testid={t},status=\"429\"}}"),
        format!("locust_errors_total{{testid={t},error=~\".*429.*\"}}"),
    ))
    .await?;
    let increases = at_end(&increase).await?;
    // http-load's own per-step records: exact spans, whole-step quantiles, and the
    // success counts (429s kept apart, as the success rule does).
    let last = |name: &str, by: &str| {
        format!("max by (scenario, step{by}) (last_over_time({name}{{testid={t}}}[{w}s]))")
    };
    let started = at_end(&last("redline_step_started_timestamp_seconds", "")).await?;
    let ended = at_end(&last("redline_step_ended_timestamp_seconds", "")).await?;
    let mut quantiles: BTreeMap<(Key, String), f64> = BTreeMap::new();
    for s in client
        .query(
            &last("redline_step_http_req_duration_seconds", ", quantile"),
            win.to,
        )
        .await?
    {
        if let Some(v) = s.last() {
            quantiles.insert((key_of(&s), s.label("quantile").to_string()), v);
        }
    }
    let counted = |sel: &str| {
        format!(
            "sum by (scenario, step) (max_over_time(k6_http_reqs_total{{testid={t}{sel}}}[{w}s]))"
        )
    };
    let not_limited = at_end(&counted(",status!=\"429\"")).await?;
    let succeeded = at_end(&counted(",status!=\"429\",expected_response=\"true\"")).await?;
    for row in &mut rows {
        let k = (row.scenario.clone(), row.step.clone());
        if let (Some(s), Some(e)) = (started.get(&k), ended.get(&k)) {
            row.start = *s;
            row.end = *e;
            row.exact = true;
        }
    }

    // Recorded signals over the window.
    let signal = |name: &str| format!("{name}{{testid={t}}}");
    let end = win.to + res;
    let mut recorded: BTreeMap<&str, BTreeMap<Key, Series>> = BTreeMap::new();
    for (short, name) in [
        ("p50", "redline:http_req_duration_seconds:p50"),
        ("p95", "redline:http_req_duration_seconds:p95"),
        ("p99", "redline:http_req_duration_seconds:p99"),
        ("success", "redline:http_success:ratio1m"),
        ("rps", "redline:http_reqs:rate1m"),
        ("target", "redline:target_rate"),
    ] {
        let series = client
            .query_range(&signal(name), win.from, end, res)
            .await?;
        recorded.insert(short, series.into_iter().map(|s| (key_of(&s), s)).collect());
    }

    // Throughput for the chart: the counters' increase between their last two pushes
    // (`irate`), so a point is what was measured in that push interval. A `rate()` window
    // (let alone the recorded 1-minute rate) would draw a ramp from 0 through each step
    // that never happened.
    let short = (3.0 * res).max(10.0);
    let throughput = client
        .query_range(
            &format!(
                "sum by (scenario, step) (irate(k6_http_reqs_total{{testid={t}}}[{short}s])) or sum by (scenario, step) (irate(locust_requests_total{{testid={t}}}[{short}s]))"
            ),
            win.from,
            end,
            res,
        )
        .await?;
    recorded.insert(
        "throughput",
        throughput.into_iter().map(|s| (key_of(&s), s)).collect(),
    );

    // Steps without a level series still get a row (k6's own output, no steps).
    if rows.is_empty() {
        for k in requests.keys() {
            let span = recorded["rps"]
                .get(k)
                .map(|s| {
                    (
                        s.samples.first().map(|p| p.0).unwrap_or(win.from),
                        s.samples.last().map(|p| p.0).unwrap_or(win.to),
                    )
                })
                .unwrap_or((win.from, win.to));
            rows.push(StepRow {
                scenario: k.0.clone(),
                step: k.1.clone(),
                start: span.0.max(win.from),
                end: span.1.min(win.to),
                ..Default::default()
            });
        }
    }

    let mut charts = Vec::new();
    for row in &mut rows {
        let k = (row.scenario.clone(), row.step.clone());
        let at_end = |short: &str| -> Option<f64> {
            let s = recorded.get(short)?.get(&k)?;
            s.samples
                .iter()
                .rfind(|p| p.0 <= row.end + res && p.1.is_finite())
                .map(|p| p.1)
        };
        let whole_step = |q: &str| quantiles.get(&(k.clone(), q.to_string())).copied();
        row.p50_seconds = whole_step("0.5").or_else(|| at_end("p50"));
        row.p95_seconds = whole_step("0.95").or_else(|| at_end("p95"));
        row.p99_seconds = whole_step("0.99").or_else(|| at_end("p99"));
        row.success_ratio = match (row.exact, not_limited.get(&k)) {
            (true, Some(n)) if *n > 0.0 => Some(succeeded.get(&k).copied().unwrap_or(0.0) / n),
            _ => at_end("success"),
        };
        if row.level.is_none() {
            row.level = at_end("target");
        }
        row.requests = requests.get(&k).copied();
        let duration = row.end - row.start;
        row.actual_rps = match (increases.get(&k), row.requests) {
            // Exact span: every request of the step over exactly its duration, the
            // figure the generator's own summary prints.
            (_, Some(n)) if row.exact && duration > 0.0 => Some(n / duration),
            (Some(inc), _) if duration >= 1.0 => Some(inc / duration),
            _ => at_end("rps"),
        };
        if let Some(n) = row.requests.filter(|n| *n > 0.0) {
            let e = errors.get(&k).copied().unwrap_or(0.0);
            let l = limited.get(&k).copied().unwrap_or(0.0);
            row.errors = Some(e);
            row.error_ratio = Some(e / n);
            row.rate_limited = Some(l);
            row.rate_limited_ratio = Some(l / n);
        }
        let mine: Vec<&FiredAlert> = alerts
            .iter()
            .filter(|a| a.scenario == row.scenario && a.step == row.step)
            .collect();
        row.alerts = mine.iter().map(|a| a.alertname.clone()).collect();
        row.alerts.sort();
        row.alerts.dedup();
        row.breaking_alerts = mine
            .iter()
            .filter(|a| a.severity == "breaking")
            .map(|a| a.alertname.clone())
            .collect();
        row.breaking_alerts.sort();
        row.breaking_alerts.dedup();
        row.saturated = mine
            .iter()
            .any(|a| SATURATION_ALERTS.contains(&a.alertname.as_str()));
        let has_data = row.requests.is_some() || row.p95_seconds.is_some();
        row.class = Some(classify(has_data, mine.iter().map(|a| a.severity.as_str())));

        for (short, signal) in [
            ("p50", "p50"),
            ("p95", "p95"),
            ("p99", "p99"),
            ("throughput", "rps"),
        ] {
            if let Some(s) = recorded.get(short).and_then(|m| m.get(&k)) {
                // A step's rate window lingers after it ended; the chart shows the step only.
                let points: Vec<(f64, f64)> = s
                    .samples
                    .iter()
                    .filter(|p| p.0 >= row.start - res && p.0 <= row.end + res && p.1.is_finite())
                    .copied()
                    .collect();
                if !points.is_empty() {
                    charts.push(ChartSeries {
                        signal: signal.to_string(),
                        scenario: row.scenario.clone(),
                        step: row.step.clone(),
                        points,
                    });
                }
            }
        }
    }
    Ok((rows, charts))
}

/// Steps from their level series: span from first to last sample, level its largest value.
async fn spans(
    client: &PromClient,
    t: &str,
    win: Window,
    res: f64,
) -> Result<Vec<StepRow>, PromError> {
    // timestamp() must wrap the selector itself to return sample times.
    let times_q = format!(
        "max by (scenario, step, unit) (timestamp(redline_step_level{{testid={t}}})) or label_replace(max by (scenario, step) (timestamp(locust_users{{testid={t},step!=\"\"}})), \"unit\", \"users\", \"\", \"\")"
    );
    let level_q = format!(
        "max by (scenario, step, unit) (redline_step_level{{testid={t}}}) or label_replace(max by (scenario, step) (locust_users{{testid={t},step!=\"\"}}), \"unit\", \"users\", \"\", \"\")"
    );
    let times = client
        .query_range(&times_q, win.from, win.to + res, res)
        .await?;
    let levels = client
        .query_range(&level_q, win.from, win.to + res, res)
        .await?;
    let mut rows: Vec<StepRow> = times
        .iter()
        .filter(|s| !s.samples.is_empty())
        .map(|s| {
            let vals = s.samples.iter().map(|p| p.1);
            let start = vals.clone().fold(f64::INFINITY, f64::min);
            let end = vals.fold(f64::NEG_INFINITY, f64::max);
            let level = levels
                .iter()
                .find(|l| l.labels == s.labels)
                .and_then(|l| l.samples.iter().map(|p| p.1).reduce(f64::max));
            StepRow {
                scenario: s.label("scenario").to_string(),
                step: s.label("step").to_string(),
                unit: s.label("unit").to_string(),
                level,
                start,
                end,
                ..Default::default()
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        a.scenario
            .cmp(&b.scenario)
            .then(a.start.total_cmp(&b.start))
    });
    Ok(rows)
}

fn by_key(series: Vec<Series>) -> BTreeMap<Key, f64> {
    series
        .into_iter()
        .filter_map(|s| Some((key_of(&s), s.last()?)))
        .collect()
}

/// The MaaS criteria as the alerts applied them: any `breaking` alert → Breaking, any
/// `degraded` one → Degraded, none → Healthy.
pub fn classify<'a>(has_data: bool, severities: impl Iterator<Item = &'a str>) -> StepClass {
    let mut class = if has_data {
        StepClass::Healthy
    } else {
        StepClass::NoData
    };
    for sev in severities {
        let c = match sev {
            "breaking" => StepClass::Breaking,
            _ => StepClass::Degraded,
        };
        if class == StepClass::NoData || c > class {
            class = c;
        }
    }
    class
}

/// What a level counts, by `redline_step_level`'s unit.
pub fn noun(unit: &str) -> &str {
    match unit.to_ascii_lowercase().as_str() {
        "vus" | "vu" => "VUs",
        "rps" | "iterations_per_second" | "iterations/s" | "rate" | "req/s" => "req/s",
        "tokens" => "tokens",
        "users" => "users",
        "" => "level",
        _ => unit,
    }
}

/// The level column's header, by unit (the seeds' "VUs", "Target RPS", "Active Tokens").
pub fn level_header(unit: &str) -> String {
    match noun(unit) {
        "VUs" => "VUs".into(),
        "req/s" => "Target RPS".into(),
        "tokens" => "Active tokens".into(),
        "users" => "Users".into(),
        "level" => "Step".into(),
        other => format!("Level ({other})"),
    }
}

pub fn level_label(row: &StepRow) -> String {
    match row.level {
        Some(l) => {
            let n = noun(&row.unit);
            let v = if l.fract() == 0.0 {
                format!("{l:.0}")
            } else {
                format!("{l:.2}")
            };
            if n == "level" { v } else { format!("{v} {n}") }
        }
        None if row.step.is_empty() => "whole run".into(),
        None => format!("step {}", row.step),
    }
}

/// The findings template per scenario: steps in level order (ramp order when levels are
/// unknown); the safe limit is the last Healthy level below the first non-Healthy one.
pub fn findings(rows: &[StepRow]) -> Vec<Findings> {
    let mut by_scenario: BTreeMap<&str, Vec<&StepRow>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.class() != StepClass::NoData) {
        by_scenario.entry(r.scenario.as_str()).or_default().push(r);
    }
    let mut out = Vec::new();
    for (scenario, mut steps) in by_scenario {
        if steps.iter().all(|s| s.level.is_some()) {
            steps.sort_by(|a, b| {
                a.level
                    .unwrap_or(0.0)
                    .total_cmp(&b.level.unwrap_or(0.0))
                    .then(a.start.total_cmp(&b.start))
            });
        }
        let first = steps[0];
        let first_bad = steps.iter().position(|s| s.class() != StepClass::Healthy);
        let breaking = steps.iter().find(|s| s.class() == StepClass::Breaking);
        let saturated = steps.iter().find(|s| s.saturated);
        let safe = match first_bad {
            Some(0) => None,
            Some(i) => Some(level_label(steps[i - 1])),
            None => steps.last().map(|s| level_label(s)),
        };
        let note = match first_bad {
            Some(0) => "the lowest level tested is already not Healthy: test lower levels to find a safe limit".into(),
            None => "no step degraded: the safe limit is at least the highest level tested".into(),
            Some(_) => String::new(),
        };
        out.push(Findings {
            scenario: scenario.to_string(),
            noun: noun(&first.unit).to_string(),
            baseline: Some(level_label(first)),
            baseline_p95_seconds: first.p95_seconds,
            baseline_success_ratio: first.success_ratio,
            degradation_starts_at: first_bad.map(|i| level_label(steps[i])),
            saturation_point: saturated.map(|s| level_label(s)),
            breaking_point: breaking.map(|s| level_label(s)),
            recommended_safe_limit: safe,
            note,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(level: f64, class: StepClass, start: f64) -> StepRow {
        StepRow {
            scenario: "burst".into(),
            step: format!("{level}"),
            unit: "vus".into(),
            level: Some(level),
            start,
            class: Some(class),
            p95_seconds: Some(0.1),
            success_ratio: Some(1.0),
            ..Default::default()
        }
    }

    #[test]
    fn classification_takes_the_worst_alert() {
        assert_eq!(classify(true, [].into_iter()), StepClass::Healthy);
        assert_eq!(classify(false, [].into_iter()), StepClass::NoData);
        assert_eq!(
            classify(true, ["degraded"].into_iter()),
            StepClass::Degraded
        );
        assert_eq!(
            classify(true, ["degraded", "breaking", "degraded"].into_iter()),
            StepClass::Breaking
        );
        assert_eq!(
            classify(false, ["breaking"].into_iter()),
            StepClass::Breaking
        );
    }

    #[test]
    fn findings_follow_the_maas_template() {
        // Recorded out of level order on purpose: findings sort by level.
        let rows = vec![
            row(50.0, StepClass::Degraded, 30.0),
            row(10.0, StepClass::Healthy, 0.0),
            row(25.0, StepClass::Healthy, 10.0),
            row(100.0, StepClass::Breaking, 40.0),
        ];
        let f = &findings(&rows)[0];
        assert_eq!(f.baseline.as_deref(), Some("10 VUs"));
        assert_eq!(f.degradation_starts_at.as_deref(), Some("50 VUs"));
        assert_eq!(f.breaking_point.as_deref(), Some("100 VUs"));
        assert_eq!(f.recommended_safe_limit.as_deref(), Some("25 VUs"));
    }

    #[test]
    fn findings_when_nothing_or_everything_degrades() {
        let healthy = vec![
            row(10.0, StepClass::Healthy, 0.0),
            row(20.0, StepClass::Healthy, 1.0),
        ];
        let f = &findings(&healthy)[0];
        assert_eq!(f.recommended_safe_limit.as_deref(), Some("20 VUs"));
        assert!(f.degradation_starts_at.is_none() && f.breaking_point.is_none());
        assert!(f.note.contains("at least"));

        let broken = vec![row(10.0, StepClass::Breaking, 0.0)];
        let f = &findings(&broken)[0];
        assert_eq!(f.recommended_safe_limit, None);
        assert_eq!(f.breaking_point.as_deref(), Some("10 VUs"));
        assert!(f.note.contains("lower levels"));
    }

    #[test]
    fn the_saturation_point_is_the_lowest_level_short_of_its_rate() {
        let mut rows = vec![
            row(100.0, StepClass::Degraded, 40.0),
            row(5.0, StepClass::Healthy, 0.0),
            row(50.0, StepClass::Degraded, 30.0),
            row(20.0, StepClass::Healthy, 10.0),
        ];
        for r in &mut rows {
            r.unit = "rps".into();
        }
        // Recorded out of level order: 100 is saturated first in time, 50 is the lower level.
        rows[0].saturated = true;
        rows[2].saturated = true;
        let f = &findings(&rows)[0];
        assert_eq!(f.saturation_point.as_deref(), Some("50 req/s"));
        assert_eq!(f.degradation_starts_at.as_deref(), Some("50 req/s"));
        assert_eq!(f.recommended_safe_limit.as_deref(), Some("20 req/s"));
        // No step short of its rate: no saturation point, whatever else degraded.
        rows[0].saturated = false;
        rows[2].saturated = false;
        assert_eq!(findings(&rows)[0].saturation_point, None);
    }

    #[test]
    fn level_names_follow_the_seeds() {
        assert_eq!(level_header("vus"), "VUs");
        assert_eq!(level_header("rps"), "Target RPS");
        assert_eq!(level_header("tokens"), "Active tokens");
        let mut r = row(2.5, StepClass::Healthy, 0.0);
        r.unit = "rps".into();
        assert_eq!(level_label(&r), "2.50 req/s");
    }
}
