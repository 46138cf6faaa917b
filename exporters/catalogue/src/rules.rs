//! Series written by the recording rules in `alerts/` (never by a daemon), and the
//! [`EXTERNAL`] series those rules and the dashboards read but redline does not write.
//!
//! The dashboards-check crate tests that every `record:` in `alerts/*.yml` is listed here and
//! that everything listed here is recorded by some rule.
//!
//! The groups live in `metrics/rules.toml` (see `build/rules.rs` for its layout).

use crate::metric::Metric;

include!(concat!(env!("OUT_DIR"), "/rules.rs"));

/// Every recorded family, in the order of the rule files.
pub const ALL: &[Metric] = &concat(HTTP, DESTINATION, SAMPLER_AND_CHAOS, THRESHOLDS);

const N: usize = HTTP.len() + DESTINATION.len() + SAMPLER_AND_CHAOS.len() + THRESHOLDS.len();

const fn concat(a: &[Metric], b: &[Metric], c: &[Metric], d: &[Metric]) -> [Metric; N] {
    let mut out = [a[0]; N];
    let mut i = 0;
    let mut k = 0;
    let parts = [a, b, c, d];
    while k < parts.len() {
        let mut j = 0;
        while j < parts[k].len() {
            out[i] = parts[k][j];
            i += 1;
            j += 1;
        }
        k += 1;
    }
    out
}

/// Who writes the [`EXTERNAL`] series. An external entry's help starts with one of these,
/// followed by a colon or a parenthesis (`"kube-state-metrics: ..."`,
/// `"cAdvisor (kubelet, ...): ..."`): the liveness test (exporters/e2e/tests/every_series_is_live.rs)
/// accepts a series no redline daemon writes only when the catalogue says who does, so a
/// judge whose input nobody produces cannot hide behind "external".
pub const EXTERNAL_SOURCES: &[&str] = &[
    "cAdvisor",
    "kube-state-metrics",
    "node-exporter",
    "Authorino",
    "kube-apiserver",
    "Linkerd",
    "Prometheus",
    "the system under test",
];

/// The source an external entry names ([`EXTERNAL_SOURCES`]), if its help starts with one.
pub fn external_source(m: &Metric) -> Option<&'static str> {
    EXTERNAL_SOURCES.iter().copied().find(|s| {
        m.help
            .strip_prefix(s)
            .is_some_and(|rest| rest.starts_with([':', ' ', '(']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

    #[test]
    fn all_is_every_group_and_recorded() {
        assert_eq!(ALL.len(), N);
        assert!(
            ALL.iter()
                .all(|m| m.kind == Kind::Recorded && m.name.starts_with("redline:"))
        );
        assert_eq!(
            ALL.last().map(|m| m.name),
            Some("redline:threshold:chaos_recovery_seconds")
        );
        assert_eq!(
            crate::lookup("redline:http_req_duration_seconds:p95").map(|m| m.kind),
            Some(Kind::Recorded)
        );
    }

    #[test]
    fn every_external_series_names_its_source() {
        let unsourced: Vec<_> = EXTERNAL
            .iter()
            .filter(|m| external_source(m).is_none())
            .map(|m| format!("{}: {:?}", m.name, m.help))
            .collect();
        assert!(
            unsourced.is_empty(),
            "external series whose help does not start with one of {EXTERNAL_SOURCES:?}:\n{}",
            unsourced.join("\n")
        );
    }

    #[test]
    fn a_help_without_a_known_source_names_none() {
        let mut m = EXTERNAL[0];
        m.help = "some exporter: a gauge";
        assert_eq!(external_source(&m), None);
        m.help = "kube-state-metricsx: a gauge";
        assert_eq!(external_source(&m), None);
        m.help = "node-exporter: CPU seconds";
        assert_eq!(external_source(&m), Some("node-exporter"));
    }

    #[test]
    fn external_series_are_not_redlines() {
        for m in EXTERNAL {
            assert!(
                crate::lookup(m.name).is_none(),
                "{} is both external and catalogued",
                m.name
            );
            assert!(!m.name.starts_with("redline"), "{}", m.name);
        }
    }
}
