//! The MaaS token-volume test's "ServiceAccount creation time" per step: what
//! `redline tokens create` measured (`redline_tokens_serviceaccount_create_duration_seconds`,
//! a classic histogram by tier) when it was run for a step with `--testid` and
//! `--external-label step=<the step>` (charts/redline/scenarios/maas-token-volume.yaml).
//! Each step's creation is its own process, so each step's series are that run's totals:
//! their largest value over the window is the step's whole creation.

use std::collections::BTreeMap;

use crate::prom::{PromClient, PromError, Series, quote};
use crate::report::{SaCreationStep, StepRow};
use crate::window::Window;

const FAMILY: &str = "redline_tokens_serviceaccount_create_duration_seconds";

/// The creation time per step of the run's token sets; empty when none was recorded.
pub async fn per_step(
    client: &PromClient,
    testid: &str,
    win: Window,
    rows: &[StepRow],
) -> Result<Vec<SaCreationStep>, PromError> {
    let t = quote(testid);
    // Reaching back over the whole window: a step's tokens are made before its load starts.
    let w = (win.duration().ceil() + 1.0).max(1.0);
    let count = client
        .query(
            &format!("sum by (step) (max_over_time({FAMILY}_count{{testid={t}}}[{w}s]))"),
            win.to,
        )
        .await?;
    if count.is_empty() {
        return Ok(Vec::new());
    }
    let sum = client
        .query(
            &format!("sum by (step) (max_over_time({FAMILY}_sum{{testid={t}}}[{w}s]))"),
            win.to,
        )
        .await?;
    let quantile = |q: f64| {
        format!(
            "histogram_quantile({q}, sum by (step, le) (max_over_time({FAMILY}_bucket{{testid={t}}}[{w}s])))"
        )
    };
    let p50 = client.query(&quantile(0.5), win.to).await?;
    let p95 = client.query(&quantile(0.95), win.to).await?;
    Ok(pair(&count, &sum, &p50, &p95, rows))
}

fn by_step(series: &[Series]) -> BTreeMap<String, f64> {
    series
        .iter()
        .filter_map(|s| Some((s.label("step").to_string(), s.last()?)))
        .filter(|(_, v)| v.is_finite())
        .collect()
}

/// The pure part: per-step figures, in the step table's order (steps the table does not
/// know, e.g. tokens made for a step whose load never ran, come last, by name).
pub fn pair(
    count: &[Series],
    sum: &[Series],
    p50: &[Series],
    p95: &[Series],
    rows: &[StepRow],
) -> Vec<SaCreationStep> {
    let (count, sum, p50, p95) = (by_step(count), by_step(sum), by_step(p50), by_step(p95));
    let mut order: Vec<(String, Option<f64>)> = Vec::new();
    for r in rows {
        if count.contains_key(&r.step) && !order.iter().any(|(s, _)| *s == r.step) {
            order.push((r.step.clone(), r.level));
        }
    }
    for step in count.keys() {
        if !order.iter().any(|(s, _)| s == step) {
            order.push((step.clone(), None));
        }
    }
    order
        .into_iter()
        .map(|(step, level)| {
            let n = count[&step];
            SaCreationStep {
                mean_seconds: sum.get(&step).filter(|_| n > 0.0).map(|s| s / n),
                p50_seconds: p50.get(&step).copied(),
                p95_seconds: p95.get(&step).copied(),
                service_accounts: n,
                level,
                step,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(step: &str, v: f64) -> Series {
        Series {
            labels: [("step".to_string(), step.to_string())].into(),
            samples: vec![(0.0, v)],
        }
    }

    fn row(step: &str, level: f64) -> StepRow {
        StepRow {
            step: step.into(),
            level: Some(level),
            ..StepRow::default()
        }
    }

    #[test]
    fn steps_follow_the_table_and_unknown_ones_come_last() {
        let rows = [row("tokens-10", 10.0), row("tokens-50", 50.0)];
        let got = pair(
            &[
                series("tokens-50", 50.0),
                series("tokens-10", 10.0),
                series("tokens-9", 9.0),
            ],
            &[series("tokens-10", 0.5), series("tokens-50", 5.0)],
            &[series("tokens-10", 0.04), series("tokens-50", 0.09)],
            &[series("tokens-10", 0.08), series("tokens-50", f64::NAN)],
            &rows,
        );
        let steps: Vec<&str> = got.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(steps, ["tokens-10", "tokens-50", "tokens-9"]);
        assert_eq!(got[0].mean_seconds, Some(0.05));
        assert_eq!(got[0].level, Some(10.0));
        assert_eq!(
            got[1].p95_seconds, None,
            "NaN (no observations) is not a figure"
        );
        assert_eq!(got[2].mean_seconds, None);
        assert_eq!(got[2].service_accounts, 9.0);
    }
}
