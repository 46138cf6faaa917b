//! The catalogue check, written once: what a registry exposes against what the catalogue
//! lists, so nothing reaches Prometheus that dashboards and rules were not checked against.
//!
//! Daemons register through their catalogue module's `Families`, which the compiler already
//! holds to the catalogue (every family, its labels, its kind); this check reads what
//! actually comes out of a registry, whatever put it there (a raw `register`, a collector).

use prometheus_client::encoding::prometheus_protobuf::{encode, prometheus_data_model as pm};
use prometheus_client::registry::Registry;
use redline_catalogue::{Kind, Metric};

/// Labels every series may carry without the catalogue listing them: the run id,
/// and the keys Prometheus' own types add.
const IMPLICIT_LABELS: &[&str] = &["testid", "le", "quantile"];

/// The runtime labels the remote-write self-metrics, which every daemon writes, with the
/// daemon's name (see `Runtime::start`).
const DAEMON_LABEL: &str = "daemon";
const REMOTE_WRITE_PREFIX: &str = "redline_remote_write_";

/// How `registry` differs from `listed`: families exposed but not listed, listed with
/// another type, or carrying a label key the entry does not list; and families listed but
/// not exposed (prometheus-client leaves a family out until it has a series). Empty means
/// the registry exposes exactly what `listed` declares.
pub fn catalogue_mismatches(registry: &Registry, listed: &[Metric]) -> Vec<String> {
    let families = encode(registry).expect("encoding a registry into memory cannot fail");
    let mut problems = Vec::new();
    for f in &families {
        let kind = pm::MetricType::try_from(f.r#type).unwrap_or(pm::MetricType::Untyped);
        let Some(entry) = listed.iter().find(|m| m.name == f.name) else {
            problems.push(format!("{} is exposed but not catalogued", f.name));
            continue;
        };
        if !fits(kind, entry.kind) {
            problems.push(format!(
                "{} is exposed as {kind:?} but catalogued as {:?}",
                f.name, entry.kind
            ));
        }
        for label in f.metric.iter().flat_map(|m| &m.label) {
            let key = label.name.as_str();
            let problem = format!("{} has label {key:?} the catalogue does not list", f.name);
            let daemons_own = key == DAEMON_LABEL && f.name.starts_with(REMOTE_WRITE_PREFIX);
            if !entry.labels.contains(&key)
                && !IMPLICIT_LABELS.contains(&key)
                && !daemons_own
                && !problems.contains(&problem)
            {
                problems.push(problem);
            }
        }
    }
    for m in listed {
        if !families.iter().any(|f| f.name == m.name) {
            problems.push(format!("{} is catalogued but not exposed", m.name));
        }
    }
    problems
}

fn fits(exposed: pm::MetricType, catalogued: Kind) -> bool {
    match exposed {
        pm::MetricType::Counter => catalogued == Kind::Counter,
        pm::MetricType::Gauge => catalogued == Kind::Gauge,
        pm::MetricType::Histogram => matches!(
            catalogued,
            Kind::Histogram | Kind::NativeHistogram | Kind::HistogramBoth
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;

    const CAT: &[Metric] = &[
        Metric {
            name: "x_requests_total",
            kind: Kind::Counter,
            labels: &["code"],
            help: "h",
        },
        Metric {
            name: "x_level",
            kind: Kind::Counter,
            labels: &[],
            help: "h",
        },
        Metric {
            name: "x_never_written",
            kind: Kind::Gauge,
            labels: &[],
            help: "h",
        },
    ];

    #[test]
    fn every_way_a_registry_can_differ_from_the_catalogue_is_reported() {
        let mut r = Registry::with_labels([("testid".into(), "t".into())].into_iter());
        let requests = Family::<Vec<(&str, &str)>, Counter>::default();
        requests.get_or_create(&vec![("code", "200")]).inc();
        requests
            .get_or_create(&vec![("code", "500"), ("path", "/a")])
            .inc();
        requests
            .get_or_create(&vec![("code", "503"), ("path", "/b")])
            .inc();
        r.register("x_requests", "h", requests);
        r.register("x_level", "h", Gauge::<i64>::default());
        r.register("x_stray", "h", Gauge::<i64>::default());
        let problems = catalogue_mismatches(&r, CAT);
        assert_eq!(
            problems,
            [
                "x_requests_total has label \"path\" the catalogue does not list",
                "x_level is exposed as Gauge but catalogued as Counter",
                "x_stray is exposed but not catalogued",
                "x_never_written is catalogued but not exposed",
            ],
        );
    }

    #[test]
    fn a_registry_that_exposes_exactly_the_list_passes() {
        let mut r = Registry::default();
        let requests = Family::<Vec<(&str, &str)>, Counter>::default();
        requests.get_or_create(&vec![("code", "200")]).inc();
        r.register("x_requests", "h", requests);
        let listed = &CAT[..1];
        assert_eq!(catalogue_mismatches(&r, listed), Vec::<String>::new());
    }

    /// The families the runtime adds to every daemon's registry (the remote-write client's
    /// own) are exactly the catalogue's `remote_write` module.
    #[test]
    fn the_remote_write_self_metrics_are_the_catalogued_ones() {
        let mut r = Registry::default();
        redline_remote_write::Stats::new().register(&mut r);
        let problems = catalogue_mismatches(&r, redline_catalogue::remote_write::ALL);
        assert!(problems.is_empty(), "{problems:?}");
    }

    /// As the runtime registers them: with the daemon's name, which only they may carry.
    #[test]
    fn the_daemon_label_is_allowed_on_the_remote_write_self_metrics_only() {
        let mut r = Registry::default();
        redline_remote_write::Stats::new()
            .register(r.sub_registry_with_label(("daemon".into(), "churn".into())));
        let problems = catalogue_mismatches(&r, redline_catalogue::remote_write::ALL);
        assert!(problems.is_empty(), "{problems:?}");
        let mut other = Registry::default();
        other
            .sub_registry_with_label(("daemon".into(), "churn".into()))
            .register(
                "redline_other",
                "Other",
                prometheus_client::metrics::gauge::Gauge::<i64>::default(),
            );
        let listed = [Metric {
            name: "redline_other",
            kind: Kind::Gauge,
            labels: &[],
            help: "Other",
        }];
        assert_eq!(
            catalogue_mismatches(&other, &listed),
            ["redline_other has label \"daemon\" the catalogue does not list"]
        );
    }
}
