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
/// expression evaluated at the last firing point, stepping back to the first, for the series
/// whose labels the alert carries. None when no point matches, or Prometheus refuses.
async fn value_when_firing(
    client: &PromClient,
    expr: &str,
    labels: &BTreeMap<String, String>,
    first: f64,
    last: f64,
    res: f64,
) -> Option<f64> {
    // The firing point is within `res` before `last`: try a few points back to `first`.
    let mut times = vec![last, last - res / 2.0, last - res];
    times.retain(|t| *t >= first);
    times.push(first);
    for t in times {
        let Ok(series) = client.query(expr, t).await else {
            return None;
        };
        let hit = series.iter().find(|s| {
            s.labels
                .iter()
                .filter(|(k, _)| k.as_str() != "__name__")
                .all(|(k, v)| labels.get(k) == Some(v))
        });
        if let Some(v) = hit.and_then(|s| s.last()) {
            return Some(v);
        }
    }
    None
}
