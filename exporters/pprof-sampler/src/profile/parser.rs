//! [`Parser`]: reads profiles straight from their encoded bytes, and [`Parsed`], the
//! views of one profile it gives: totals, per-function rows, the sampler's summary.

use super::error::{MAX_DECODED_BYTES, ProfileError};
use super::gzip::{GZIP_MAGIC, gunzip};
use super::index::Index;
use super::order::Order;
use super::sample::sample_values;
use super::stats::{FunctionStat, SampleTotal, Summary};
use super::walk::Walk;
use super::wire::{WIRE_LEN, key, len_delimited, skip};

/// Reads profiles straight from their encoded bytes. It owns the decompressed bytes and
/// an index of them, and can be reused for profile after profile (the sampler makes a new
/// one per profile: reuse measured no faster).
///
/// Nothing is decoded into structs. One pass over the top-level fields notes where the
/// string table entries are and reads the functions and locations (small: a few thousand,
/// whatever the number of samples); samples, almost all of a large heap profile's bytes,
/// are left encoded and walked in place by each analysis.
#[derive(Debug, Default)]
pub struct Parser {
    /// The decompressed profile.
    raw: Vec<u8>,
    index: Index,
}

impl Parser {
    pub fn new() -> Self {
        Parser::default()
    }

    /// Reads `body`, gzip'd or plain protobuf. Plain bytes are read where they are.
    pub fn read<'a>(&'a mut self, body: &'a [u8]) -> Result<Parsed<'a>, ProfileError> {
        let raw = if body.starts_with(&GZIP_MAGIC) {
            gunzip(body, &mut self.raw)?;
            &self.raw[..]
        } else {
            if body.len() as u64 > MAX_DECODED_BYTES {
                return Err(ProfileError::TooLarge);
            }
            body
        };
        self.index.read(raw)?;
        Ok(Parsed {
            raw,
            index: &self.index,
        })
    }
}

/// A profile read by a [`Parser`], borrowing its buffers.
#[derive(Debug, Clone, Copy)]
pub struct Parsed<'a> {
    raw: &'a [u8],
    index: &'a Index,
}

impl<'a> Parsed<'a> {
    fn string(&self, index: i64) -> &'a [u8] {
        self.index.string(self.raw, index)
    }

    fn text(&self, index: i64) -> String {
        String::from_utf8_lossy(self.string(index)).into_owned()
    }

    pub fn sample_count(&self) -> usize {
        self.index.sample_count
    }

    pub fn location_count(&self) -> usize {
        self.index.locations.len()
    }

    pub fn function_count(&self) -> usize {
        self.index.functions.len()
    }

    /// Sample type names in order.
    pub fn sample_types(&self) -> Vec<String> {
        self.index
            .sample_types
            .iter()
            .map(|&(t, _)| self.text(t))
            .collect()
    }

    pub fn sample_index(&self, name: &str) -> Result<usize, ProfileError> {
        self.index
            .sample_types
            .iter()
            .position(|&(t, _)| self.string(t) == name.as_bytes())
            .ok_or_else(|| {
                ProfileError::NoSampleType(name.to_string(), self.sample_types().join(","))
            })
    }

    /// The total of every sample type.
    pub fn totals(&self) -> Result<Vec<SampleTotal>, ProfileError> {
        let mut sums = vec![0i64; self.index.sample_types.len()];
        self.for_each_sample(|s| {
            sample_values(s, &mut sums, usize::MAX)?;
            Ok(())
        })?;
        Ok(self.totals_from(sums))
    }

    pub fn total(&self, sample_type: &str) -> Result<i64, ProfileError> {
        let i = self.sample_index(sample_type)?;
        Ok(self.totals()?[i].total)
    }

    fn totals_from(&self, sums: Vec<i64>) -> Vec<SampleTotal> {
        self.index
            .sample_types
            .iter()
            .zip(sums)
            .map(|(&(t, unit), total)| SampleTotal {
                sample_type: self.text(t),
                unit: self.text(unit),
                total,
            })
            .collect()
    }

    /// Flat and cumulative value per function name for one sample type, in no particular
    /// order. Functions are keyed by name, as `go tool pprof`'s `functions` granularity
    /// does: the same name from two Function entries (e.g. inlined and not) is one row.
    pub fn functions(&self, sample_type: &str) -> Result<Vec<FunctionStat>, ProfileError> {
        Ok(self.analyse(sample_type)?.1)
    }

    /// [`Parsed::totals`] and [`Parsed::functions`] in one walk over the samples.
    pub fn analyse(
        &self,
        sample_type: &str,
    ) -> Result<(Vec<SampleTotal>, Vec<FunctionStat>), ProfileError> {
        let w = Walk::over(self.raw, self.index, self.sample_index(sample_type)?)?;
        let stats = w.rows().map(|k| w.stat(k)).collect();
        Ok((self.totals_from(w.sums), stats))
    }

    /// What the sampler records: every total, and the `top` functions by flat and by cum
    /// (as [`top`](super::top) would order [`Parsed::functions`], without building every row).
    pub fn summary(&self, sample_type: &str, top: usize) -> Result<Summary, ProfileError> {
        let w = Walk::over(self.raw, self.index, self.sample_index(sample_type)?)?;
        let mut rows: Vec<usize> = w.rows().collect();
        let mut top_of = |order| {
            let cmp = |a: &usize, b: &usize| w.cmp(*a, *b, order);
            if top < rows.len() {
                rows.select_nth_unstable_by(top, cmp);
            }
            let n = top.min(rows.len());
            let head = &mut rows[..n];
            head.sort_unstable_by(cmp);
            head.iter().map(|&k| w.stat(k)).collect()
        };
        let top_flat = top_of(Order::Flat);
        let top_cum = top_of(Order::Cum);
        Ok(Summary {
            totals: self.totals_from(w.sums),
            top_flat,
            top_cum,
        })
    }

    fn for_each_sample(
        &self,
        mut f: impl FnMut(&'a [u8]) -> Result<(), ProfileError>,
    ) -> Result<(), ProfileError> {
        let mut buf = self.index.encoded_samples(self.raw);
        while !buf.is_empty() {
            match key(&mut buf)? {
                (2, WIRE_LEN) => f(len_delimited(&mut buf)?)?,
                (f, w) => skip(&mut buf, f, w, &[])?,
            }
        }
        Ok(())
    }
}
