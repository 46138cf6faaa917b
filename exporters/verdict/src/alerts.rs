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
            let summary = if template.is_empty() {
                format!(
                    "{alertname} fired for {} {}/{}",
                    s.label("testid"),
                    s.label("scenario"),
                    s.label("step")
                )
            } else {
                fill_summary(template, &s.labels)
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
    out.sort_by(|a, b| {
        a.first_firing
            .total_cmp(&b.first_firing)
            .then_with(|| a.alertname.cmp(&b.alertname))
    });
    Ok(out)
}

/// Fills `{{ $labels.x }}` from the alert's labels; `{{ $value … }}` becomes "…", since the
/// value is not stored in `ALERTS` (the table next to it holds the figures).
pub fn fill_summary(template: &str, labels: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = rest[open + 2..open + close].trim();
        if let Some(key) = inner.strip_prefix("$labels.") {
            let key = key.split_whitespace().next().unwrap_or("");
            out.push_str(labels.get(key).map(String::as_str).unwrap_or(""));
        } else if inner.starts_with("$value") {
            out.push('…');
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_get_labels_and_no_raw_templates() {
        let labels: BTreeMap<String, String> =
            [("testid", "t1"), ("scenario", "burst"), ("step", "2")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let s = fill_summary(
            "{{ $labels.testid }} {{ $labels.scenario }}/{{ $labels.step }}: p95 {{ $value | humanizeDuration }} is high.",
            &labels,
        );
        assert_eq!(s, "t1 burst/2: p95 … is high.");
        assert_eq!(
            fill_summary("broken {{ $labels.x", &labels),
            "broken {{ $labels.x"
        );
    }
}
