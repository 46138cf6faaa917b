//! A remote-write request body → `WriteRequest`, or a rejection that says what was wrong.
//! The Content-Type picks the protocol: 1.0 (`prometheus.WriteRequest`) is decoded here, 2.0
//! (`io.prometheus.write.v2.Request`) by [`crate::decode_v2`] into the same 1.0 form.

use prost::Message;
use redline_remote_write::prompb::WriteRequest;

use crate::rejection::Rejection;

/// Which remote-write message the body holds, from its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V1,
    V2,
}

/// Accepts `application/x-protobuf` with `proto=prometheus.WriteRequest` or no `proto` (1.0),
/// `proto=io.prometheus.write.v2.Request` (2.0), and a missing Content-Type (1.0, as
/// Prometheus' own receiver does); any other type or proto is a 415, which tells a 2.0 sender
/// to fall back. Content-Encoding must be snappy or absent.
pub fn check_headers(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<Protocol, Rejection> {
    let mut protocol = Protocol::V1;
    if let Some(ct) = content_type {
        let mut parts = ct.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        if !media.eq_ignore_ascii_case("application/x-protobuf") {
            return Err(Rejection::ContentType(ct.to_string()));
        }
        for p in parts {
            if let Some(proto) = p.strip_prefix("proto=") {
                protocol = match proto.trim_matches('"') {
                    "prometheus.WriteRequest" => Protocol::V1,
                    "io.prometheus.write.v2.Request" => Protocol::V2,
                    _ => return Err(Rejection::ContentType(ct.to_string())),
                };
            }
        }
    }
    if let Some(enc) = content_encoding
        && !enc.trim().eq_ignore_ascii_case("snappy")
    {
        return Err(Rejection::ContentEncoding(enc.to_string()));
    }
    Ok(protocol)
}

/// Decompresses. The decoded size is read from the snappy header and checked before anything
/// is allocated, so a small hostile body cannot claim gigabytes.
pub fn decompress(body: &[u8], max_decoded: usize) -> Result<Vec<u8>, Rejection> {
    let len = snap::raw::decompress_len(body).map_err(|e| Rejection::Snappy(e.to_string()))?;
    if len > max_decoded {
        return Err(Rejection::TooLarge {
            limit: max_decoded,
            what: "decompressed",
        });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| Rejection::Snappy(e.to_string()))
}

/// Decompresses and decodes a 1.0 body.
pub fn decode_body(body: &[u8], max_decoded: usize) -> Result<WriteRequest, Rejection> {
    let raw = decompress(body, max_decoded)?;
    WriteRequest::decode(raw.as_slice())
        .map_err(|e| Rejection::Protobuf(format!("prometheus.WriteRequest: {e}")))
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
        let v1 = Ok(Protocol::V1);
        assert_eq!(
            check_headers(Some("application/x-protobuf"), Some("snappy")),
            v1
        );
        assert_eq!(
            check_headers(
                Some("application/x-protobuf;proto=prometheus.WriteRequest"),
                None,
            ),
            v1
        );
        assert_eq!(check_headers(None, None), v1);
        assert_eq!(
            check_headers(
                Some("application/x-protobuf; proto=io.prometheus.write.v2.Request"),
                Some("snappy"),
            ),
            Ok(Protocol::V2)
        );
        let e = check_headers(Some("application/json"), Some("snappy")).unwrap_err();
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(e.to_string().contains("application/json"), "{e}");
        // A message this receiver does not know is a 415, the answer a sender falls back on.
        let e = check_headers(
            Some("application/x-protobuf;proto=io.prometheus.write.v3.Request"),
            None,
        )
        .unwrap_err();
        assert_eq!(e.reason(), "content_type");
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let e = check_headers(Some("application/x-protobuf"), Some("gzip")).unwrap_err();
        assert_eq!(e.reason(), "content_encoding");
    }
}
