//! Go's `profile.proto` as prost structs ([`Profile`] and the rest), for building and fully
//! decoding profiles in tools and tests; the sampler reads with a [`Parser`] instead.
//!
//! They are written by hand instead of compiled from the `.proto`: Debian's Go does not
//! ship `profile.proto` (only the Go encoder in `runtime/pprof/protobuf.go`), the schema has
//! been stable since 2016, and declaring only the fields we read keeps the crate free of a
//! build script. Field numbers follow github.com/google/pprof/proto/profile.proto.

use bytes::Bytes;
use prost::Message;

use super::error::ProfileError;
use super::gzip::{GZIP_MAGIC, gunzip};
use super::parser::{Parsed, Parser};
use super::stats::{FunctionStat, SampleTotal};

/// `perftools.profiles.Profile`, only the fields redline reads.
#[derive(Clone, PartialEq, Message)]
pub struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    /// Samples stay encoded (zero-copy slices of the decoded buffer): decoding them into
    /// [`Sample`] structs costs two or more allocations per sample.
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

/// Decodes a whole profile as served by `/debug/pprof/heap`: gzip'd protobuf, or plain
/// protobuf (pprof accepts both, so we do too). For tools and tests; the sampler reads
/// with a [`Parser`], which does not build these structs.
pub fn decode(bytes: &[u8]) -> Result<Profile, ProfileError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        let mut raw = Vec::new();
        gunzip(bytes, &mut raw)?;
        Ok(Profile::decode(Bytes::from(raw))?)
    } else {
        Ok(Profile::decode(Bytes::copy_from_slice(bytes))?)
    }
}

impl Profile {
    pub(super) fn string(&self, index: i64) -> &str {
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

    /// [`Parsed::totals`] of this profile.
    pub fn totals(&self) -> Result<Vec<SampleTotal>, ProfileError> {
        self.parsed(|p| p.totals())
    }

    /// [`Parsed::total`] of this profile.
    pub fn total(&self, sample_type: &str) -> Result<i64, ProfileError> {
        self.parsed(|p| p.total(sample_type))
    }

    /// [`Parsed::functions`] of this profile.
    pub fn functions(&self, sample_type: &str) -> Result<Vec<FunctionStat>, ProfileError> {
        self.parsed(|p| p.functions(sample_type))
    }

    /// There is one reading of profiles, the [`Parser`]'s over the encoded bytes; a decoded
    /// profile is encoded again to go through it.
    fn parsed<T>(
        &self,
        f: impl FnOnce(&Parsed<'_>) -> Result<T, ProfileError>,
    ) -> Result<T, ProfileError> {
        let bytes = self.encode_to_vec();
        f(&Parser::new().read(&bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::fixtures::{FIXTURE_B, synthetic};

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
}
