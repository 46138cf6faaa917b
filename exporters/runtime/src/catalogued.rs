//! The check every daemon's tests run: a registry may expose only catalogued series,
//! so nothing reaches Prometheus that dashboards and rules were not checked against.

use prometheus_client::encoding::prometheus_protobuf::{encode, prometheus_data_model as pm};
use prometheus_client::registry::Registry;
use redline_catalogue::{Kind, Metric};

/// Every family `registry` exposes, by the name Prometheus sees (counters with `_total`).
pub fn exposed_families(registry: &Registry) -> Vec<(String, pm::MetricType)> {
    families(registry)
        .into_iter()
        .map(|f| {
            let kind = pm::MetricType::try_from(f.r#type).unwrap_or(pm::MetricType::Untyped);
            (f.name, kind)
        })
        .collect()
}

fn families(registry: &Registry) -> Vec<pm::MetricFamily> {
    encode(registry).expect("encoding a registry into memory cannot fail")
}

/// Labels every series may carry without the catalogue listing them: the run id,
/// and the keys Prometheus' own types add.
const IMPLICIT_LABELS: &[&str] = &["testid", "le", "quantile"];

/// What `registry` exposes that `catalogued` (a daemon's catalogue module) does not
/// list, or lists with another type. Empty means clean.
pub fn uncatalogued(registry: &Registry, catalogued: &[Metric]) -> Vec<String> {
    let mut problems = Vec::new();
    for f in families(registry) {
        let kind = pm::MetricType::try_from(f.r#type).unwrap_or(pm::MetricType::Untyped);
        let Some(entry) = catalogued.iter().find(|m| m.name == f.name) else {
            problems.push(format!("{} is exposed but not catalogued", f.name));
            continue;
        };
        let fits = match kind {
            pm::MetricType::Counter => entry.kind == Kind::Counter,
            pm::MetricType::Gauge => entry.kind == Kind::Gauge,
            pm::MetricType::Histogram => matches!(
                entry.kind,
                Kind::Histogram | Kind::NativeHistogram | Kind::HistogramBoth
            ),
            _ => false,
        };
        if !fits {
            problems.push(format!(
                "{} is exposed as {kind:?} but catalogued as {:?}",
                f.name, entry.kind
            ));
        }
        for label in f.metric.iter().flat_map(|m| &m.label) {
            let key = label.name.as_str();
            if !entry.labels.contains(&key) && !IMPLICIT_LABELS.contains(&key) {
                problems.push(format!(
                    "{} has label {key:?} the catalogue does not list",
                    f.name
                ));
            }
        }
    }
    problems.dedup();
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::gauge::Gauge;

    const CAT: &[Metric] = &[
        Metric {
            name: "x_requests_total",
            kind: Kind::Counter,
            labels: &[],
            help: "h",
        },
        Metric {
            name: "x_level",
            kind: Kind::Counter,
            labels: &[],
            help: "h",
        },
    ];

    #[test]
    fn unknown_and_mistyped_families_are_reported() {
        let mut r = Registry::default();
        r.register("x_requests", "h", Counter::<u64>::default());
        r.register("x_level", "h", Gauge::<i64>::default());
        r.register("x_stray", "h", Gauge::<i64>::default());
        let problems = uncatalogued(&r, CAT);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("x_level is exposed as Gauge"),
            "{problems:?}"
        );
        assert!(problems[1].contains("x_stray is exposed but not catalogued"));
    }
}
