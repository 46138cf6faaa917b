//! What the relay does to each series' labels: `testid` where missing, `--drop-label`,
//! `--rename-label`; and validation, so a bad series rejects the request before anything of
//! it is queued (a request is accepted whole or not at all).

use std::collections::HashMap;

use redline_remote_write::prompb::{Label, WriteRequest};
use redline_remote_write::{InvalidSeries, Series};

use crate::args::K6RelayArgs;
use crate::batch::{Batch, Value};
use crate::rejection::Rejection;

#[derive(Debug, Clone, Default)]
pub struct LabelRules {
    drop: Vec<String>,
    rename: Vec<(String, String)>,
    /// Added where the series has no label of that name (k6 only sends `testid` when run with
    /// `--tag testid=...`).
    defaults: Vec<Label>,
}

impl LabelRules {
    pub fn new(args: &K6RelayArgs, testid: &str) -> Self {
        Self {
            drop: args.drop_labels.clone(),
            rename: args.rename_labels.clone(),
            defaults: vec![Label {
                name: "testid".into(),
                value: testid.into(),
            }],
        }
    }

    pub fn apply(&self, mut labels: Vec<Label>) -> Vec<Label> {
        labels.retain(|l| !self.drop.contains(&l.name));
        for (from, to) in &self.rename {
            if let Some(i) = labels.iter().position(|l| &l.name == from) {
                if labels.iter().any(|l| &l.name == to) {
                    labels.remove(i);
                } else {
                    labels[i].name = to.clone();
                }
            }
        }
        for d in &self.defaults {
            if !labels
                .iter()
                .any(|l| l.name == d.name && !l.value.is_empty())
            {
                labels.retain(|l| l.name != d.name);
                labels.push(d.clone());
            }
        }
        labels
    }

    /// Validates and rewrites a whole request. Two series that became one through
    /// `--drop-label` are merged: counter-like samples (`_total`, `_count`, `_sum`, `_bucket`)
    /// at the same timestamp are added up; for anything else the first is kept and the rest are
    /// counted in `collisions`.
    pub fn prepare(&self, req: WriteRequest) -> Result<Prepared, Rejection> {
        self.prepare_with(req, Series::from_labels)
    }

    /// [`LabelRules::prepare`] for a remote-write 2.0 request, whose metric and label names
    /// may be any UTF-8 (as Prometheus 3 takes them).
    pub fn prepare_v2(&self, req: WriteRequest) -> Result<Prepared, Rejection> {
        self.prepare_with(req, Series::from_labels_utf8)
    }

    fn prepare_with(
        &self,
        req: WriteRequest,
        series_of: fn(Vec<Label>) -> Result<Series, InvalidSeries>,
    ) -> Result<Prepared, Rejection> {
        let mut batch = Batch::default();
        let mut index: HashMap<Series, u32> = HashMap::new();
        let mut float_at: HashMap<(u32, i64), usize> = HashMap::new();
        let mut hist_at: HashMap<(u32, i64), ()> = HashMap::new();
        let mut collisions = 0u64;
        for (i, ts) in req.timeseries.into_iter().enumerate() {
            let series = series_of(self.apply(ts.labels)).map_err(|e| match e {
                InvalidSeries::NoName => Rejection::MissingName { index: i },
                other => Rejection::BadLabel {
                    index: i,
                    message: other.to_string(),
                },
            })?;
            let additive = is_additive(series.name());
            let next = batch.series.len() as u32;
            let s = *index.entry(series.clone()).or_insert_with(|| {
                batch.series.push(series);
                next
            });
            for sample in ts.samples {
                match float_at.get(&(s, sample.timestamp)) {
                    Some(&at) if additive => {
                        if let Value::Float { v, .. } = &mut batch.items[at].value {
                            *v += sample.value;
                        }
                    }
                    Some(_) => collisions += 1,
                    None => {
                        float_at.insert((s, sample.timestamp), batch.items.len());
                        batch.push_float(s, sample.timestamp, sample.value);
                    }
                }
            }
            for h in ts.histograms {
                if hist_at.insert((s, h.timestamp), ()).is_some() {
                    collisions += 1;
                    continue;
                }
                batch.push_histogram(s, h);
            }
            // Exemplars go on as they came: they carry no sample a label collision could
            // double, and the receiver keeps one per (series, timestamp) anyway.
            for e in ts.exemplars {
                batch.push_exemplar(s, e);
            }
        }
        Ok(Prepared { batch, collisions })
    }
}

/// A request ready to forward.
pub struct Prepared {
    pub batch: Batch,
    /// Samples given up because dropping a label made two series one.
    pub collisions: u64,
}

fn is_additive(name: &str) -> bool {
    ["_total", "_count", "_sum", "_bucket"]
        .iter()
        .any(|s| name.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_remote_write::prompb::{Sample, TimeSeries};

    fn l(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    fn rules(drop: &[&str], rename: &[(&str, &str)]) -> LabelRules {
        let mut a = K6RelayArgs::for_test("http://127.0.0.1:1/api/v1/write", "run-1");
        a.drop_labels = drop.iter().map(|s| s.to_string()).collect();
        a.rename_labels = rename
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        LabelRules::new(&a, "run-1")
    }

    fn ts(labels: Vec<Label>, at: i64, v: f64) -> TimeSeries {
        TimeSeries {
            labels,
            samples: vec![Sample {
                value: v,
                timestamp: at,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn testid_is_added_only_where_missing_and_labels_are_dropped_and_renamed() {
        let r = rules(&["url"], &[("name", "endpoint")]);
        let out = r.apply(vec![
            l("__name__", "k6_http_reqs_total"),
            l("url", "http://x/a?id=1"),
            l("name", "a"),
        ]);
        let s = Series::from_labels(out).unwrap();
        assert_eq!(s.label("testid"), Some("run-1"));
        assert_eq!(s.label("url"), None);
        assert_eq!(s.label("endpoint"), Some("a"));
        assert_eq!(s.label("name"), None);
        let own = r.apply(vec![l("__name__", "k6_vus"), l("testid", "k6-own")]);
        assert_eq!(
            Series::from_labels(own).unwrap().label("testid"),
            Some("k6-own")
        );
        // The series' own label under the new name wins over a renamed one.
        let both = r.apply(vec![l("__name__", "m"), l("name", "x"), l("endpoint", "y")]);
        assert_eq!(
            Series::from_labels(both).unwrap().label("endpoint"),
            Some("y")
        );
    }

    #[test]
    fn a_bad_series_rejects_the_request_naming_the_series() {
        let r = rules(&[], &[]);
        let req = WriteRequest {
            timeseries: vec![
                ts(vec![l("__name__", "ok")], 1, 1.0),
                ts(vec![l("job", "x")], 1, 1.0),
            ],
            metadata: vec![],
        };
        let e = r.prepare(req).err().unwrap();
        assert_eq!(e, Rejection::MissingName { index: 1 });
        let req = WriteRequest {
            timeseries: vec![ts(vec![l("__name__", "ok"), l("bad-label", "v")], 1, 1.0)],
            metadata: vec![],
        };
        let e = r.prepare(req).err().unwrap();
        assert_eq!(e.reason(), "bad_label");
        assert!(e.to_string().contains("bad-label"), "{e}");
    }

    #[test]
    fn series_merged_by_a_dropped_label_add_up_counters_and_keep_the_first_gauge() {
        let r = rules(&["url"], &[]);
        let req = WriteRequest {
            timeseries: [
                ("k6_http_reqs_total", "/a?1", 3.0),
                ("k6_http_reqs_total", "/a?2", 4.0),
                ("k6_http_req_duration_p95", "/a?1", 0.1),
                ("k6_http_req_duration_p95", "/a?2", 0.2),
            ]
            .into_iter()
            .map(|(name, url, v)| ts(vec![l("__name__", name), l("url", url)], 5, v))
            .collect(),
            metadata: vec![],
        };
        let p = r.prepare(req).unwrap();
        assert_eq!(p.batch.series.len(), 2);
        assert_eq!(p.batch.items.len(), 2);
        assert_eq!(p.collisions, 1);
        let Value::Float { v, .. } = p.batch.items[0].value else {
            panic!()
        };
        assert_eq!(v, 7.0);
    }
}
