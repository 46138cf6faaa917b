//! The run window: from the first to the last raw sample written under the testid.
//!
//! The window is found to the second; `--from`/`--to` override either end.

use crate::prom::{PromClient, PromError, quote};

/// Points a range query may return in Prometheus (its limit is 11,000).
const MAX_POINTS: f64 = 10_000.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub from: f64,
    pub to: f64,
}

impl Window {
    pub fn duration(&self) -> f64 {
        (self.to - self.from).max(0.0)
    }

    /// A resolution giving about `points` points over the window (at least 1 s).
    pub fn resolution(&self, points: f64) -> f64 {
        (self.duration() / points).ceil().max(1.0)
    }
}

/// The run's own (raw) series: everything under the testid except what rules wrote.
pub fn raw_selector(testid: &str) -> String {
    format!(
        "{{testid={},__name__!~\"ALERTS|ALERTS_FOR_STATE|redline:.+\"}}",
        quote(testid)
    )
}

/// Finds the first and last raw sample of the testid within `[start, end]`, to the second.
///
/// Presence is `count_over_time(family[r])` at points `r` apart, so a series that lived
/// between two points is still seen (an instant look-up would miss it once the writer's
/// staleness markers ended it). Functions drop the metric name, so each family is tagged
/// with its name before the families are joined, or two with the same labels would collide.
pub async fn find(
    client: &PromClient,
    testid: &str,
    start: f64,
    end: f64,
) -> Result<Option<Window>, PromError> {
    let mut names = client.names(&raw_selector(testid), start, end).await?;
    names.retain(|n| n != "ALERTS" && n != "ALERTS_FOR_STATE" && !n.starts_with("redline:"));
    if names.is_empty() {
        return Ok(None);
    }
    let t = quote(testid);
    let present = |range: f64| {
        let families = names
            .iter()
            .map(|n| {
                format!(
                    "label_replace(count_over_time({n}{{testid={t}}}[{range}s]), \"redline_verdict_family\", {}, \"\", \"\")",
                    quote(n)
                )
            })
            .collect::<Vec<_>>()
            .join(" or ");
        format!("count({families})")
    };
    let res = ((end - start) / MAX_POINTS).ceil().max(1.0);
    let coarse = points(
        &client
            .query_range(&present(res), start, end + res, res)
            .await?,
    );
    let (Some(&first), Some(&last)) = (coarse.first(), coarse.last()) else {
        return Ok(None);
    };
    // A point p with samples in (p - r, p]: refine both ends at 1 s.
    let (mut from, mut to) = (first - res, last);
    if res > 1.0 {
        let fine = present(1.0);
        if let Some(f) = points(&client.query_range(&fine, first - res, first, 1.0).await?).first()
        {
            from = f - 1.0;
        }
        if let Some(l) = points(&client.query_range(&fine, last - res, last, 1.0).await?).last() {
            to = *l;
        }
    } else {
        from = first - 1.0;
    }
    Ok(Some(Window {
        from: from.max(start),
        to: to.min(end.max(from)),
    }))
}

/// Sorted times of the points that have a positive value.
fn points(series: &[crate::prom::Series]) -> Vec<f64> {
    let mut p: Vec<f64> = series
        .iter()
        .flat_map(|s| s.samples.iter().filter(|p| p.1 > 0.0).map(|p| p.0))
        .collect();
    p.sort_by(f64::total_cmp);
    p.dedup();
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_is_bounded() {
        let w = Window {
            from: 0.0,
            to: 40.0,
        };
        assert_eq!(w.resolution(600.0), 1.0);
        let day = Window {
            from: 0.0,
            to: 86_400.0,
        };
        assert_eq!(day.resolution(600.0), 144.0);
    }

    #[test]
    fn raw_selector_excludes_rule_output() {
        let s = raw_selector("r\"1");
        assert_eq!(
            s,
            r#"{testid="r\"1",__name__!~"ALERTS|ALERTS_FOR_STATE|redline:.+"}"#
        );
    }
}
