//! The one pass over a profile's top-level fields: where each string is, the sample
//! types, functions and locations (a few thousand, whatever the number of samples), and
//! the byte range the samples span. Samples themselves are left encoded.

use std::ops::Range;

use super::error::ProfileError;
use super::wire::{WIRE_LEN, WIRE_VARINT, key, len_delimited, skip, varint};

/// Byte offsets are u32: profiles are capped at
/// [`MAX_DECODED_BYTES`](super::error::MAX_DECODED_BYTES).
#[derive(Debug, Default)]
pub(super) struct Index {
    /// (type, unit) string indexes.
    pub(super) sample_types: Vec<(i64, i64)>,
    /// Start and end of each string.
    pub(super) strings: Vec<(u32, u32)>,
    /// (id, name string index).
    pub(super) functions: Vec<(u64, i64)>,
    /// (id, start, end) of each location's function ids in `lines`.
    pub(super) locations: Vec<(u64, u32, u32)>,
    /// Function ids of the locations' lines, innermost inlined callee first.
    pub(super) lines: Vec<u64>,
    /// From the first sample's key to the end of the last sample.
    pub(super) samples: Range<usize>,
    pub(super) sample_count: usize,
}

impl Index {
    /// String `index` of the string table, as bytes of `raw` (the profile this index was
    /// read from); empty when out of range, as pprof reads it.
    pub(super) fn string<'r>(&self, raw: &'r [u8], index: i64) -> &'r [u8] {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.strings.get(i))
            .map_or(&[], |&(a, b)| &raw[a as usize..b as usize])
    }

    /// The encoded samples of `raw`, keys included.
    pub(super) fn encoded_samples<'r>(&self, raw: &'r [u8]) -> &'r [u8] {
        &raw[self.samples.clone()]
    }

    pub(super) fn read(&mut self, raw: &[u8]) -> Result<(), ProfileError> {
        self.sample_types.clear();
        self.strings.clear();
        self.functions.clear();
        self.locations.clear();
        self.lines.clear();
        self.samples = 0..0;
        self.sample_count = 0;
        let mut buf = raw;
        while !buf.is_empty() {
            let at = raw.len() - buf.len();
            let (field, wire) = key(&mut buf)?;
            match (field, wire) {
                (1, WIRE_LEN) => {
                    let mut m = len_delimited(&mut buf)?;
                    let (mut ty, mut unit) = (0, 0);
                    while !m.is_empty() {
                        match key(&mut m)? {
                            (1, WIRE_VARINT) => ty = varint(&mut m)? as i64,
                            (2, WIRE_VARINT) => unit = varint(&mut m)? as i64,
                            (f, w) => skip(&mut m, f, w, &[1, 2])?,
                        }
                    }
                    self.sample_types.push((ty, unit));
                }
                (2, WIRE_LEN) => {
                    len_delimited(&mut buf)?;
                    if self.sample_count == 0 {
                        self.samples.start = at;
                    }
                    self.samples.end = raw.len() - buf.len();
                    self.sample_count += 1;
                }
                (4, WIRE_LEN) => {
                    let mut m = len_delimited(&mut buf)?;
                    let mut id = 0;
                    let start = self.lines.len() as u32;
                    while !m.is_empty() {
                        match key(&mut m)? {
                            (1, WIRE_VARINT) => id = varint(&mut m)?,
                            (4, WIRE_LEN) => {
                                let mut line = len_delimited(&mut m)?;
                                let mut function_id = 0;
                                while !line.is_empty() {
                                    match key(&mut line)? {
                                        (1, WIRE_VARINT) => function_id = varint(&mut line)?,
                                        (f, w) => skip(&mut line, f, w, &[1])?,
                                    }
                                }
                                self.lines.push(function_id);
                            }
                            (f, w) => skip(&mut m, f, w, &[1, 4])?,
                        }
                    }
                    self.locations.push((id, start, self.lines.len() as u32));
                }
                (5, WIRE_LEN) => {
                    let mut m = len_delimited(&mut buf)?;
                    let (mut id, mut name) = (0, 0);
                    while !m.is_empty() {
                        match key(&mut m)? {
                            (1, WIRE_VARINT) => id = varint(&mut m)?,
                            (2, WIRE_VARINT) => name = varint(&mut m)? as i64,
                            (f, w) => skip(&mut m, f, w, &[1, 2])?,
                        }
                    }
                    self.functions.push((id, name));
                }
                (6, WIRE_LEN) => {
                    let s = len_delimited(&mut buf)?;
                    let end = raw.len() - buf.len();
                    self.strings.push(((end - s.len()) as u32, end as u32));
                }
                (f, w) => skip(&mut buf, f, w, &[1, 2, 4, 5, 6])?,
            }
        }
        Ok(())
    }
}
