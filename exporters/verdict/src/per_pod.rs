//! The KubeServe seed's "RPS should increase with number of pods": each step's actual RPS
//! over the Ready replicas the HPA kept during it (`redline hpa-watch`'s
//! `redline_hpa_replicas{state="ready"}`, averaged over the step's span), and whether the
//! RPS each pod carried held as pods were added. A finding to read next to the table, not a
//! judgement: the rules in `alerts/hpa.yml` judge the HPA itself.

use crate::prom::{PromClient, PromError, quote};
use crate::report::{PodScaling, PodStep, StepRow};
use crate::window::Window;

/// Per-pod RPS may fall this much from the first step's and still count as "holds": a
/// scaled-out service shares some cost (connections, the balancer) it did not pay alone.
pub const HOLDS_WITHIN: f64 = 0.25;

/// Reads the replicas and pairs them with the step rows; None when the run has no
/// hpa-watch series.
pub async fn scaling(
    client: &PromClient,
    testid: &str,
    win: Window,
    res: f64,
    rows: &[StepRow],
) -> Result<Option<PodScaling>, PromError> {
    let q = format!(
        "sum by (namespace, horizontalpodautoscaler) (redline_hpa_replicas{{testid={},state=\"ready\"}})",
        quote(testid)
    );
    let series = client.query_range(&q, win.from, win.to + res, res).await?;
    if series.is_empty() {
        return Ok(None);
    }
    let mut hpas: Vec<String> = series
        .iter()
        .map(|s| {
            format!(
                "{}/{}",
                s.label("namespace"),
                s.label("horizontalpodautoscaler")
            )
        })
        .collect();
    hpas.sort();
    // Several HPAs (one per service) add up: the pods behind the load.
    let mut total: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    for s in &series {
        for (t, v) in &s.samples {
            *total.entry((t * 1000.0) as i64).or_default() += v;
        }
    }
    let samples: Vec<(f64, f64)> = total
        .into_iter()
        .map(|(t, v)| (t as f64 / 1000.0, v))
        .collect();
    Ok(Some(pair(hpas.join(", "), &samples, rows)))
}

/// The pure part: replicas `(unix seconds, ready)` against the step rows.
pub fn pair(hpa: String, replicas: &[(f64, f64)], rows: &[StepRow]) -> PodScaling {
    let mut steps = Vec::new();
    for r in rows {
        let inside: Vec<f64> = replicas
            .iter()
            .filter(|(t, _)| *t >= r.start && *t <= r.end)
            .map(|p| p.1)
            .collect();
        if inside.is_empty() {
            continue;
        }
        let avg = inside.iter().sum::<f64>() / inside.len() as f64;
        steps.push(PodStep {
            scenario: r.scenario.clone(),
            step: r.step.clone(),
            level: r.level,
            actual_rps: r.actual_rps,
            replicas: avg,
            rps_per_pod: r.actual_rps.filter(|_| avg > 0.0).map(|rps| rps / avg),
        });
    }
    let peak_replicas = replicas.iter().map(|p| p.1).fold(0.0, f64::max);
    let first = steps.first();
    let grown = steps
        .iter()
        .rev()
        .find(|s| first.is_some_and(|f| s.replicas > f.replicas + 0.5));
    let (rps_grows_with_pods, note) = match (first, grown) {
        (None, _) => (None, "no step overlapped the replica series".to_string()),
        (Some(f), None) => (
            None,
            format!(
                "the Ready pods never grew above the first step's {:.1} (peak {peak_replicas:.0}): RPS per pod cannot show scaling",
                f.replicas
            ),
        ),
        (Some(f), Some(g)) => match (f.rps_per_pod, g.rps_per_pod, f.actual_rps, g.actual_rps) {
            (Some(a), Some(b), Some(ra), Some(rb)) => {
                let holds = b >= a * (1.0 - HOLDS_WITHIN);
                (
                    Some(holds),
                    format!(
                        "RPS {:.1} -> {:.1} ({:.2}x) while Ready pods {:.1} -> {:.1} ({:.2}x); per pod {a:.2} -> {b:.2} req/s: {}",
                        ra,
                        rb,
                        if ra > 0.0 { rb / ra } else { f64::NAN },
                        f.replicas,
                        g.replicas,
                        g.replicas / f.replicas.max(f64::MIN_POSITIVE),
                        if holds {
                            "RPS increases with the pods"
                        } else {
                            "RPS did not keep up with the pods added"
                        }
                    ),
                )
            }
            _ => (None, "no RPS for the steps compared".to_string()),
        },
    };
    PodScaling {
        hpa,
        steps,
        peak_replicas,
        rps_grows_with_pods,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: &str, start: f64, end: f64, rps: f64) -> StepRow {
        StepRow {
            scenario: "kubeserve".into(),
            step: step.into(),
            level: step.parse().ok(),
            start,
            end,
            actual_rps: Some(rps),
            ..Default::default()
        }
    }

    fn ramp() -> Vec<(f64, f64)> {
        // 1 pod for the 5-user step, 1 then 2 for the 10-user step, 4 for the 20-user one.
        let mut r = Vec::new();
        for t in 0..=30 {
            r.push((
                t as f64 * 10.0,
                if t < 15 {
                    1.0
                } else if t < 20 {
                    2.0
                } else {
                    4.0
                },
            ));
        }
        r
    }

    #[test]
    fn rps_per_pod_per_step_and_whether_it_holds() {
        let rows = [
            row("5", 0.0, 100.0, 3.0),
            row("10", 100.0, 200.0, 6.0),
            row("20", 200.0, 300.0, 12.0),
        ];
        let s = pair("user-1/kubeserve".into(), &ramp(), &rows);
        let reps: Vec<f64> = s.steps.iter().map(|p| p.replicas).collect();
        // Step 10 spans t=100..200: samples 10..20 -> five at 1, five at 2, one at 4 (t=200).
        assert_eq!(reps[0], 1.0);
        assert!(
            (reps[1] - (5.0 + 10.0 + 4.0) / 11.0).abs() < 1e-9,
            "{reps:?}"
        );
        assert_eq!(reps[2], 4.0);
        assert_eq!(s.steps[2].rps_per_pod, Some(3.0));
        assert_eq!(s.peak_replicas, 4.0);
        assert_eq!(s.rps_grows_with_pods, Some(true), "{}", s.note);
        assert!(s.note.contains("3.00 -> 3.00 req/s"), "{}", s.note);
        // Pods added but RPS flat: per pod falls from 3 to 0.9.
        let flat = [
            row("5", 0.0, 100.0, 3.0),
            row("10", 100.0, 200.0, 3.5),
            row("20", 200.0, 300.0, 3.6),
        ];
        let s = pair("user-1/kubeserve".into(), &ramp(), &flat);
        assert_eq!(s.rps_grows_with_pods, Some(false));
        assert!(s.note.contains("did not keep up"), "{}", s.note);
    }

    #[test]
    fn no_growth_or_no_overlap_is_said_not_judged() {
        let rows = [row("5", 0.0, 100.0, 3.0), row("10", 100.0, 140.0, 6.0)];
        let s = pair("ns/h".into(), &ramp(), &rows);
        assert_eq!(s.rps_grows_with_pods, None);
        assert!(s.note.contains("never grew"), "{}", s.note);
        let s = pair("ns/h".into(), &ramp(), &[row("5", 1000.0, 1100.0, 3.0)]);
        assert!(s.steps.is_empty() && s.rps_grows_with_pods.is_none());
    }
}
