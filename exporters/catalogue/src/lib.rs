//! The metric catalogue: the one place where every series redline writes is named.
//!
//! Daemons register their metrics under these names, the dashboards' and alert rules'
//! tests check every metric they query against [`all`], and the README's tables are
//! written from it. One module per daemon crate, named after it, so that daemons never edit
//! each other's list.
//!
//! The series are data: one file per module in `metrics/` (`chaos.toml`, ..., `rules.toml`),
//! which the build script (`build/`) checks and writes out as Rust, stopping at a mistake
//! with the file, line and field. A daemon's series are declared once (`declare.rs`): the
//! label set as a type, the entry as a [`Catalogued`] constant of that type, and the module's
//! `Families`, through which the daemon registers all of them; wrong labels, a wrong kind or
//! a missing family do not compile. http-load encodes its own series, from the same typed
//! entries; the recording rules' series and the external ones the rules read are in
//! [`rules`].

#[macro_use]
mod declare;
mod metric;
mod typed;

pub mod chaos;
pub mod churn;
pub mod dst_client;
pub mod fit;
pub mod hpa_watch;
pub mod http_load;
pub mod k6_relay;
pub mod locust_exporter;
pub mod pprof_sampler;
pub mod remote_write;
pub mod rules;
pub mod tokens;

pub use metric::{Kind, Metric};
pub use typed::{Catalogued, LabelSet, NoLabels, Series, kinds};

/// Every catalogued family, across all daemons and the recording rules.
pub fn all() -> impl Iterator<Item = &'static Metric> {
    [
        remote_write::ALL,
        http_load::ALL,
        churn::ALL,
        dst_client::ALL,
        pprof_sampler::ALL,
        chaos::ALL,
        fit::ALL,
        hpa_watch::ALL,
        k6_relay::ALL,
        locust_exporter::ALL,
        tokens::ALL,
        rules::ALL,
    ]
    .into_iter()
    .flatten()
}

/// Looks a series name up, accepting the `_bucket`, `_sum` and `_count` series
/// Prometheus derives from a classic histogram family.
pub fn lookup(series: &str) -> Option<&'static Metric> {
    all().find(|m| m.name == series).or_else(|| {
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = series.strip_suffix(suffix)?;
            all()
                .find(|m| m.name == base && matches!(m.kind, Kind::Histogram | Kind::HistogramBoth))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_follow_conventions() {
        let mut seen = HashSet::new();
        for m in all() {
            assert!(seen.insert(m.name), "{} catalogued twice", m.name);
            assert!(
                m.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{} is not a valid metric name",
                m.name
            );
            match m.kind {
                Kind::Counter => assert!(m.name.ends_with("_total"), "counter {}", m.name),
                Kind::Recorded => assert!(m.name.contains(':'), "recorded {}", m.name),
                _ => assert!(!m.name.ends_with("_total"), "non-counter {}", m.name),
            }
            assert!(!m.help.is_empty(), "{} has no help", m.name);
            assert!(
                !m.labels.contains(&"testid"),
                "{}: testid is implicit",
                m.name
            );
        }
    }

    #[test]
    fn family_names_and_help_are_what_prometheus_client_completes() {
        let c = remote_write::SAMPLES_SENT;
        assert_eq!(c.family_name(), "redline_remote_write_samples_sent");
        assert!(!c.family_help().ends_with('.'));
        let g = remote_write::QUEUE_LENGTH;
        assert_eq!(g.family_name(), g.name);
    }

    #[test]
    fn lookup_understands_histogram_suffixes() {
        let Some(h) = all().find(|m| matches!(m.kind, Kind::Histogram | Kind::HistogramBoth))
        else {
            return;
        };
        assert_eq!(lookup(&format!("{}_bucket", h.name)), Some(h));
        assert_eq!(lookup(&format!("{}_count", h.name)), Some(h));
        assert_eq!(lookup("redline_no_such_series"), None);
    }

    /// The daemons' READMEs show their series as a table; each row must be the catalogue's
    /// entry, so the tables cannot drift from what the daemons write.
    #[test]
    fn readme_series_tables_are_the_catalogue() {
        let exporters = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (folder, entries) in [
            ("churn", churn::ALL),
            ("dst-client", dst_client::ALL),
            ("tokens", tokens::ALL),
            ("k6-relay", k6_relay::ALL),
            ("locust-exporter", locust_exporter::ALL),
        ] {
            let path = exporters.join(folder).join("README.md");
            let readme = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let rows = readme.lines().filter(|l| l.starts_with("| `")).count();
            assert_eq!(
                rows,
                entries.len(),
                "{folder}: one row per catalogued family"
            );
            for m in entries {
                let kind = match m.kind {
                    Kind::Counter => "counter",
                    Kind::Gauge => "gauge",
                    Kind::Histogram => "histogram (classic)",
                    other => panic!("{}: no README word for {other:?}", m.name),
                };
                let labels = if m.labels.is_empty() {
                    "—".to_string()
                } else {
                    m.labels
                        .iter()
                        .map(|l| format!("`{l}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let row = format!("| `{}` | {kind} | {labels} | {} |", m.name, m.help);
                assert!(
                    readme.lines().any(|l| l == row),
                    "{folder}/README.md has no row\n{row}"
                );
            }
        }
    }
}
