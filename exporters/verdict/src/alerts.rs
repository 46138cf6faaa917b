//! What the rules decided: the `ALERTS` series Prometheus wrote for the testid.

use std::collections::BTreeMap;

use crate::prom::{PromClient, PromError, quote};
use crate::report::FiredAlert;
use crate::rules::AlertRule;

/// Labels shown in their own fields rather than in `FiredAlert::labels`.
const OWN: &[&str] = &[
    "__name__",
    "alertname",
    "alertstate",
    "severity",
    "redline_verdict",
    "scenario",
    "step",
    "testid",
];

/// Every verdict alert that was firing for the testid in `[from, end]`.
///
/// `max_over_time(ALERTS[res])` at a resolution `res` sees every firing sample, even one
/// shorter than the resolution, so a brief breach is never skipped between two points.
pub async fn fired(
    client: &PromClient,
    testid: &str,
    rules: &[AlertRule],
    from: f64,
    end: f64,
    res: f64,
) -> Result<Vec<FiredAlert>, PromError> {
    let q = format!(
        "max_over_time(ALERTS{{testid={},alertstate=\"firing\",redline_verdict!=\"\"}}[{res}s])",
        quote(testid)
    );
    let series = client.query_range(&q, from, end, res).await?;
    let mut out: Vec<FiredAlert> = series
        .into_iter()
        .filter(|s| !s.samples.is_empty())
        .map(|s| {
            let alertname = s.label("alertname").to_string();
            let template = rules
                .iter()
                .find(|r| r.name == alertname)
                .map(|r| r.summary.as_str())
                .unwrap_or("");
            // Rendered below, once the value is known.
            let summary = if template.is_empty() {
                format!(
                    "{alertname} fired for {} {}/{}",
                    s.label("testid"),
                    s.label("scenario"),
                    s.label("step")
                )
            } else {
                template.to_string()
            };
            FiredAlert {
                severity: s.label("severity").to_string(),
                verdict: s.label("redline_verdict").to_string(),
                scenario: s.label("scenario").to_string(),
                step: s.label("step").to_string(),
                labels: s
                    .labels
                    .iter()
                    .filter(|(k, _)| !OWN.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                first_firing: s.samples.first().map(|p| p.0).unwrap_or(from),
                last_firing: s.samples.last().map(|p| p.0).unwrap_or(from),
                summary,
                alertname,
            }
        })
        .collect();
    for a in &mut out {
        let Some(rule) = rules.iter().find(|r| r.name == a.alertname) else {
            continue;
        };
        if rule.summary.is_empty() {
            continue;
        }
        let mut labels = a.labels.clone();
        for (k, v) in [
            ("testid", testid),
            ("scenario", a.scenario.as_str()),
            ("step", a.step.as_str()),
            ("severity", a.severity.as_str()),
        ] {
            labels.insert(k.to_string(), v.to_string());
        }
        let value = if rule.summary.contains("$value") {
            value_when_firing(
                client,
                &rule.expr,
                &labels,
                a.first_firing,
                a.last_firing,
                res,
            )
            .await
        } else {
            None
        };
        a.summary = crate::template::render(&rule.summary, &labels, value);
    }
    out.sort_by(|a, b| {
        a.first_firing
            .total_cmp(&b.first_firing)
            .then_with(|| a.alertname.cmp(&b.alertname))
    });
    Ok(out)
}

/// The value the alert's expression had while it fired, for the `$value` of its summary (the
/// value Prometheus rendered its annotations with; `ALERTS` itself only holds 1): the
/// expression over the firing span at a fine step, for the series whose labels the alert
/// carries, its last point. `ALERTS` was read at `res`, so a firing point only says the
/// alert fired within the `res` before it: the span starts that much earlier. None when no
/// point matches, or Prometheus refuses.
async fn value_when_firing(
    client: &PromClient,
    expr: &str,
    labels: &BTreeMap<String, String>,
    first: f64,
    last: f64,
    res: f64,
) -> Option<f64> {
    let from = first - res;
    // About 1,000 points at most, 1 s apart at best.
    let step = ((last - from) / 1000.0).ceil().max(1.0);
    let series = client.query_range(expr, from, last, step).await.ok()?;
    series
        .iter()
        .filter(|s| {
            s.labels
                .iter()
                .filter(|(k, _)| k.as_str() != "__name__")
                .all(|(k, v)| labels.get(k) == Some(v))
        })
        .filter_map(|s| s.samples.iter().rfind(|p| p.1.is_finite()).copied())
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|p| p.1)
}
