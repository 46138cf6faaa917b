//! Reading Go's `profile.proto` and the two views redline takes of it: the total of each
//! sample type, and per-function flat/cumulative values the way `go tool pprof -top`
//! computes them at its default `functions` granularity.
//!
//! [`Parser`] reads them straight from the encoded bytes without building structs; it is
//! what the sampler runs on every fetched profile (issue #6's goal: a 1 MB heap profile,
//! gunzip included, in under 5 ms; `cargo bench -p redline-pprof-sampler` measures it).
//! The prost structs ([`Profile`] and the rest) are for building and fully decoding
//! profiles in tools and tests.
//!
//! One job per file, from the ground up: `error` ([`ProfileError`] and the size bound),
//! `wire` (protobuf primitives) and `gzip`; `index` (the one pass over the top-level
//! fields) and `sample` (one encoded sample, read in place); `stats` (the rows) and `order`
//! (pprof's row order, top-N); `id_map` and `walk` (the hot loop that sums flat and cum);
//! `parser` (the reader over all of these); `messages` (the prost structs, which read
//! through the parser); `goroutine` (the text goroutine count).

mod error;
mod goroutine;
mod gzip;
mod id_map;
mod index;
mod messages;
mod order;
mod parser;
mod sample;
mod stats;
mod walk;
mod wire;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

pub use error::{MAX_DECODED_BYTES, ProfileError};
pub use goroutine::parse_goroutine_total;
pub use gzip::gunzip;
pub use messages::{Function, Line, Location, Profile, Sample, ValueType, decode};
pub use order::{Order, sort, top};
pub use parser::{Parsed, Parser};
pub use stats::{FunctionStat, SampleTotal, Summary};
