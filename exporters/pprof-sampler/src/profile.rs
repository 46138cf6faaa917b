//! Decoding Go's `profile.proto` and the two views redline takes of it: the total of each
//! sample type, and per-function flat/cumulative values the way `go tool pprof -top` computes
//! them at its default `functions` granularity.
//!
//! The prost structs are written by hand instead of compiled from the `.proto`: Debian's Go
//! does not ship `profile.proto` (only the Go encoder in `runtime/pprof/protobuf.go`), the
//! schema has been stable since 2016, and declaring only the fields we read keeps the crate
//! free of a build script and lets prost skip the rest (mappings, labels, addresses) without
//! allocating for them, which is most of the decode time budget.
//! Field numbers follow github.com/google/pprof/proto/profile.proto.

use std::collections::HashMap;
use std::io::Read;

use bytes::Bytes;
use prost::Message;

/// A decoded profile holds the whole string table in memory; gzip bombs and runaway
/// responses are cut off here. Real activator heap profiles are well under 10 MB raw.
pub const MAX_DECODED_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("gunzip: {0}")]
    Gzip(#[source] std::io::Error),
    #[error("profile larger than {MAX_DECODED_BYTES} bytes once decompressed")]
    TooLarge,
    #[error("decode profile.proto: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("profile has no sample type {0:?} (has {1})")]
    NoSampleType(String, String),
    #[error("malformed sample: {0}")]
    Malformed(&'static str),
    #[error("profile references {0} {1} which it does not define")]
    Dangling(&'static str, u64),
}

/// `perftools.profiles.Profile`, only the fields redline reads.
#[derive(Clone, PartialEq, Message)]
pub struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    /// Samples stay encoded: zero-copy slices of the decoded buffer, walked by
    /// [`Profile::for_each_sample`] with reused scratch space. Decoding them into
    /// [`Sample`] structs costs two or more allocations per sample and was three quarters
    /// of the parse time of a 1 MB profile.
    #[prost(bytes = "bytes", repeated, tag = "2")]
    pub sample: Vec<Bytes>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct ValueType {
    /// Index into the string table.
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// One sample, for building profiles (tests, tools); [`Profile`] keeps them encoded.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Leaf first: `location_id[0]` is where the allocation happened.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    /// One value per `sample_type`, already scaled by Go's runtime.
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// More than one line means inlining: `line[0]` is the innermost inlined callee and
    /// the last entry is the function it was inlined into.
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
}

/// The total of one sample type over all samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleTotal {
    pub sample_type: String,
    pub unit: String,
    pub total: i64,
}

/// One function's values for one sample type, as one row of `go tool pprof -top`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionStat {
    pub name: String,
    /// Value of the samples whose leaf frame is this function.
    pub flat: i64,
    /// Value of the samples with this function anywhere on the stack (once per sample,
    /// so recursion is not counted twice).
    pub cum: i64,
}

/// Which column orders a top list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Flat,
    Cum,
}

/// Decodes a profile as served by `/debug/pprof/heap`: gzip'd protobuf, or plain protobuf
/// (pprof accepts both, so we do too).
pub fn decode(bytes: &[u8]) -> Result<Profile, ProfileError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        // Heap profiles compress about 4:1; start near that to avoid regrowing.
        let mut raw = Vec::with_capacity(bytes.len().saturating_mul(4));
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_DECODED_BYTES + 1)
            .read_to_end(&mut raw)
            .map_err(ProfileError::Gzip)?;
        if raw.len() as u64 > MAX_DECODED_BYTES {
            return Err(ProfileError::TooLarge);
        }
        Ok(Profile::decode(Bytes::from(raw))?)
    } else {
        Ok(Profile::decode(Bytes::copy_from_slice(bytes))?)
    }
}

impl Profile {
    fn string(&self, index: i64) -> &str {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.string_table.get(i))
            .map_or("", String::as_str)
    }

    /// Sample type names in order (`alloc_objects`, `alloc_space`, `inuse_objects`,
    /// `inuse_space` for a Go heap profile).
    pub fn sample_types(&self) -> Vec<&str> {
        self.sample_type
            .iter()
            .map(|t| self.string(t.r#type))
            .collect()
    }

    pub fn sample_index(&self, name: &str) -> Result<usize, ProfileError> {
        let types = self.sample_types();
        types
            .iter()
            .position(|t| *t == name)
            .ok_or_else(|| ProfileError::NoSampleType(name.to_string(), types.join(",")))
    }

    pub fn totals(&self) -> Result<Vec<SampleTotal>, ProfileError> {
        let mut sums = vec![0i64; self.sample_type.len()];
        self.for_each_sample(|_, values| {
            for (sum, v) in sums.iter_mut().zip(values) {
                *sum = sum.wrapping_add(*v);
            }
            Ok(())
        })?;
        Ok(self.totals_from(sums))
    }

    fn totals_from(&self, sums: Vec<i64>) -> Vec<SampleTotal> {
        self.sample_type
            .iter()
            .zip(sums)
            .map(|(t, total)| SampleTotal {
                sample_type: self.string(t.r#type).to_string(),
                unit: self.string(t.unit).to_string(),
                total,
            })
            .collect()
    }

    pub fn total(&self, sample_type: &str) -> Result<i64, ProfileError> {
        let i = self.sample_index(sample_type)?;
        let mut total = 0i64;
        self.for_each_sample(|_, values| {
            total = total.wrapping_add(values.get(i).copied().unwrap_or(0));
            Ok(())
        })?;
        Ok(total)
    }

    /// Calls `f(location_ids, values)` for every sample, leaf location first.
    pub fn for_each_sample(
        &self,
        mut f: impl FnMut(&[u64], &[i64]) -> Result<(), ProfileError>,
    ) -> Result<(), ProfileError> {
        let mut locations = Vec::with_capacity(64);
        let mut values = Vec::with_capacity(self.sample_type.len());
        for s in &self.sample {
            parse_sample(s, &mut locations, &mut values)?;
            f(&locations, &values)?;
        }
        Ok(())
    }

    /// Flat and cumulative value per function name for one sample type, in no particular
    /// order. Functions are keyed by name, as `go tool pprof`'s `functions` granularity
    /// does: the same name from two Function entries (e.g. inlined and not) is one row.
    pub fn functions(&self, sample_type: &str) -> Result<Vec<FunctionStat>, ProfileError> {
        Ok(self.analyse(sample_type)?.1)
    }

    /// [`Profile::totals`] and [`Profile::functions`] in one walk over the samples, which
    /// is what the sampler needs for every fetched profile.
    pub fn analyse(
        &self,
        sample_type: &str,
    ) -> Result<(Vec<SampleTotal>, Vec<FunctionStat>), ProfileError> {
        let vi = self.sample_index(sample_type)?;
        let mut sums = vec![0i64; self.sample_type.len()];

        // Dense keys per distinct function name, so the per-sample loop is array indexing.
        let mut key_of_name: HashMap<&str, usize> = HashMap::with_capacity(self.function.len());
        let mut names: Vec<&str> = Vec::with_capacity(self.function.len() + 1);
        let mut key_of_fn = IdMap::new(self.function.iter().map(|f| f.id));
        for f in &self.function {
            let name = self.string(f.name);
            let key = *key_of_name.entry(name).or_insert_with(|| {
                names.push(name);
                names.len() - 1
            });
            key_of_fn.insert(f.id, key);
        }
        // Keys of each location's lines, leaf (innermost inlined) first, flattened into
        // one Vec with a range per location. A location without lines (unsymbolized) gets
        // one "<unknown>" frame so the sample still counts.
        let unknown = names.len();
        names.push("<unknown>");
        let mut frames: Vec<usize> = Vec::with_capacity(self.location.len() * 2);
        let mut loc_range = IdMap::new(self.location.iter().map(|l| l.id));
        let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(self.location.len());
        for l in &self.location {
            let start = frames.len();
            if l.line.is_empty() {
                frames.push(unknown);
            }
            for line in &l.line {
                frames.push(
                    key_of_fn
                        .get(line.function_id)
                        .ok_or(ProfileError::Dangling("function", line.function_id))?,
                );
            }
            loc_range.insert(l.id, ranges.len());
            ranges.push((start, frames.len()));
        }

        // Each location's frame range, looked up by location id with one index when ids
        // are dense (Go's case).
        let spans: Vec<(u32, u32)> = ranges.iter().map(|&(a, b)| (a as u32, b as u32)).collect();
        let mut flat = vec![0i64; names.len()];
        let mut cum = vec![0i64; names.len()];
        // Stamp of the last sample that added to a key's cum: dedups recursion in O(1),
        // and a non-zero stamp marks the functions that appear at all.
        let mut stamp = vec![0usize; names.len()];
        let mut si = 0usize;
        self.for_each_sample(|locations, values| {
            si += 1;
            for (sum, v) in sums.iter_mut().zip(values) {
                *sum = sum.wrapping_add(*v);
            }
            let v = values.get(vi).copied().unwrap_or(0);
            if v == 0 {
                // pprof ignores zero samples: they neither add value nor create rows.
                return Ok(());
            }
            for (depth, &id) in locations.iter().enumerate() {
                let (start, end) = loc_range
                    .get(id)
                    .map(|i| spans[i])
                    .ok_or(ProfileError::Dangling("location", id))?;
                let keys = &frames[start as usize..end as usize];
                if depth == 0 {
                    // Every location has at least one frame (see above).
                    flat[keys[0]] += v;
                }
                for &k in keys {
                    // Branch-free: recursion makes this data-dependent and unpredictable.
                    let fresh = stamp[k] != si;
                    stamp[k] = si;
                    cum[k] += if fresh { v } else { 0 };
                }
            }
            Ok(())
        })?;
        let stats = names
            .into_iter()
            .enumerate()
            .filter(|(k, _)| stamp[*k] != 0)
            .map(|(k, name)| FunctionStat {
                name: name.to_string(),
                flat: flat[k],
                cum: cum[k],
            })
            .collect();
        Ok((self.totals_from(sums), stats))
    }
}

fn varint(buf: &mut &[u8]) -> Result<u64, ProfileError> {
    // Most location ids and keys are one byte.
    if let Some((&b, rest)) = buf.split_first()
        && b < 0x80
    {
        *buf = rest;
        return Ok(u64::from(b));
    }
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf
            .split_first()
            .ok_or(ProfileError::Malformed("truncated varint"))?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(ProfileError::Malformed("varint longer than 10 bytes"))
}

fn take<'a>(buf: &mut &'a [u8], n: u64) -> Result<&'a [u8], ProfileError> {
    let n = usize::try_from(n).map_err(|_| ProfileError::Malformed("length"))?;
    if n > buf.len() {
        return Err(ProfileError::Malformed("field longer than its message"));
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

/// Walks one encoded `Sample`: `location_id` (1) and `value` (2), packed as Go writes them
/// or unpacked as the proto spec also allows; labels (3) and unknown fields are skipped.
fn parse_sample(
    mut buf: &[u8],
    locations: &mut Vec<u64>,
    values: &mut Vec<i64>,
) -> Result<(), ProfileError> {
    locations.clear();
    values.clear();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        match (key >> 3, key & 7) {
            (1, 0) => locations.push(varint(&mut buf)?),
            (2, 0) => values.push(varint(&mut buf)? as i64),
            (1, 2) => {
                let len = varint(&mut buf)?;
                let mut packed = take(&mut buf, len)?;
                while !packed.is_empty() {
                    locations.push(varint(&mut packed)?);
                }
            }
            (2, 2) => {
                let len = varint(&mut buf)?;
                let mut packed = take(&mut buf, len)?;
                while !packed.is_empty() {
                    values.push(varint(&mut packed)? as i64);
                }
            }
            (_, 0) => {
                varint(&mut buf)?;
            }
            (_, 1) => {
                take(&mut buf, 8)?;
            }
            (_, 2) => {
                let len = varint(&mut buf)?;
                take(&mut buf, len)?;
            }
            (_, 5) => {
                take(&mut buf, 4)?;
            }
            _ => return Err(ProfileError::Malformed("unknown wire type")),
        }
    }
    Ok(())
}

/// id → index. Go numbers functions and locations 1..n, so a Vec indexed by id is the
/// common case (a hash lookup per frame was most of the analysis time); sparse ids from
/// other producers fall back to a HashMap.
enum IdMap {
    Dense(Vec<usize>),
    Sparse(HashMap<u64, usize>),
}

impl IdMap {
    const MISSING: usize = usize::MAX;

    fn new(ids: impl Iterator<Item = u64> + Clone) -> Self {
        let n = ids.clone().count();
        let max = ids.max().unwrap_or(0);
        if max <= 4 * n as u64 + 1024 {
            IdMap::Dense(vec![Self::MISSING; max as usize + 1])
        } else {
            IdMap::Sparse(HashMap::with_capacity(n))
        }
    }

    fn insert(&mut self, id: u64, v: usize) {
        match self {
            IdMap::Dense(d) => d[id as usize] = v,
            IdMap::Sparse(m) => {
                m.insert(id, v);
            }
        }
    }

    fn get(&self, id: u64) -> Option<usize> {
        match self {
            IdMap::Dense(d) => d.get(id as usize).copied().filter(|v| *v != Self::MISSING),
            IdMap::Sparse(m) => m.get(&id).copied(),
        }
    }
}

/// Sorts like pprof's `FlatNameOrder` / `CumNameOrder` (absolute value descending, then name,
/// then the other column) and keeps the first `n`.
pub fn top(mut stats: Vec<FunctionStat>, n: usize, order: Order) -> Vec<FunctionStat> {
    sort(&mut stats, order);
    stats.truncate(n);
    stats
}

pub fn sort(stats: &mut [FunctionStat], order: Order) {
    stats.sort_by(|a, b| {
        let (pa, sa, pb, sb) = match order {
            Order::Flat => (a.flat, a.cum, b.flat, b.cum),
            Order::Cum => (a.cum, a.flat, b.cum, b.flat),
        };
        pb.unsigned_abs()
            .cmp(&pa.unsigned_abs())
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| sb.unsigned_abs().cmp(&sa.unsigned_abs()))
    });
}

/// The total goroutine count from `/debug/pprof/goroutine?debug=1`, whose first line is
/// `goroutine profile: total N`.
pub fn parse_goroutine_total(text: &str) -> Option<u64> {
    text.lines()
        .take(4)
        .find_map(|l| l.trim().strip_prefix("goroutine profile: total "))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const FIXTURE_B: &[u8] = include_bytes!("../tests/data/prometheus-heap-b.pb.gz");

    pub(crate) fn sample(locations: &[u64], value: i64) -> Bytes {
        Sample {
            location_id: locations.to_vec(),
            value: vec![value],
        }
        .encode_to_vec()
        .into()
    }

    /// A small profile built by hand so the flat/cum rules can be checked exactly:
    /// main -> a -> b(leaf) with b inlined into a, and a recursive c -> c -> c.
    pub(crate) fn synthetic() -> Profile {
        let strings = ["", "inuse_space", "bytes", "main", "a", "b", "c"];
        let f = |id: u64, name: i64| Function {
            id,
            name,
            system_name: name,
            filename: 0,
        };
        let line = |function_id| Line {
            function_id,
            line: 1,
        };
        Profile {
            sample_type: vec![ValueType { r#type: 1, unit: 2 }],
            sample: vec![
                // b inlined into a (one location, two lines), called from main.
                sample(&[10, 11], 100),
                // c recursing three times, from main.
                sample(&[12, 12, 12, 11], 7),
                // Zero samples must not create rows.
                sample(&[13], 0),
            ],
            location: vec![
                Location {
                    id: 10,
                    line: vec![line(2), line(1)],
                },
                Location {
                    id: 11,
                    line: vec![line(0)],
                },
                Location {
                    id: 12,
                    line: vec![line(3)],
                },
                Location {
                    id: 13,
                    line: vec![line(4)],
                },
            ],
            function: vec![f(0, 3), f(1, 4), f(2, 5), f(3, 6), f(4, 4)],
            string_table: strings.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn stat(stats: &[FunctionStat], name: &str) -> (i64, i64) {
        let s = stats.iter().find(|s| s.name == name).unwrap();
        (s.flat, s.cum)
    }

    #[test]
    fn flat_goes_to_innermost_inlined_frame_and_cum_counts_recursion_once() {
        let p = synthetic();
        let stats = p.functions("inuse_space").unwrap();
        assert_eq!(stat(&stats, "b"), (100, 100));
        assert_eq!(stat(&stats, "a"), (0, 100));
        assert_eq!(stat(&stats, "c"), (7, 7));
        assert_eq!(stat(&stats, "main"), (0, 107));
        assert_eq!(stats.len(), 4, "zero-valued sample made a row: {stats:?}");
        assert_eq!(p.total("inuse_space").unwrap(), 107);
        let t = top(stats, 2, Order::Cum);
        assert_eq!(
            t.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["main", "a"],
            "cum ties broken by name"
        );
    }

    #[test]
    fn plain_and_gzipped_profiles_decode_alike_and_garbage_is_an_error() {
        let p = synthetic();
        let raw = p.encode_to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decode(&raw).unwrap(), p);
        assert_eq!(decode(&gz).unwrap(), p);
        assert!(matches!(
            decode(&[0x1f, 0x8b, 1, 2, 3]),
            Err(ProfileError::Gzip(_))
        ));
        assert!(matches!(
            decode(b"<html>not a profile</html>"),
            Err(ProfileError::Decode(_))
        ));
        assert!(matches!(
            p.functions("alloc_space"),
            Err(ProfileError::NoSampleType(..))
        ));
    }

    #[test]
    fn dangling_location_is_reported_not_panicked_on() {
        let mut p = synthetic();
        p.sample[0] = sample(&[10, 11, 999], 100);
        assert!(matches!(
            p.functions("inuse_space"),
            Err(ProfileError::Dangling("location", 999))
        ));
    }

    #[test]
    fn real_go_heap_profile_has_the_four_heap_sample_types() {
        let p = decode(FIXTURE_B).unwrap();
        assert_eq!(
            p.sample_types(),
            [
                "alloc_objects",
                "alloc_space",
                "inuse_objects",
                "inuse_space"
            ]
        );
        let totals = p.totals().unwrap();
        assert_eq!(totals[3].unit, "bytes");
        assert!(totals.iter().all(|t| t.total > 0), "{totals:?}");
        // Every in-use byte was also allocated.
        assert!(totals[1].total >= totals[3].total);
    }

    #[test]
    fn unpacked_fields_and_sparse_ids_read_the_same_and_truncation_is_an_error() {
        let want = synthetic().functions("inuse_space").unwrap();
        let mut p = synthetic();
        // location_id 10, 11 and value 100, unpacked (one key per element), plus a label.
        p.sample[0] = Bytes::from_static(&[0x08, 10, 0x08, 11, 0x10, 100, 0x1a, 2, 0x08, 1]);
        assert_eq!(p.functions("inuse_space").unwrap(), want);

        // Ids far apart (not Go's 1..n) take the hash-map path.
        let big = 1u64 << 40;
        let mut p = synthetic();
        for f in &mut p.function {
            f.id += big;
        }
        for l in &mut p.location {
            l.id += big;
            for line in &mut l.line {
                line.function_id += big;
            }
        }
        p.sample = vec![
            sample(&[10 + big, 11 + big], 100),
            sample(&[12 + big, 12 + big, 12 + big, 11 + big], 7),
        ];
        let mut got = p.functions("inuse_space").unwrap();
        let mut want = want;
        got.sort_by(|a, b| a.name.cmp(&b.name));
        want.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(got, want);

        p.sample[0] = Bytes::from_static(&[0x0a, 5, 1]);
        assert!(matches!(
            p.total("inuse_space"),
            Err(ProfileError::Malformed(_))
        ));
    }

    #[test]
    fn goroutine_text_total() {
        let text = "goroutine profile: total 24\n2 @ 0x43ef76 0x44ee1c\n";
        assert_eq!(parse_goroutine_total(text), Some(24));
        assert_eq!(parse_goroutine_total("<html>"), None);
    }
}
