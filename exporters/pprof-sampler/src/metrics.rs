//! The sampler's series, registered under the catalogue's names, help texts and label sets
//! (`redline_catalogue::pprof_sampler`), so the daemon cannot drift from what dashboards and
//! alert rules query.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use redline_catalogue::pprof_sampler as cat;
pub use redline_catalogue::pprof_sampler::{
    ContainerLabels, OnlyPod, OnlyResult, PodLabels, ReasonLabels, ResultLabels, TopLabels,
};

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
        cat::Families {
            HEAP_INUSE_BYTES: m.heap_inuse_bytes.clone(),
            HEAP_INUSE_OBJECTS: m.heap_inuse_objects.clone(),
            HEAP_ALLOC_BYTES: m.heap_alloc_bytes.clone(),
            HEAP_ALLOC_OBJECTS: m.heap_alloc_objects.clone(),
            TOP_INUSE_BYTES: m.top_inuse_bytes.clone(),
            GOROUTINES: m.goroutines.clone(),
            SAMPLES: m.samples.clone(),
            SAMPLE_ERRORS: m.sample_errors.clone(),
            SAMPLE_DURATION: m.sample_duration.clone(),
            GC_SAMPLES: m.gc_samples.clone(),
            TARGETS: m.targets.clone(),
            ARCHIVE_FILES: m.archive_files.clone(),
            ARCHIVE_BYTES: m.archive_bytes.clone(),
            ARCHIVE_REMOVED: m.archive_removed.clone(),
            POD_CPU_CORES: m.pod_cpu_cores.clone(),
            POD_MEMORY_WORKING_SET_BYTES: m.pod_memory_working_set_bytes.clone(),
            POD_METRICS_READS: m.pod_metrics_reads.clone(),
        }
        .register(registry);
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
