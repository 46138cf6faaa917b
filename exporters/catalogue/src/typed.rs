//! A catalogue entry that knows its label set and kind as types, so registering a metric
//! under it is checked by the compiler: a `Family<L, _>` is accepted only by an entry whose
//! labels are `L`, a counter only by a counter entry, a single series only by an entry
//! without labels.
//!
//! The entries themselves are data (`metrics/<module>.toml`), which the build script turns
//! into `catalogue!` and `label_sets!` invocations (see `declare.rs`); these also write each
//! module's `Families`: the only way to register, all of a module's families at once, so a
//! daemon cannot leave one out either.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric as Registrable, Registry};

use crate::metric::Metric;

/// A label-set type declared by `label_sets!`: its fields are these keys, in this order.
pub trait LabelSet {
    const KEYS: &'static [&'static str];
}

/// The label set of a family that has none (a single series). It has no values and no
/// `EncodeLabelSet`, so no `Family` can be made of it: only a single metric fits.
#[derive(Debug)]
pub enum NoLabels {}

impl LabelSet for NoLabels {
    const KEYS: &'static [&'static str] = &[];
}

/// Type-level twins of [`Kind`](crate::Kind), one per kind a daemon registers.
pub mod kinds {
    use crate::metric::Kind;

    /// A marker that names a [`Kind`].
    pub trait KindOf {
        const KIND: Kind;
    }
    /// Histogram kinds: a prometheus-client `Histogram` is classic, native or both
    /// depending on how it was built, so it fits all three.
    pub trait AnyHistogram: KindOf {}

    macro_rules! markers {
        ($($kind:ident),* ; $($histogram:ident),*) => {
            $(
                #[derive(Debug)]
                pub enum $kind {}
                impl KindOf for $kind {
                    const KIND: Kind = Kind::$kind;
                }
            )*
            $(impl AnyHistogram for $histogram {})*
        };
    }
    markers!(Counter, Gauge, Histogram, NativeHistogram, HistogramBoth;
             Histogram, NativeHistogram, HistogramBoth);
}

/// What may be registered under an entry with label set `L` and kind `K`.
///
/// Implemented here for prometheus-client's counter, gauge and histogram and for any
/// `Family` of them; a daemon's own metric type (a lock-free histogram, say) implements it
/// for the kind it encodes as.
///
/// `fit`'s families: a ratio labelled by budget, resource and basis, two totals by basis
/// and one single gauge:
/// ```
/// use prometheus_client::metrics::{family::Family, gauge::Gauge};
/// use prometheus_client::registry::Registry;
/// use redline_catalogue::fit;
/// type F64 = Gauge<f64, std::sync::atomic::AtomicU64>;
///
/// fit::Families {
///     BUDGET_RATIO: Family::<fit::RatioLabels, F64>::default(),
///     CPU_CORES: Family::<fit::BasisLabels, F64>::default(),
///     MEMORY_BYTES: Family::<fit::BasisLabels, F64>::default(),
///     USAGE_AVAILABLE: Gauge::<i64>::default(),
/// }
/// .register(&mut Registry::default());
/// ```
/// Another label set does not compile:
/// ```compile_fail
/// # use prometheus_client::metrics::{family::Family, gauge::Gauge};
/// # use redline_catalogue::{chaos, fit};
/// fit::Families {
///     BUDGET_RATIO: Family::<chaos::FaultLabels, Gauge>::default(),
///     CPU_CORES: Family::<fit::BasisLabels, Gauge>::default(),
///     MEMORY_BYTES: Family::<fit::BasisLabels, Gauge>::default(),
///     USAGE_AVAILABLE: Gauge::<i64>::default(),
/// }
/// .register(&mut Default::default());
/// ```
/// nor another kind:
/// ```compile_fail
/// # use prometheus_client::metrics::{counter::Counter, family::Family, gauge::Gauge};
/// # use redline_catalogue::fit;
/// fit::Families {
///     BUDGET_RATIO: Family::<fit::RatioLabels, Counter>::default(),
///     CPU_CORES: Family::<fit::BasisLabels, Gauge>::default(),
///     MEMORY_BYTES: Family::<fit::BasisLabels, Gauge>::default(),
///     USAGE_AVAILABLE: Gauge::<i64>::default(),
/// }
/// .register(&mut Default::default());
/// ```
/// nor a single series where the entry has labels:
/// ```compile_fail
/// # use prometheus_client::metrics::{family::Family, gauge::Gauge};
/// # use redline_catalogue::fit;
/// fit::Families {
///     BUDGET_RATIO: Gauge::<i64>::default(),
///     CPU_CORES: Family::<fit::BasisLabels, Gauge>::default(),
///     MEMORY_BYTES: Family::<fit::BasisLabels, Gauge>::default(),
///     USAGE_AVAILABLE: Gauge::<i64>::default(),
/// }
/// .register(&mut Default::default());
/// ```
/// nor a module's families with one left out:
/// ```compile_fail
/// # use prometheus_client::metrics::{counter::Counter, family::Family, gauge::Gauge};
/// # use redline_catalogue::chaos;
/// chaos::Families {
///     FAULTS_INJECTED: Family::<chaos::FaultLabels, Counter>::default(),
///     FAULT_ACTIVE: Family::<chaos::ActiveLabels, Gauge>::default(),
///     // RECOVERY left out
///     PROBE_UP: Family::<chaos::ProbeLabels, Gauge>::default(),
///     INTERRUPTION: Family::<chaos::InterruptionLabels, Gauge>::default(),
///     PROBE_FAILURES: Family::<chaos::ProbeLabels, Counter>::default(),
///     LOST_WRITES: Counter::<u64>::default(),
///     EVICTIONS_REFUSED: Counter::<u64>::default(),
/// }
/// .register(&mut Default::default());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be registered under a catalogue entry labelled `{L}` of kind `{K}`",
    label = "the catalogue declares this family with other labels or another kind"
)]
pub trait Series<L, K>: Registrable {}

impl<N, A> Series<NoLabels, kinds::Counter> for Counter<N, A> where Counter<N, A>: Registrable {}
impl<N, A> Series<NoLabels, kinds::Gauge> for Gauge<N, A> where Gauge<N, A>: Registrable {}
impl<K: kinds::AnyHistogram> Series<NoLabels, K> for Histogram {}
impl<L, K, M, C> Series<L, K> for Family<L, M, C>
where
    M: Series<NoLabels, K>,
    Family<L, M, C>: Registrable,
{
}

/// One catalogued family with its label set `L` and kind `K` as types. Reads as the
/// plain [`Metric`] it wraps.
pub struct Catalogued<L, K> {
    metric: Metric,
    types: PhantomData<fn() -> (L, K)>,
}

impl<L: LabelSet, K: kinds::KindOf> Catalogued<L, K> {
    /// The entry for `name`; kind and label keys come from the types.
    pub(crate) const fn new(name: &'static str, help: &'static str) -> Self {
        Self {
            metric: Metric {
                name,
                kind: K::KIND,
                labels: L::KEYS,
                help,
            },
            types: PhantomData,
        }
    }
}

impl<L, K> Catalogued<L, K> {
    /// The plain entry, for the module's `ALL`.
    pub const fn metric(&self) -> Metric {
        self.metric
    }

    /// Registers `metric` under the catalogue's name and help. Crate-private: daemons
    /// register through their module's `Families`, which takes every entry at once.
    pub(crate) fn register(&self, registry: &mut Registry, metric: impl Series<L, K>) {
        registry.register(self.metric.family_name(), self.metric.family_help(), metric);
    }
}

impl<L, K> Deref for Catalogued<L, K> {
    type Target = Metric;
    fn deref(&self) -> &Metric {
        &self.metric
    }
}

impl<L, K> Clone for Catalogued<L, K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<L, K> Copy for Catalogued<L, K> {}

impl<L, K> fmt::Debug for Catalogued<L, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.metric.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::Registry;

    use crate::Kind;
    use crate::tokens::{self, TierLabel, TierStep};

    #[test]
    fn families_register_every_entry_under_its_name_help_type_and_label_keys() {
        let duration =
            Family::<TierLabel, Histogram, fn() -> Histogram>::new_with_constructor(|| {
                Histogram::new([0.1, 1.0])
            });
        let issued = Family::<TierLabel, Counter>::default();
        let errors = Family::<TierStep, Counter>::default();
        let elapsed = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let expiry = Family::<TierLabel, Gauge>::default();
        let mut registry = Registry::default();
        tokens::Families {
            SERVICEACCOUNT_CREATE_DURATION: duration.clone(),
            ISSUED: issued.clone(),
            ERRORS: errors.clone(),
            CREATE_ELAPSED: elapsed.clone(),
            EXPIRY: expiry.clone(),
        }
        .register(&mut registry);
        let free = TierLabel {
            tier: "free".into(),
        };
        duration.get_or_create(&free).observe(0.5);
        issued.get_or_create(&free).inc();
        errors
            .get_or_create(&TierStep {
                tier: "free".into(),
                step: "token".into(),
            })
            .inc();
        expiry.get_or_create(&free).set(1);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();

        for m in tokens::ALL {
            let family = m.family_name();
            let kind = match m.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
                other => panic!("{}: tokens has no {other:?}", m.name),
            };
            assert!(
                text.contains(&format!("# HELP {family} {}\n", m.help)),
                "{family}:\n{text}"
            );
            assert!(
                text.contains(&format!("# TYPE {family} {kind}\n")),
                "{family}"
            );
            // The first series of the family carries exactly the catalogued keys, in order.
            let series = text
                .lines()
                .find(|l| !l.starts_with('#') && l.starts_with(m.name))
                .unwrap_or_else(|| panic!("no series of {}:\n{text}", m.name));
            let keys: Vec<&str> = series
                .split_once('{')
                .map(|(_, rest)| {
                    rest.split(',')
                        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
                        .filter(|k| *k != "le")
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(keys, m.labels, "{}", m.name);
        }
    }
}
