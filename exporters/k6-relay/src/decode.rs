//! A remote-write 1.0 request body → `WriteRequest`, or a rejection that says what was wrong.

use prost::Message;
use redline_remote_write::prompb::WriteRequest;

use crate::rejection::Rejection;

/// Accepts `application/x-protobuf` (optionally `;proto=prometheus.WriteRequest`) and a missing
/// Content-Type (Prometheus' own receiver does too); Content-Encoding must be snappy or absent.
pub fn check_headers(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<(), Rejection> {
    if let Some(ct) = content_type {
        let mut parts = ct.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        if !media.eq_ignore_ascii_case("application/x-protobuf") {
            return Err(Rejection::ContentType(ct.to_string()));
        }
        for p in parts {
            if let Some(proto) = p.strip_prefix("proto=")
                && proto != "prometheus.WriteRequest"
            {
                return Err(Rejection::ContentType(ct.to_string()));
            }
        }
    }
    if let Some(enc) = content_encoding
        && !enc.trim().eq_ignore_ascii_case("snappy")
    {
        return Err(Rejection::ContentEncoding(enc.to_string()));
    }
    Ok(())
}

/// Decompresses and decodes. The decoded size is read from the snappy header and checked
/// before anything is allocated, so a small hostile body cannot claim gigabytes.
pub fn decode_body(body: &[u8], max_decoded: usize) -> Result<WriteRequest, Rejection> {
    let len = snap::raw::decompress_len(body).map_err(|e| Rejection::Snappy(e.to_string()))?;
    if len > max_decoded {
        return Err(Rejection::TooLarge {
            limit: max_decoded,
            what: "decompressed",
        });
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| Rejection::Snappy(e.to_string()))?;
    WriteRequest::decode(raw.as_slice()).map_err(|e| Rejection::Protobuf(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use redline_remote_write::prompb::{Label, Sample, TimeSeries};

    fn body(req: &WriteRequest) -> Vec<u8> {
        snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap()
    }

    fn one_series() -> WriteRequest {
        WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "__name__".into(),
                    value: "k6_http_reqs_total".into(),
                }],
                samples: vec![Sample {
                    value: 3.0,
                    timestamp: 1000,
                }],
                ..Default::default()
            }],
            metadata: vec![],
        }
    }

    #[test]
    fn a_valid_body_round_trips() {
        let req = one_series();
        assert_eq!(decode_body(&body(&req), 1 << 20).unwrap(), req);
    }

    #[test]
    fn uncompressed_and_truncated_bodies_are_named_for_what_they_are() {
        let req = one_series();
        let e = decode_body(&req.encode_to_vec(), 1 << 20).unwrap_err();
        assert_eq!(e.reason(), "snappy", "{e}");
        let b = body(&req);
        let e = decode_body(&b[..b.len() - 3], 1 << 20).unwrap_err();
        assert_eq!(e.reason(), "snappy", "{e}");
        // Valid snappy around bytes that are not a WriteRequest.
        let garbage = snap::raw::Encoder::new()
            .compress_vec(&[0x0a, 0xff, 0xff, 0xff])
            .unwrap();
        let e = decode_body(&garbage, 1 << 20).unwrap_err();
        assert_eq!(e.reason(), "protobuf", "{e}");
        assert!(e.to_string().contains("WriteRequest"), "{e}");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_body_claiming_a_huge_decoded_size_is_refused_before_allocating() {
        let e = decode_body(&body(&one_series()), 4).unwrap_err();
        assert_eq!(e.reason(), "too_large");
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn content_types() {
        check_headers(Some("application/x-protobuf"), Some("snappy")).unwrap();
        check_headers(
            Some("application/x-protobuf;proto=prometheus.WriteRequest"),
            None,
        )
        .unwrap();
        check_headers(None, None).unwrap();
        let e = check_headers(Some("application/json"), Some("snappy")).unwrap_err();
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(e.to_string().contains("application/json"), "{e}");
        let e = check_headers(
            Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
            None,
        )
        .unwrap_err();
        assert_eq!(e.reason(), "content_type");
        let e = check_headers(Some("application/x-protobuf"), Some("gzip")).unwrap_err();
        assert_eq!(e.reason(), "content_encoding");
    }
}
