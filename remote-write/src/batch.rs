//! What flows from the producers to the wire: one queued sample ([`Item`]), and the
//! samples of one request grouped per series in arrival order ([`Batch`]).

use std::collections::HashMap;

use crate::encode::Entry;
use crate::prompb::{Exemplar, Histogram, Sample};
use crate::series::Series;
use crate::stats::Kind;

pub(crate) enum Value {
    Float(f64),
    Histogram(Box<Histogram>),
    /// A native histogram whose producer also sends its classic buckets as floats: where
    /// the receiver refuses native histograms it is left out, not converted.
    NativeBesideClassic(Box<Histogram>),
    /// An exemplar of the series (its own `timestamp` is used); both wire formats carry it
    /// beside the series' samples.
    Exemplar(Box<Exemplar>),
}

/// One sample in a shard's queue.
pub(crate) struct Item {
    pub(crate) series: Series,
    pub(crate) timestamp: i64,
    pub(crate) value: Value,
}

impl Item {
    pub(crate) fn kind(&self) -> Kind {
        match self.value {
            Value::Float(_) => Kind::Float,
            Value::Histogram(_) | Value::NativeBesideClassic(_) => Kind::Histogram,
            Value::Exemplar(_) => Kind::Exemplar,
        }
    }
}

fn h_ts(v: &Value) -> i64 {
    match v {
        Value::Histogram(h) | Value::NativeBesideClassic(h) => h.timestamp,
        Value::Exemplar(e) => e.timestamp,
        Value::Float(_) => 0,
    }
}

/// One series' share of a batch: its samples, histograms and exemplars.
type SeriesEntry = (Series, Vec<Sample>, Vec<Histogram>, Vec<Exemplar>);

/// Samples of one request, grouped per series in arrival order.
#[derive(Default)]
pub(crate) struct Batch {
    index: HashMap<u64, usize>,
    entries: Vec<SeriesEntry>,
    /// Per entry, per histogram: whether it is a [`Value::NativeBesideClassic`].
    beside_classic: Vec<Vec<bool>>,
    pub(crate) floats: u64,
    pub(crate) histograms: u64,
    pub(crate) exemplars: u64,
    /// The newest timestamp in the batch, in milliseconds.
    pub(crate) newest_ts: i64,
}

impl Batch {
    pub(crate) fn len(&self) -> usize {
        (self.floats + self.histograms + self.exemplars) as usize
    }

    /// How many of `kind` the batch holds.
    pub(crate) fn count(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Float => self.floats,
            Kind::Histogram => self.histograms,
            Kind::Exemplar => self.exemplars,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
        self.beside_classic.clear();
        self.floats = 0;
        self.histograms = 0;
        self.exemplars = 0;
        self.newest_ts = 0;
    }

    pub(crate) fn add(&mut self, wire: &Series, ts: i64, value: Value) {
        let i = *self.index.entry(wire.hash()).or_insert_with(|| {
            self.entries
                .push((wire.clone(), Vec::new(), Vec::new(), Vec::new()));
            self.beside_classic.push(Vec::new());
            self.entries.len() - 1
        });
        if !matches!(value, Value::Exemplar(_)) {
            self.newest_ts = self.newest_ts.max(ts);
        }
        match value {
            Value::Float(v) => {
                self.floats += 1;
                self.entries[i].1.push(Sample {
                    value: v,
                    timestamp: ts,
                });
            }
            Value::Histogram(h) => {
                self.histograms += 1;
                self.entries[i].2.push(*h);
                self.beside_classic[i].push(false);
            }
            Value::NativeBesideClassic(h) => {
                self.histograms += 1;
                self.entries[i].2.push(*h);
                self.beside_classic[i].push(true);
            }
            Value::Exemplar(e) => {
                self.exemplars += 1;
                self.entries[i].3.push(*e);
            }
        }
    }

    /// Whether the batch holds a float or histogram sample of `wire`, which an exemplar of
    /// it can travel beside.
    pub(crate) fn has_samples(&self, wire: &Series) -> bool {
        self.index.get(&wire.hash()).is_some_and(|&i| {
            let (_, floats, histograms, _) = &self.entries[i];
            !floats.is_empty() || !histograms.is_empty()
        })
    }

    /// Every sample again, as it was added (per series: floats, histograms, exemplars), for
    /// rebuilding the batch in another form.
    pub(crate) fn items(&self) -> Vec<(&Series, i64, Value)> {
        let mut out = Vec::with_capacity(self.len());
        for ((series, floats, histograms, exemplars), beside) in
            self.entries.iter().zip(&self.beside_classic)
        {
            for s in floats {
                out.push((series, s.timestamp, Value::Float(s.value)));
            }
            for (h, &beside) in histograms.iter().zip(beside) {
                let h = Box::new(h.clone());
                let v = if beside {
                    Value::NativeBesideClassic(h)
                } else {
                    Value::Histogram(h)
                };
                out.push((series, h_ts(&v), v));
            }
            for e in exemplars {
                out.push((series, e.timestamp, Value::Exemplar(Box::new(e.clone()))));
            }
        }
        out
    }

    /// The batch as the encoder takes it: one entry per series.
    pub(crate) fn entries(&self) -> Vec<Entry<'_>> {
        self.entries
            .iter()
            .map(|(s, f, h, e)| Entry {
                series: s,
                samples: f,
                histograms: h,
                exemplars: e,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_grouped_per_series_in_arrival_order() {
        let a = Series::new("m", [("s", "a")]).unwrap();
        let b = Series::new("m", [("s", "b")]).unwrap();
        let mut batch = Batch::default();
        batch.add(&a, 10, Value::Float(1.0));
        batch.add(&b, 30, Value::Float(2.0));
        batch.add(
            &a,
            20,
            Value::Histogram(Box::new(Histogram {
                timestamp: 20,
                ..Default::default()
            })),
        );
        batch.add(&a, 25, Value::Float(3.0));
        assert_eq!((batch.len(), batch.floats, batch.histograms), (4, 3, 1));
        assert_eq!(batch.newest_ts, 30);
        let entries = batch.entries();
        assert_eq!(entries.len(), 2, "one entry per series");
        assert_eq!(entries[0].series, &a);
        let ts: Vec<i64> = entries[0].samples.iter().map(|s| s.timestamp).collect();
        assert_eq!(ts, [10, 25]);
        assert_eq!(entries[0].histograms.len(), 1);
        assert_eq!(entries[1].series, &b);
        assert_eq!(entries[1].samples[0].value, 2.0);
        drop(entries);

        batch.clear();
        assert_eq!((batch.len(), batch.newest_ts), (0, 0));
        assert!(batch.entries().is_empty());
        batch.add(&b, 5, Value::Float(9.0));
        assert_eq!(batch.entries()[0].series, &b, "no stale index after clear");
    }
}
