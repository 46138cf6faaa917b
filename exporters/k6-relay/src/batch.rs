//! One accepted request's samples as the relay keeps them between the label rules and the
//! queue: each series validated and built once, its samples in request order; and the same
//! batch as a disk-buffer record (a snappy-compressed `WriteRequest`).

use prost::Message;
use redline_remote_write::Series;
use redline_remote_write::prompb::{Exemplar, Histogram, Sample, TimeSeries, WriteRequest};

pub enum Value {
    Float { ts: i64, v: f64 },
    Histogram(Box<Histogram>),
    Exemplar(Box<Exemplar>),
}

impl Value {
    /// 0 for a float sample, 1 for a native histogram, 2 for an exemplar: the index into
    /// the relay's `[float, histogram, exemplar]` counters.
    pub fn kind(&self) -> usize {
        match self {
            Value::Float { .. } => 0,
            Value::Histogram(_) => 1,
            Value::Exemplar(_) => 2,
        }
    }
}

pub struct Item {
    /// Index into [`Batch::series`].
    pub series: u32,
    pub value: Value,
}

/// One request's samples, each series validated and built once.
#[derive(Default)]
pub struct Batch {
    pub series: Vec<Series>,
    /// In request order; one series' samples keep their relative order.
    pub items: Vec<Item>,
}

impl Batch {
    /// Appends a float sample of `series` (an index into [`Batch::series`]).
    pub fn push_float(&mut self, series: u32, ts: i64, v: f64) {
        self.items.push(Item {
            series,
            value: Value::Float { ts, v },
        });
    }

    /// Appends a native-histogram sample of `series`.
    pub fn push_histogram(&mut self, series: u32, h: Histogram) {
        self.items.push(Item {
            series,
            value: Value::Histogram(Box::new(h)),
        });
    }

    /// Appends an exemplar of `series`.
    pub fn push_exemplar(&mut self, series: u32, e: Exemplar) {
        self.items.push(Item {
            series,
            value: Value::Exemplar(Box::new(e)),
        });
    }

    /// Samples of each kind in `items[from..]`.
    pub fn kinds(&self, from: usize) -> [u64; 3] {
        let mut k = [0u64; 3];
        for i in &self.items[from..] {
            k[i.value.kind()] += 1;
        }
        k
    }

    /// `items[from..]` as a snappy-compressed `WriteRequest`, the disk buffer's record.
    pub fn encode_from(&self, from: usize) -> Vec<u8> {
        let mut by_series: Vec<Option<usize>> = vec![None; self.series.len()];
        let mut out: Vec<TimeSeries> = Vec::new();
        for item in &self.items[from..] {
            let i = *by_series[item.series as usize].get_or_insert_with(|| {
                out.push(TimeSeries {
                    labels: self.series[item.series as usize].labels().to_vec(),
                    ..Default::default()
                });
                out.len() - 1
            });
            match &item.value {
                Value::Float { ts, v } => out[i].samples.push(Sample {
                    value: *v,
                    timestamp: *ts,
                }),
                Value::Histogram(h) => out[i].histograms.push((**h).clone()),
                Value::Exemplar(e) => out[i].exemplars.push((**e).clone()),
            }
        }
        let raw = WriteRequest {
            timeseries: out,
            metadata: vec![],
        }
        .encode_to_vec();
        snap::raw::Encoder::new()
            .compress_vec(&raw)
            .expect("snappy can compress any buffer")
    }

    /// A disk-buffer record back into a batch. Its series were validated when the request
    /// came in, under 1.0's or 2.0's (UTF-8) name rules, so the wider rules apply here.
    pub fn decode(record: &[u8]) -> Result<Self, String> {
        let raw = snap::raw::Decoder::new()
            .decompress_vec(record)
            .map_err(|e| e.to_string())?;
        let req = WriteRequest::decode(raw.as_slice()).map_err(|e| e.to_string())?;
        let mut batch = Batch::default();
        for ts in req.timeseries {
            let s = batch.series.len() as u32;
            batch
                .series
                .push(Series::from_labels_utf8(ts.labels).map_err(|e| e.to_string())?);
            for sample in ts.samples {
                batch.push_float(s, sample.timestamp, sample.value);
            }
            for h in ts.histograms {
                batch.push_histogram(s, h);
            }
            for e in ts.exemplars {
                batch.push_exemplar(s, e);
            }
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_remote_write::prompb::Label;

    #[test]
    fn a_disk_buffer_record_keeps_every_kind_exemplars_included() {
        let mut b = Batch::default();
        b.series.push(Series::new("m_total", [("a", "1")]).unwrap());
        b.push_float(0, 10, 1.5);
        b.push_histogram(0, Histogram::default());
        b.push_exemplar(
            0,
            Exemplar {
                labels: vec![Label {
                    name: "trace_id".into(),
                    value: "t1".into(),
                }],
                value: 0.5,
                timestamp: 10,
            },
        );
        assert_eq!(b.kinds(0), [1, 1, 1]);
        let back = Batch::decode(&b.encode_from(0)).unwrap();
        assert_eq!(back.kinds(0), [1, 1, 1]);
        assert!(matches!(&back.items[2].value, Value::Exemplar(e) if e.labels[0].value == "t1"));
        assert_eq!(b.kinds(2), [0, 0, 1]);
    }
}
