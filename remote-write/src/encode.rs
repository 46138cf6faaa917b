//! Protobuf + snappy encoding of a batch.
//!
//! The send path writes the `WriteRequest` bytes directly: each series' labels were
//! encoded once when the series was built, so a batch only copies them and appends
//! its samples. `prost` messages in [`crate::prompb`] decode the result (tests check
//! the two agree), and histograms are encoded with prost since they are rare.

use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

use crate::prompb::{Exemplar, Histogram, Sample};
use crate::series::Series;

/// What a batch holds for one series.
pub struct Entry<'a> {
    pub series: &'a Series,
    pub samples: &'a [Sample],
    pub histograms: &'a [Histogram],
    pub exemplars: &'a [Exemplar],
}

/// Bytes of a length-delimited field with a 1-byte key (both protocols' fields have one).
#[inline]
pub(crate) fn field_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

const SAMPLE_MAX: usize = 1 + 8 + 1 + 10;

/// A `Sample` without start timestamp: value (always written, so the shape is fixed) and
/// timestamp. Remote-write 1.0 and 2.0 encode it alike, as field 2 of their series.
#[inline]
pub(crate) fn sample_len(s: &Sample) -> usize {
    1 + 8 + 1 + encoded_len_varint(s.timestamp as u64)
}

/// Appends `s` as field 2 (`samples`) of a series message.
#[inline]
pub(crate) fn put_sample(s: &Sample, buf: &mut Vec<u8>) {
    encode_key(2, WireType::LengthDelimited, buf);
    encode_varint(sample_len(s) as u64, buf);
    // Written even when zero: decoders accept explicit defaults, and a fixed
    // shape keeps this loop branch-free.
    encode_key(1, WireType::SixtyFourBit, buf);
    buf.extend_from_slice(&s.value.to_le_bytes());
    encode_key(2, WireType::Varint, buf);
    encode_varint(s.timestamp as u64, buf);
}

/// Appends the protobuf encoding of a `WriteRequest` holding `entries` to `buf`.
pub fn encode_write_request(entries: &[Entry<'_>], buf: &mut Vec<u8>) {
    for e in entries {
        let mut len = e.series.encoded_labels().len();
        for s in e.samples {
            len += field_len(sample_len(s));
        }
        for h in e.histograms {
            len += field_len(h.encoded_len());
        }
        for x in e.exemplars {
            len += field_len(x.encoded_len());
        }
        buf.reserve(len + 6 + e.samples.len() * SAMPLE_MAX);
        encode_key(1, WireType::LengthDelimited, buf);
        encode_varint(len as u64, buf);
        buf.extend_from_slice(e.series.encoded_labels());
        for s in e.samples {
            put_sample(s, buf);
        }
        for x in e.exemplars {
            encode_key(3, WireType::LengthDelimited, buf);
            encode_varint(x.encoded_len() as u64, buf);
            x.encode_raw(buf);
        }
        for h in e.histograms {
            encode_key(4, WireType::LengthDelimited, buf);
            encode_varint(h.encoded_len() as u64, buf);
            h.encode_raw(buf);
        }
    }
}

/// Snappy block format, as the remote-write spec requires (not the framed format).
pub fn compress(raw: &[u8], encoder: &mut snap::raw::Encoder, out: &mut Vec<u8>) {
    out.clear();
    out.resize(snap::raw::max_compress_len(raw.len()), 0);
    let n = encoder
        .compress(raw, out)
        .expect("output sized by max_compress_len");
    out.truncate(n);
}

/// What both protocols' encoder tests build their entries from.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    impl<'a> Entry<'a> {
        /// `series` with `samples` and the one exemplar `x`.
        pub(crate) fn with_exemplar(
            series: &'a Series,
            samples: &'a [Sample],
            x: &'a Exemplar,
        ) -> Self {
            Self {
                series,
                samples,
                histograms: &[],
                exemplars: std::slice::from_ref(x),
            }
        }

        /// `series` with `samples` and the one histogram `h`.
        pub(crate) fn with_histogram(
            series: &'a Series,
            samples: &'a [Sample],
            h: &'a Histogram,
        ) -> Self {
            Self {
                series,
                samples,
                histograms: std::slice::from_ref(h),
                exemplars: &[],
            }
        }
    }

    /// An exemplar `{trace_id="abc"}` of 0.25, half a second after the samples' time.
    pub(crate) fn trace_exemplar() -> Exemplar {
        Exemplar {
            labels: vec![crate::prompb::Label {
                name: "trace_id".into(),
                value: "abc".into(),
            }],
            value: 0.25,
            timestamp: 1_700_000_000_500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompb::{BucketSpan, WriteRequest, histogram};

    #[test]
    fn fast_encoding_decodes_to_the_same_request_prost_would_build() {
        let a = Series::new("http_requests_total", [("code", "200"), ("job", "x")]).unwrap();
        let b = Series::new("latency_seconds", [("job", "ü-ñ")]).unwrap();
        let samples = [
            Sample {
                value: 1.5,
                timestamp: 1_700_000_000_000,
            },
            Sample {
                value: 0.0,
                timestamp: 1_700_000_001_000,
            },
        ];
        let h = Histogram {
            count: Some(histogram::Count::CountInt(3)),
            sum: 0.6,
            schema: 3,
            zero_threshold: 1e-128,
            zero_count: Some(histogram::ZeroCount::ZeroCountInt(0)),
            positive_spans: vec![BucketSpan {
                offset: -20,
                length: 2,
            }],
            positive_deltas: vec![1, 1],
            timestamp: 1_700_000_000_000,
            ..Default::default()
        };
        let x = fixtures::trace_exemplar();
        let mut raw = Vec::new();
        encode_write_request(
            &[
                Entry::with_exemplar(&a, &samples, &x),
                Entry::with_histogram(&b, &[], &h),
            ],
            &mut raw,
        );
        let decoded = WriteRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(decoded.timeseries.len(), 2);
        assert_eq!(decoded.timeseries[0].labels, a.labels());
        assert_eq!(decoded.timeseries[0].samples, samples);
        assert_eq!(decoded.timeseries[0].exemplars, vec![x]);
        assert_eq!(decoded.timeseries[1].labels, b.labels());
        assert_eq!(decoded.timeseries[1].histograms, vec![h]);
    }

    #[test]
    fn snappy_block_roundtrips() {
        let raw = vec![7u8; 10_000];
        let mut out = Vec::new();
        compress(&raw, &mut snap::raw::Encoder::new(), &mut out);
        assert!(out.len() < raw.len() / 10);
        assert_eq!(snap::raw::Decoder::new().decompress_vec(&out).unwrap(), raw);
    }
}
