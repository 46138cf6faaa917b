//! A validated, sorted label set, built once and shared by every sample of it.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::meta::Metadata;
use crate::prompb::Label;

/// The bit pattern Prometheus reads as "this series ended here" (`value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as a float.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Is this the staleness marker (and not any other NaN)?
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSeries {
    #[error("invalid metric name {0:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    MetricName(String),
    #[error("series {series}: invalid label name {label:?}: must match [a-zA-Z_][a-zA-Z0-9_]*")]
    LabelName { series: String, label: String },
    #[error("series {series}: label {label:?} given twice")]
    DuplicateLabel { series: String, label: String },
    #[error("series {series}: label names starting with __ are reserved ({label:?})")]
    ReservedLabel { series: String, label: String },
    #[error("series has no __name__ label")]
    NoName,
}

/// One time series' identity. Cheap to clone (an `Arc`); its protobuf encoding is
/// computed once so the send path only copies bytes.
#[derive(Clone)]
pub struct Series(Arc<Inner>);

struct Inner {
    labels: Vec<Label>,
    encoded_labels: Vec<u8>,
    hash: u64,
    /// Sent by remote-write 2.0 only; not part of the series' identity.
    metadata: Option<Arc<Metadata>>,
    /// [`symbol_hash`] of each label name and value, in label order, and of the metadata's
    /// help and unit: computed once, so a 2.0 request's symbols table hashes nothing per sample.
    symbol_hashes: Vec<u64>,
    metadata_hashes: (u64, u64),
    /// When the series' counting started, in ms (0: not known); sent by remote-write 2.0
    /// only, as each sample's `start_timestamp`. Not part of the series' identity.
    created_ms: i64,
}

/// FNV-1a of a symbol (a label name or value, a help text, a unit): the remote-write 2.0
/// encoder interns symbols by it. Cheap for the short strings labels are; nothing untrusted
/// chooses them, so no keyed hash is needed.
pub(crate) fn symbol_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn valid_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, Prometheus' label name syntax. (Names starting with `__` are
/// valid syntax but reserved for Prometheus; callers that accept user names refuse them.)
pub fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Series {
    /// A series from a metric name and labels. Empty label values are dropped:
    /// Prometheus treats an empty label as an absent one, and keeping it would make
    /// two names for one series.
    pub fn new<K, V>(
        name: &str,
        labels: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, InvalidSeries>
    where
        K: Into<String>,
        V: Into<String>,
    {
        if !valid_metric_name(name) {
            return Err(InvalidSeries::MetricName(name.to_string()));
        }
        let mut all = vec![Label {
            name: "__name__".into(),
            value: name.into(),
        }];
        for (k, v) in labels {
            let (k, v) = (k.into(), v.into());
            if !valid_label_name(&k) {
                return Err(InvalidSeries::LabelName {
                    series: name.into(),
                    label: k,
                });
            }
            if k.starts_with("__") {
                return Err(InvalidSeries::ReservedLabel {
                    series: name.into(),
                    label: k,
                });
            }
            if !v.is_empty() {
                all.push(Label { name: k, value: v });
            }
        }
        Self::from_sorted(sort_unique(all, name)?)
    }

    /// A series from wire labels (e.g. a relayed `TimeSeries`), which must include
    /// `__name__`; order does not matter.
    pub fn from_labels(labels: Vec<Label>) -> Result<Self, InvalidSeries> {
        Self::from_checked(labels, false)
    }

    /// Like [`Series::from_labels`], but metric and label names may be any non-empty UTF-8
    /// (remote-write 2.0 and Prometheus 3 accept names such as `resource.cpu.usage`); only a
    /// missing or empty `__name__`, an empty label name and duplicates are refused.
    pub fn from_labels_utf8(labels: Vec<Label>) -> Result<Self, InvalidSeries> {
        Self::from_checked(labels, true)
    }

    /// Both constructors: the names checked under the classic rules or as UTF-8 (`utf8`),
    /// empty values dropped, then sorted and checked for duplicates.
    fn from_checked(labels: Vec<Label>, utf8: bool) -> Result<Self, InvalidSeries> {
        let name = labels
            .iter()
            .find(|l| l.name == "__name__" && !(utf8 && l.value.is_empty()))
            .map(|l| l.value.clone())
            .ok_or(InvalidSeries::NoName)?;
        if !utf8 && !valid_metric_name(&name) {
            return Err(InvalidSeries::MetricName(name));
        }
        let name_ok = |n: &str| {
            if utf8 {
                !n.is_empty()
            } else {
                n == "__name__" || valid_label_name(n)
            }
        };
        let mut kept = Vec::with_capacity(labels.len());
        for l in labels {
            if !name_ok(&l.name) {
                return Err(InvalidSeries::LabelName {
                    series: name,
                    label: l.name,
                });
            }
            if !l.value.is_empty() {
                kept.push(l);
            }
        }
        Self::from_sorted(sort_unique(kept, &name)?)
    }

    fn from_sorted(labels: Vec<Label>) -> Result<Self, InvalidSeries> {
        let mut encoded_labels = Vec::with_capacity(labels.len() * 24);
        let mut h = std::hash::DefaultHasher::new();
        let mut symbol_hashes = Vec::with_capacity(labels.len() * 2);
        for l in &labels {
            symbol_hashes.push(symbol_hash(&l.name));
            symbol_hashes.push(symbol_hash(&l.value));
            put_label(&mut encoded_labels, &l.name, &l.value);
            l.name.hash(&mut h);
            l.value.hash(&mut h);
        }
        Ok(Self(Arc::new(Inner {
            labels,
            encoded_labels,
            hash: h.finish(),
            metadata: None,
            symbol_hashes,
            metadata_hashes: (0, 0),
            created_ms: 0,
        })))
    }

    /// This series with its metric's type, help and unit, which remote-write 2.0 sends
    /// beside its samples. Equality and hashing ignore it: it describes the series, it
    /// does not name it.
    pub fn with_metadata(&self, metadata: Metadata) -> Self {
        Self(Arc::new(Inner {
            labels: self.0.labels.clone(),
            encoded_labels: self.0.encoded_labels.clone(),
            hash: self.0.hash,
            symbol_hashes: self.0.symbol_hashes.clone(),
            metadata_hashes: (symbol_hash(&metadata.help), symbol_hash(&metadata.unit)),
            metadata: Some(Arc::new(metadata)),
            created_ms: self.0.created_ms,
        }))
    }

    /// This series with the time its counting started (Unix ms): what a counter's or a
    /// cumulative histogram's `_created` says in OpenMetrics, and what remote-write 2.0 sends
    /// as every sample's and histogram's `start_timestamp` (the "created timestamp"), so a
    /// receiver knows the count began at 0 then. Prometheus' client libraries take the
    /// instant the counter (or each labelled child) was created; a gauge has none. Like the
    /// metadata it describes the series and does not name it; remote-write 1.0 has no place
    /// for it. A value ≤ 0 means "not known" (the 2.0 wire's 0). Takes `self` so a series
    /// just built is changed in place instead of copied.
    pub fn with_created_timestamp(mut self, created_ms: i64) -> Self {
        let created_ms = created_ms.max(0);
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.created_ms = created_ms,
            None => {
                let i = &self.0;
                self = Self(Arc::new(Inner {
                    labels: i.labels.clone(),
                    encoded_labels: i.encoded_labels.clone(),
                    hash: i.hash,
                    metadata: i.metadata.clone(),
                    symbol_hashes: i.symbol_hashes.clone(),
                    metadata_hashes: i.metadata_hashes,
                    created_ms,
                }));
            }
        }
        self
    }

    /// When the series' counting started (Unix ms), if known: see
    /// [`with_created_timestamp`](Self::with_created_timestamp).
    pub fn created_timestamp(&self) -> Option<i64> {
        (self.0.created_ms > 0).then_some(self.0.created_ms)
    }

    pub fn metadata(&self) -> Option<&Metadata> {
        self.0.metadata.as_deref()
    }

    /// [`symbol_hash`] of each label's name and value, in [`Series::labels`] order.
    pub(crate) fn symbol_hashes(&self) -> &[u64] {
        &self.0.symbol_hashes
    }

    /// [`symbol_hash`] of the metadata's help and unit ((0, 0) without metadata).
    pub(crate) fn metadata_hashes(&self) -> (u64, u64) {
        self.0.metadata_hashes
    }

    /// This series with `extra` labels added where it has no label of that name:
    /// external labels never override what the series says about itself.
    pub fn with_defaults(&self, extra: &[Label]) -> Self {
        if extra
            .iter()
            .all(|e| self.labels().iter().any(|l| l.name == e.name))
        {
            return self.clone();
        }
        let mut labels = self.labels().to_vec();
        for e in extra {
            if !labels.iter().any(|l| l.name == e.name) && !e.value.is_empty() {
                labels.push(e.clone());
            }
        }
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        let with = Self::from_sorted(labels).expect("labels were valid");
        let with = match self.metadata() {
            Some(m) => with.with_metadata(m.clone()),
            None => with,
        };
        with.with_created_timestamp(self.0.created_ms)
    }

    /// Labels sorted by name, `__name__` among them.
    pub fn labels(&self) -> &[Label] {
        &self.0.labels
    }

    pub fn name(&self) -> &str {
        self.label("__name__").unwrap_or_default()
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.0
            .labels
            .iter()
            .find(|l| l.name == key)
            .map(|l| l.value.as_str())
    }

    /// A stable hash of the label set: which shard the series goes to.
    pub fn hash(&self) -> u64 {
        self.0.hash
    }

    pub(crate) fn encoded_labels(&self) -> &[u8] {
        &self.0.encoded_labels
    }
}

/// One `Label` as field 1 of a `TimeSeries`, encoded once per series so the send
/// path only copies bytes.
fn put_label(buf: &mut Vec<u8>, name: &str, value: &str) {
    use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
    let field = |len: usize| 1 + encoded_len_varint(len as u64) + len;
    let inner = field(name.len()) + field(value.len());
    encode_key(1, WireType::LengthDelimited, buf);
    encode_varint(inner as u64, buf);
    for (tag, bytes) in [(1, name.as_bytes()), (2, value.as_bytes())] {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(bytes.len() as u64, buf);
        buf.extend_from_slice(bytes);
    }
}

fn sort_unique(mut labels: Vec<Label>, series: &str) -> Result<Vec<Label>, InvalidSeries> {
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = labels.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(InvalidSeries::DuplicateLabel {
            series: series.into(),
            label: w[0].name.clone(),
        });
    }
    Ok(labels)
}

impl PartialEq for Series {
    fn eq(&self, other: &Self) -> bool {
        self.0.hash == other.0.hash && self.0.labels == other.0.labels
    }
}
impl Eq for Series {}

/// The label-set hash computed once at construction, so a `HashMap<Series, _>` hashes
/// one word.
impl Hash for Series {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{{", self.name())?;
        let mut first = true;
        for l in self.labels().iter().filter(|l| l.name != "__name__") {
            if !first {
                write!(f, ",")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        write!(f, "}}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sorted_with_name_and_empty_values_dropped() {
        let s = Series::new("up", [("zone", "a"), ("job", "x"), ("empty", "")]).unwrap();
        let names: Vec<_> = s.labels().iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "job", "zone"]);
        assert_eq!(s.name(), "up");
    }

    #[test]
    fn invalid_names_are_rejected_with_the_offender_named() {
        assert_eq!(
            Series::new("1bad", [("a", "b")]).unwrap_err(),
            InvalidSeries::MetricName("1bad".into())
        );
        let e = Series::new("m", [("bad-label", "v")]).unwrap_err();
        assert!(e.to_string().contains("bad-label"), "{e}");
        assert!(matches!(
            Series::new("m", [("__x", "v")]),
            Err(InvalidSeries::ReservedLabel { .. })
        ));
        assert!(matches!(
            Series::new("m", [("a", "1"), ("a", "2")]),
            Err(InvalidSeries::DuplicateLabel { .. })
        ));
        assert_eq!(
            Series::from_labels(vec![Label {
                name: "a".into(),
                value: "b".into()
            }])
            .unwrap_err(),
            InvalidSeries::NoName
        );
    }

    #[test]
    fn utf8_names_are_taken_where_asked_and_an_empty_name_is_still_no_name() {
        let l = |n: &str, v: &str| Label {
            name: n.into(),
            value: v.into(),
        };
        let wire = vec![l("__name__", "resource cpu.usage"), l("job name", "x")];
        assert!(Series::from_labels(wire.clone()).is_err());
        let s = Series::from_labels_utf8(wire).unwrap();
        assert_eq!(s.name(), "resource cpu.usage");
        assert_eq!(s.label("job name"), Some("x"));
        for bad in [
            vec![l("__name__", ""), l("job", "x")],
            vec![l("job", "x")],
            vec![],
        ] {
            assert_eq!(
                Series::from_labels_utf8(bad).unwrap_err(),
                InvalidSeries::NoName
            );
        }
        assert!(matches!(
            Series::from_labels_utf8(vec![l("__name__", "m"), l("a", "1"), l("a", "2")]),
            Err(InvalidSeries::DuplicateLabel { .. })
        ));
    }

    #[test]
    fn same_labels_in_any_order_are_one_series() {
        let a = Series::new("m", [("a", "1"), ("b", "2")]).unwrap();
        let b = Series::new("m", [("b", "2"), ("a", "1")]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a, Series::new("m", [("a", "1")]).unwrap());
    }

    #[test]
    fn defaults_never_override_the_series_own_labels() {
        let s = Series::new("m", [("testid", "mine")]).unwrap();
        let ext = [
            Label {
                name: "testid".into(),
                value: "other".into(),
            },
            Label {
                name: "cluster".into(),
                value: "c1".into(),
            },
        ];
        let d = s.with_defaults(&ext);
        assert_eq!(d.label("testid"), Some("mine"));
        assert_eq!(d.label("cluster"), Some("c1"));
        let names: Vec<_> = d.labels().iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "cluster", "testid"]);
    }

    #[test]
    fn the_created_timestamp_describes_the_series_and_survives_metadata_and_defaults() {
        let s = Series::new("reqs_total", [("a", "1")])
            .unwrap()
            .with_created_timestamp(1_000);
        assert_eq!(s.created_timestamp(), Some(1_000));
        assert_eq!(
            s,
            Series::new("reqs_total", [("a", "1")]).unwrap(),
            "not identity"
        );
        let m = s.with_metadata(Metadata::default());
        assert_eq!(m.created_timestamp(), Some(1_000));
        let ext = [Label {
            name: "cluster".into(),
            value: "c1".into(),
        }];
        assert_eq!(m.with_defaults(&ext).created_timestamp(), Some(1_000));
        // A shared series is copied, not changed under its other holders.
        let shared = m.clone();
        let later = shared.with_created_timestamp(2_000);
        assert_eq!(
            (m.created_timestamp(), later.created_timestamp()),
            (Some(1_000), Some(2_000))
        );
        assert_eq!(later.with_created_timestamp(-5).created_timestamp(), None);
    }

    #[test]
    fn stale_nan_is_a_distinct_nan() {
        assert!(stale_nan().is_nan());
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
    }
}
