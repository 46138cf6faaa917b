//! The one walk over a profile's samples: every sample type's total, and per function
//! name the flat (leaf frame) and cumulative (anywhere on the stack, once per sample)
//! value of one sample type, the way `go tool pprof -top` computes them.
//!
//! This is the hot loop of the sampler: function names get dense keys first, so each
//! frame of each sample is array indexing, and samples are read in place.

use std::collections::HashMap;

use super::error::ProfileError;
use super::id_map::IdMap;
use super::index::Index;
use super::order::{Order, compare};
use super::sample::{sample_locations, sample_values};
use super::stats::FunctionStat;
use super::wire::{Varints, WIRE_LEN, key, len_delimited, skip};

/// Flat and cum per function key, added to stack by stack.
struct Stacks<'w, F> {
    /// Function keys of every location, leaf first, each location's at its span.
    frames: &'w [u32],
    span_of_loc: F,
    flat: &'w mut [i64],
    cum: &'w mut [i64],
    /// Number of the last sample that added to a key's cum: dedups recursion in O(1),
    /// and a non-zero stamp marks the functions that appear at all.
    stamp: &'w mut [u32],
}

impl<F: Fn(u64) -> Option<(u32, u32)>> Stacks<'_, F> {
    /// Adds value `v` of the sample numbered `si` (from 1) with location ids `ids`, leaf
    /// first.
    #[inline(always)]
    fn add(
        &mut self,
        ids: impl Iterator<Item = Result<u64, ProfileError>>,
        si: u32,
        v: i64,
    ) -> Result<(), ProfileError> {
        let mut leaf = true;
        for id in ids {
            let id = id?;
            let (start, end) =
                (self.span_of_loc)(id).ok_or(ProfileError::Dangling("location", id))?;
            let keys = &self.frames[start as usize..end as usize];
            if leaf {
                // Every location has at least one frame (see Walk::over).
                self.flat[keys[0] as usize] += v;
                leaf = false;
            }
            for &k in keys {
                let k = k as usize;
                // Branch-free: recursion makes this data-dependent and unpredictable.
                let fresh = self.stamp[k] != si;
                self.stamp[k] = si;
                self.cum[k] += if fresh { v } else { 0 };
            }
        }
        Ok(())
    }
}

/// Per-key results of the walk over a profile's samples for one sample type.
pub(super) struct Walk<'a> {
    pub(super) sums: Vec<i64>,
    names: Vec<&'a [u8]>,
    flat: Vec<i64>,
    cum: Vec<i64>,
    stamp: Vec<u32>,
}

impl<'a> Walk<'a> {
    /// The one walk over the samples of `raw` (indexed by `ix`) behind
    /// [`Parsed::analyse`](super::Parsed::analyse) and
    /// [`Parsed::summary`](super::Parsed::summary), for the sample type at `vi`.
    pub(super) fn over(raw: &'a [u8], ix: &'a Index, vi: usize) -> Result<Self, ProfileError> {
        // Dense keys per distinct function name, so the per-sample loop is array indexing.
        let mut key_of_name: HashMap<&[u8], u32> = HashMap::with_capacity(ix.functions.len());
        let mut names: Vec<&'a [u8]> = Vec::with_capacity(ix.functions.len() + 1);
        let mut key_of = |name: &'a [u8]| {
            *key_of_name.entry(name).or_insert_with(|| {
                names.push(name);
                names.len() as u32 - 1
            })
        };
        let mut key_of_fn = IdMap::new(ix.functions.iter().map(|f| f.0));
        for &(id, name) in &ix.functions {
            key_of_fn.insert(id, key_of(ix.string(raw, name)));
        }
        // Keys of each location's lines, leaf (innermost inlined) first, flattened into
        // one Vec with a span per location. A location without lines (unsymbolized) gets
        // one "<unknown>" frame so the sample still counts.
        let unknown = key_of(b"<unknown>");
        let mut frames: Vec<u32> = Vec::with_capacity(ix.lines.len() + ix.locations.len());
        let mut span_of_loc = IdMap::new(ix.locations.iter().map(|l| l.0));
        for &(id, a, b) in &ix.locations {
            let start = frames.len() as u32;
            if a == b {
                frames.push(unknown);
            }
            for &function_id in &ix.lines[a as usize..b as usize] {
                frames.push(
                    key_of_fn
                        .get(function_id)
                        .ok_or(ProfileError::Dangling("function", function_id))?,
                );
            }
            span_of_loc.insert(id, (start, frames.len() as u32));
        }

        let mut w = Walk {
            sums: vec![0i64; ix.sample_types.len()],
            flat: vec![0i64; names.len()],
            cum: vec![0i64; names.len()],
            stamp: vec![0u32; names.len()],
            names,
        };
        // One copy of the hot loop per kind of id map, so the per-frame lookup is not a
        // match on the map's kind.
        match &span_of_loc {
            IdMap::Dense(d) => walk_samples(ix.encoded_samples(raw), vi, &frames, &mut w, |id| {
                usize::try_from(id).ok().and_then(|i| d.get(i).copied()?)
            })?,
            IdMap::Sparse(m) => walk_samples(ix.encoded_samples(raw), vi, &frames, &mut w, |id| {
                m.get(&id).copied()
            })?,
        }
        Ok(w)
    }

    /// Keys of the functions that appear in a sample with a non-zero value.
    pub(super) fn rows(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.names.len()).filter(|&k| self.stamp[k] != 0)
    }

    pub(super) fn stat(&self, k: usize) -> FunctionStat {
        FunctionStat {
            name: String::from_utf8_lossy(self.names[k]).into_owned(),
            flat: self.flat[k],
            cum: self.cum[k],
        }
    }

    pub(super) fn cmp(&self, a: usize, b: usize, order: Order) -> std::cmp::Ordering {
        compare(
            (self.names[a], self.flat[a], self.cum[a]),
            (self.names[b], self.flat[b], self.cum[b]),
            order,
        )
    }
}

/// Sums every sample's values into `w.sums` and the value `vi` of every sample into
/// flat (leaf frame) and cum (every frame, once per sample) of its functions' keys.
#[inline(always)]
fn walk_samples(
    samples: &[u8],
    vi: usize,
    frames: &[u32],
    w: &mut Walk<'_>,
    span_of_loc: impl Fn(u64) -> Option<(u32, u32)>,
) -> Result<(), ProfileError> {
    let sums = &mut w.sums[..];
    let mut acc = Stacks {
        frames,
        span_of_loc,
        flat: &mut w.flat,
        cum: &mut w.cum,
        stamp: &mut w.stamp,
    };
    let mut si = 0u32;
    let mut ids: Vec<u64> = Vec::new();
    // The loop of Parsed::for_each_sample, written out: through its closure this loop measured
    // about 5% slower.
    let mut buf = samples;
    while !buf.is_empty() {
        let sample = match key(&mut buf)? {
            (2, WIRE_LEN) => len_delimited(&mut buf)?,
            (f, w) => {
                skip(&mut buf, f, w, &[])?;
                continue;
            }
        };
        si += 1;
        let (v, packed) = sample_values(sample, sums, vi)?;
        if v == 0 {
            // pprof ignores zero samples: they neither add value nor create rows. Their
            // location ids are not even read.
            continue;
        }
        match packed {
            Some(packed) => acc.add(Varints(packed), si, v)?,
            None => {
                sample_locations(sample, &mut ids)?;
                acc.add(ids.iter().map(|&id| Ok(id)), si, v)?
            }
        }
    }
    Ok(())
}
