//! The sampler's series, registered under the catalogue's names and help texts so the
//! daemon cannot drift from what dashboards and alert rules query.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use redline_catalogue::pprof_sampler as cat;
use redline_runtime::register;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PodLabels {
    pub pod: String,
    pub container: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopLabels {
    pub pod: String,
    pub function: String,
    pub rank: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub pod: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub pod: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OnlyPod {
    pub pod: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ContainerLabels {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OnlyResult {
    pub result: String,
}

pub type FloatGauge = Gauge<f64, AtomicU64>;
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // A profile fetch on loopback takes ~1 ms; across a cluster and under load up to the
    // timeout (1 s by default). Buckets from 1 ms to 10 s.
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// Every family the sampler writes. Cloning shares the underlying series.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub heap_inuse_bytes: Family<PodLabels, Gauge>,
    pub heap_inuse_objects: Family<PodLabels, Gauge>,
    pub heap_alloc_bytes: Family<PodLabels, Gauge>,
    pub heap_alloc_objects: Family<PodLabels, Gauge>,
    pub top_inuse_bytes: Family<TopLabels, Gauge>,
    pub goroutines: Family<PodLabels, Gauge>,
    pub samples: Family<ResultLabels, Counter>,
    pub sample_errors: Family<ReasonLabels, Counter>,
    pub sample_duration: HistogramFamily<OnlyPod>,
    pub gc_samples: Family<OnlyPod, Counter>,
    pub targets: Gauge,
    pub archive_files: Gauge,
    pub archive_bytes: Gauge,
    pub archive_removed: Counter,
    pub pod_cpu_cores: Family<ContainerLabels, FloatGauge>,
    pub pod_memory_working_set_bytes: Family<ContainerLabels, Gauge>,
    pub pod_metrics_reads: Family<OnlyResult, Counter>,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Metrics {
            heap_inuse_bytes: Family::default(),
            heap_inuse_objects: Family::default(),
            heap_alloc_bytes: Family::default(),
            heap_alloc_objects: Family::default(),
            top_inuse_bytes: Family::default(),
            goroutines: Family::default(),
            samples: Family::default(),
            sample_errors: Family::default(),
            sample_duration: Family::new_with_constructor(duration_histogram),
            gc_samples: Family::default(),
            targets: Gauge::default(),
            archive_files: Gauge::default(),
            archive_bytes: Gauge::default(),
            archive_removed: Counter::default(),
            pod_cpu_cores: Family::default(),
            pod_memory_working_set_bytes: Family::default(),
            pod_metrics_reads: Family::default(),
        };
        let r = registry;
        register(r, &cat::HEAP_INUSE_BYTES, m.heap_inuse_bytes.clone());
        register(r, &cat::HEAP_INUSE_OBJECTS, m.heap_inuse_objects.clone());
        register(r, &cat::HEAP_ALLOC_BYTES, m.heap_alloc_bytes.clone());
        register(r, &cat::HEAP_ALLOC_OBJECTS, m.heap_alloc_objects.clone());
        register(r, &cat::TOP_INUSE_BYTES, m.top_inuse_bytes.clone());
        register(r, &cat::GOROUTINES, m.goroutines.clone());
        register(r, &cat::SAMPLES, m.samples.clone());
        register(r, &cat::SAMPLE_ERRORS, m.sample_errors.clone());
        register(r, &cat::SAMPLE_DURATION, m.sample_duration.clone());
        register(r, &cat::GC_SAMPLES, m.gc_samples.clone());
        register(r, &cat::TARGETS, m.targets.clone());
        register(r, &cat::ARCHIVE_FILES, m.archive_files.clone());
        register(r, &cat::ARCHIVE_BYTES, m.archive_bytes.clone());
        register(r, &cat::ARCHIVE_REMOVED, m.archive_removed.clone());
        register(r, &cat::POD_CPU_CORES, m.pod_cpu_cores.clone());
        register(
            r,
            &cat::POD_MEMORY_WORKING_SET_BYTES,
            m.pod_memory_working_set_bytes.clone(),
        );
        register(r, &cat::POD_METRICS_READS, m.pod_metrics_reads.clone());
        m
    }

    /// Removes the gauges of a target that is gone, so a deleted pod's last heap size does
    /// not linger as if current. Counters stay: they are totals of what happened.
    pub fn forget_pod(&self, pod: &str, container: &str, top: &[TopLabels]) {
        let l = PodLabels {
            pod: pod.to_string(),
            container: container.to_string(),
        };
        for f in [
            &self.heap_inuse_bytes,
            &self.heap_inuse_objects,
            &self.heap_alloc_bytes,
            &self.heap_alloc_objects,
            &self.goroutines,
        ] {
            f.remove(&l);
        }
        for t in top {
            self.top_inuse_bytes.remove(t);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    /// `(name as queried, type)` of every family in an OpenMetrics text exposition.
    pub(crate) fn families(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| {
                let (name, kind) = l.split_once(' ').unwrap();
                let name = if kind == "counter" {
                    format!("{name}_total")
                } else {
                    name.to_string()
                };
                (name, kind.to_string())
            })
            .collect()
    }

    #[test]
    fn every_registered_family_is_catalogued_with_its_type_and_labels() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        // One series per family: prometheus-client leaves empty families out of the text.
        let pl = PodLabels {
            pod: "p".into(),
            container: "c".into(),
        };
        for f in [
            &m.heap_inuse_bytes,
            &m.heap_inuse_objects,
            &m.heap_alloc_bytes,
            &m.heap_alloc_objects,
            &m.goroutines,
        ] {
            f.get_or_create(&pl).set(1);
        }
        m.top_inuse_bytes
            .get_or_create(&TopLabels {
                pod: "p".into(),
                function: "main.f".into(),
                rank: "1".into(),
                kind: "flat".into(),
            })
            .set(1);
        m.samples
            .get_or_create(&ResultLabels {
                pod: "p".into(),
                result: "ok".into(),
            })
            .inc();
        m.sample_errors
            .get_or_create(&ReasonLabels {
                pod: "p".into(),
                reason: "timeout".into(),
            })
            .inc();
        let op = OnlyPod { pod: "p".into() };
        m.sample_duration.get_or_create(&op).observe(0.01);
        m.gc_samples.get_or_create(&op).inc();
        let cl = ContainerLabels {
            namespace: "n".into(),
            pod: "p".into(),
            container: "c".into(),
        };
        m.pod_cpu_cores.get_or_create(&cl).set(0.25);
        m.pod_memory_working_set_bytes.get_or_create(&cl).set(1);
        m.pod_metrics_reads
            .get_or_create(&OnlyResult {
                result: "ok".into(),
            })
            .inc();
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();

        let fams = families(&text);
        assert_eq!(fams.len(), cat::ALL.len(), "{text}");
        for (name, kind) in &fams {
            let c = redline_catalogue::lookup(name)
                .unwrap_or_else(|| panic!("{name} is registered but not catalogued"));
            let want = match c.kind {
                redline_catalogue::Kind::Counter => "counter",
                redline_catalogue::Kind::Gauge => "gauge",
                redline_catalogue::Kind::Histogram => "histogram",
                other => panic!("{name}: unexpected catalogue kind {other:?}"),
            };
            assert_eq!(kind, want, "{name}");
            assert!(text.contains(&format!(
                "# HELP {} {}",
                name.trim_end_matches("_total"),
                c.help
            )));
            // The label keys of its series are exactly the catalogued ones.
            let series = text
                .lines()
                .find(|l| !l.starts_with('#') && l.starts_with(name.as_str()))
                .unwrap_or_else(|| panic!("no series of {name}"));
            let keys: Vec<&str> = series
                .split_once('{')
                .map(|(_, rest)| {
                    rest.split(',')
                        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
                        .filter(|k| *k != "le")
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(keys, c.labels, "{name}");
        }
        assert!(
            text.contains(r#"redline_pod_cpu_cores{namespace="n",pod="p",container="c"} 0.25"#)
        );
    }
}
