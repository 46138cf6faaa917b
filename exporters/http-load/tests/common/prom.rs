//! Reading what reached a real Prometheus. The series API, not instant queries: a finished
//! run's series are already stale (it wrote staleness markers), but their label sets remain.

use std::collections::BTreeMap;
use std::time::Duration;

use redline_testkit_prometheus::Prometheus;

/// The label sets (`__name__` included) of the series that match `selector`.
pub async fn label_sets(prom: &Prometheus, selector: &str) -> Vec<BTreeMap<String, String>> {
    let v = prom.api("series", &[("match[]", selector)]).await.unwrap();
    v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{selector}: {v}"))
        .iter()
        .map(|s| serde_json::from_value(s.clone()).unwrap())
        .collect()
}

/// [`label_sets`], retried every 200 ms for up to 10 s until `ready` holds for them (everything
/// is pushed before a run returns, but Prometheus indexes it a moment later); the last answer
/// either way.
pub async fn label_sets_when(
    prom: &Prometheus,
    selector: &str,
    ready: impl Fn(&[BTreeMap<String, String>]) -> bool,
) -> Vec<BTreeMap<String, String>> {
    let mut sets = Vec::new();
    for _ in 0..50 {
        sets = label_sets(prom, selector).await;
        if ready(&sets) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sets
}
