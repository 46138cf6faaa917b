//! An HTTP/1.1 response head: its status, how its body is delimited and whether the
//! connection stays open (RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304; chunked wins over
//! Content-Length; without either the body runs to the connection's end).
//!
//! Two parsers give the same [`Head`]. `httparse` (hyper's parser) is the reference and reads
//! anything; it cost ~1,400 instructions for nginx's five-header head, plus ~650 more to walk
//! its header slots, a fifth of the client's whole work per request on a keep-alive load test.
//! When the caller keeps no headers, [`scan`] first tries a narrow single pass that accepts
//! only the plainest well-formed heads (CRLF line ends, token names, visible values) and reads
//! only the three framing headers on the way; anything else (a partial head, an obs-fold, a
//! bare LF, an invalid byte, more than [`MAX_HEADERS`] fields) goes to `httparse`, which then
//! decides. So the fast path accepts a subset of what `httparse` accepts, with the same result
//! (a test holds the two to that on generated heads).

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::client::ClientError;
use crate::metrics::ErrorReason;

/// Most headers a response may have; k6 and nginx sit far below it.
pub const MAX_HEADERS: usize = 100;
/// Largest response head (status line and headers).
pub const MAX_HEAD_BYTES: usize = 256 * 1024;

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Parsed head: status, framing, keep-alive, headers if kept, and its length in the buffer.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub framing: Framing,
    pub keep_alive: bool,
    pub headers: HeaderMap,
    pub len: usize,
}

/// The head at the start of `buf`; `None` while it is incomplete.
pub fn parse_head(
    buf: &[u8],
    head_only: bool,
    keep_headers: bool,
) -> Result<Option<Head>, ClientError> {
    if buf.is_empty() {
        // Asked before the first read of a response.
        return Ok(None);
    }
    if !keep_headers && let Some(head) = scan(buf, head_only) {
        return head.map(Some);
    }
    parse_with_httparse(buf, head_only, keep_headers)
}

/// What the framing headers said, gathered one field at a time by either parser.
#[derive(Default)]
struct Facts {
    chunked: bool,
    length: Option<u64>,
    close: bool,
    keep_alive_token: bool,
}

impl Facts {
    fn field(&mut self, name: &[u8], value: &[u8]) -> Result<(), ClientError> {
        if named(name, b"Transfer-Encoding") {
            // Chunked only when it is the final coding.
            self.chunked = value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if named(name, b"Content-Length") {
            let n = decimal(value.trim_ascii())
                .ok_or_else(|| protocol("invalid Content-Length".into()))?;
            if self.length.is_some_and(|l| l != n) {
                return Err(protocol("conflicting Content-Length headers".into()));
            }
            self.length = Some(n);
        } else if named(name, b"Connection") {
            // The one token nearly every server sends, before splitting a list.
            if value == b"keep-alive" {
                self.keep_alive_token = true;
                return Ok(());
            }
            for token in value.split(|&b| b == b',') {
                let t = token.trim_ascii();
                self.close |= t.eq_ignore_ascii_case(b"close");
                self.keep_alive_token |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        Ok(())
    }

    fn head(
        self,
        status: u16,
        http10: bool,
        head_only: bool,
        headers: HeaderMap,
        len: usize,
    ) -> Head {
        let framing = if head_only || (100..200).contains(&status) || status == 204 || status == 304
        {
            Framing::None
        } else if self.chunked {
            Framing::Chunked
        } else if let Some(n) = self.length {
            Framing::Length(n)
        } else {
            Framing::UntilClose
        };
        let keep_alive = !self.close
            && (!http10 || self.keep_alive_token)
            && !matches!(framing, Framing::UntilClose)
            && status != 101;
        Head {
            status,
            framing,
            keep_alive,
            headers,
            len,
        }
    }
}

fn parse_with_httparse(
    buf: &[u8],
    head_only: bool,
    keep_headers: bool,
) -> Result<Option<Head>, ClientError> {
    // Left uninitialised: filling 100 empty slots before every parse cost more instructions
    // than parsing nginx's five headers.
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut r, buf, &mut slots)
    {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > MAX_HEAD_BYTES {
                return Err(protocol(format!(
                    "response head larger than {MAX_HEAD_BYTES} bytes"
                )));
            }
            return Ok(None);
        }
        Err(e) => return Err(protocol(format!("invalid response head: {e}"))),
    };
    let mut facts = Facts::default();
    let mut headers = HeaderMap::new();
    for h in r.headers.iter() {
        facts.field(h.name.as_bytes(), h.value)?;
        if keep_headers
            && let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(h.name.as_bytes()),
                HeaderValue::from_bytes(h.value),
            )
        {
            headers.append(n, v);
        }
    }
    Ok(Some(facts.head(
        r.code.unwrap_or(0),
        r.version == Some(0),
        head_only,
        headers,
        len,
    )))
}

/// Byte classes of the fast scan.
const TOKEN: u8 = 1;
const VALUE: u8 = 2;

/// RFC 9110 tchar (header names) and field-vchar / SP / HTAB (values, obs-text included as
/// httparse allows it).
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let token = c.is_ascii_alphanumeric() || {
            let mut hit = false;
            let specials = b"!#$%&'*+-.^_`|~";
            let mut i = 0;
            while i < specials.len() {
                hit |= specials[i] == c;
                i += 1;
            }
            hit
        };
        let value = c == b'\t' || (c >= 0x20 && c != 0x7f);
        t[b] = (if token { TOKEN } else { 0 }) | (if value { VALUE } else { 0 });
        b += 1;
    }
    t
};

/// The plainest heads in one pass; `None` hands the buffer to `httparse` (see the module
/// comment). `Some(Err)` only for what the fields themselves say (a bad or conflicting
/// Content-Length), which `httparse` would have handed back to [`Facts`] just the same.
fn scan(buf: &[u8], head_only: bool) -> Option<Result<Head, ClientError>> {
    // "HTTP/1.x NNN " then the reason phrase.
    let line = buf.get(..13)?;
    if &line[..7] != b"HTTP/1." || line[8] != b' ' || line[12] != b' ' {
        return None;
    }
    let http10 = match line[7] {
        b'0' => true,
        b'1' => false,
        _ => return None,
    };
    let d = |i: usize| line[i].is_ascii_digit().then(|| (line[i] - b'0') as u16);
    let status = d(9)? * 100 + d(10)? * 10 + d(11)?;
    if status < 100 {
        return None;
    }
    let mut i = 13 + value_run(&buf[13..])?;
    i = crlf(buf, i)?;
    let mut facts = Facts::default();
    // What a field said wrong counts once the head is whole (until then it is partial).
    let mut bad = None;
    let mut fields = 0;
    loop {
        if *buf.get(i)? == b'\r' {
            let end = crlf(buf, i)?;
            return Some(match bad {
                Some(e) => Err(e),
                None => Ok(facts.head(status, http10, head_only, HeaderMap::new(), end)),
            });
        }
        fields += 1;
        if fields > MAX_HEADERS {
            return None;
        }
        let name = &buf[i..i + run(&buf[i..], TOKEN)?];
        i += name.len();
        if name.is_empty() || buf[i] != b':' {
            return None;
        }
        i += 1;
        // Leading whitespace is not part of the value (RFC 9110 §5.5).
        while matches!(buf.get(i)?, b' ' | b'\t') {
            i += 1;
        }
        let value = &buf[i..i + value_run(&buf[i..])?];
        i = crlf(buf, i + value.len())?;
        // Only names of the framing headers' lengths can be one of them.
        if matches!(name.len(), 10 | 14 | 17)
            && bad.is_none()
            && let Err(e) = facts.field(name, value)
        {
            bad = Some(e);
        }
    }
}

/// How many bytes at the start of `bytes` are of `class`; `None` when all are (the head goes
/// on past what has been read).
fn run(bytes: &[u8], class: u8) -> Option<usize> {
    bytes.iter().position(|&b| CLASS[b as usize] & class == 0)
}

/// [`run`] of [`VALUE`] bytes, eight at a time: values are most of a head's bytes, and a
/// word that holds no byte below 0x20 (CR, LF, controls, HTAB) and no DEL is all value bytes.
/// The first flagged byte of a word is exact (a borrow only ever flags bytes above it); from
/// there the byte loop decides (HTAB is a value byte and goes on).
fn value_run(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut i = 0;
    while let Some(word) = bytes.get(i..i + 8) {
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let del = x ^ (ONES * 0x7f);
        let del = del.wrapping_sub(ONES) & !del & HIGH;
        let flagged = below_space | del;
        if flagged != 0 {
            i += (flagged.trailing_zeros() / 8) as usize;
            break;
        }
        i += 8;
    }
    Some(i + run(&bytes[i..], VALUE)?)
}

/// Whether a field name is `canonical` in any case; the exact spelling (which nginx, Go and
/// most servers send) is checked first, a plain compare a fraction of a case-folding one.
fn named(name: &[u8], canonical: &[u8]) -> bool {
    name.len() == canonical.len() && (name == canonical || name.eq_ignore_ascii_case(canonical))
}

/// The index after the CRLF at `i`; `None` for anything else (a bare LF included).
fn crlf(buf: &[u8], i: usize) -> Option<usize> {
    (buf.get(i..i + 2)? == b"\r\n").then_some(i + 2)
}

pub fn protocol(message: String) -> ClientError {
    ClientError {
        reason: ErrorReason::Other,
        message,
    }
}

/// A non-empty run of ASCII digits as a number (`str::parse` cost ~280 instructions for a
/// two-digit Content-Length, this a tenth of that); `None` for anything else or on overflow.
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add((d - b'0') as u64))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    const NGINX: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 06 Dec 2026 13:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 17\r\nConnection: keep-alive\r\n\r\nhello from nginx\n";

    /// What a parse gave, comparable across the two parsers.
    fn outcome(r: Result<Option<Head>, ClientError>) -> String {
        match r {
            Ok(Some(h)) => format!("{} {:?} {} {}", h.status, h.framing, h.keep_alive, h.len),
            Ok(None) => "partial".into(),
            Err(e) => format!("error {}", e.message),
        }
    }

    #[test]
    fn the_fast_scan_reads_common_heads_as_httparse_does() {
        let heads: [&[u8]; 7] = [
            NGINX,
            b"HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: Keep-Alive\r\n\r\nok",
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
            b"HTTP/1.1 503 \r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length:  5 \r\n\r\nhello",
        ];
        for head in heads {
            for head_only in [false, true] {
                let fast = scan(head, head_only).expect("the fast scan takes a plain head");
                assert_eq!(
                    outcome(fast.map(Some)),
                    outcome(parse_with_httparse(head, head_only, false)),
                    "{}",
                    String::from_utf8_lossy(head)
                );
            }
        }
    }

    #[test]
    fn the_fast_scan_hands_unusual_heads_to_httparse() {
        let unusual: [&[u8]; 8] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", // partial
            b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", // bare LF
            b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n", // obs-fold
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",   // space in a name
            b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n",     // control byte
            b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", // no reason phrase
            b"HTTP/2.0 200 OK\r\n\r\n",                  // not HTTP/1.x
            b"NOT HTTP\r\n\r\n",
        ];
        for head in unusual {
            assert!(
                scan(head, false).is_none(),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(scan(many.as_bytes(), false).is_none());
        // And through parse_head httparse then decides: a partial head waits, a bad one fails.
        assert_eq!(outcome(parse_head(unusual[0], false, false)), "partial");
        assert!(outcome(parse_head(unusual[4], false, false)).starts_with("error invalid"));
    }

    /// Whatever the fast scan accepts, httparse reads the same: heads made by mutating real
    /// ones (bytes replaced, inserted, deleted, cut short), thousands of them.
    #[test]
    fn on_generated_heads_the_fast_scan_never_disagrees_with_httparse() {
        let seeds: [&[u8]; 3] = [
            NGINX,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            b"HTTP/1.0 304 Not Modified\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n",
        ];
        let alphabet = b"\r\n :,\t\x01\x7f\xc3aZ09-;chunked close keep-alive Content-Length";
        let mut rng = StdRng::seed_from_u64(19);
        let (mut accepted, mut rejected) = (0, 0);
        for n in 0..20_000 {
            let mut head = seeds[n % seeds.len()].to_vec();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..head.len());
                let byte = alphabet[rng.random_range(0..alphabet.len())];
                match rng.random_range(0..4) {
                    0 => head[at] = byte,
                    1 => head.insert(at, byte),
                    2 => {
                        head.remove(at);
                    }
                    _ => head.truncate(at),
                }
                if head.is_empty() {
                    head.push(byte);
                }
            }
            let head_only = n % 5 == 0;
            match scan(&head, head_only) {
                Some(fast) => {
                    accepted += 1;
                    assert_eq!(
                        outcome(fast.map(Some)),
                        outcome(parse_with_httparse(&head, head_only, false)),
                        "{:?}",
                        String::from_utf8_lossy(&head)
                    );
                }
                None => rejected += 1,
            }
        }
        // Both branches were exercised, or the test proved nothing.
        assert!(
            accepted > 1_000 && rejected > 1_000,
            "{accepted} / {rejected}"
        );
    }

    #[test]
    fn values_are_scanned_a_word_at_a_time_as_byte_by_byte() {
        let mut rng = StdRng::seed_from_u64(7);
        let bytes = [
            b'a', b' ', b'\t', b'\r', b'\n', 0x01, 0x7f, 0x80, 0xff, b'~', 0x1f, 0x20,
        ];
        for n in 0..5_000 {
            let len = rng.random_range(0..40);
            // Mostly value bytes, so that long runs (and whole words) occur.
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.random_range(0..10) < 8 {
                        b'x'
                    } else {
                        bytes[rng.random_range(0..bytes.len())]
                    }
                })
                .collect();
            assert_eq!(value_run(&v), run(&v, VALUE), "case {n}: {v:?}");
        }
    }

    #[test]
    fn content_lengths_are_plain_decimals() {
        assert_eq!(decimal(b"0"), Some(0));
        assert_eq!(decimal(b"17"), Some(17));
        assert_eq!(decimal(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"18446744073709551616",
            b"+1",
            b"1 2",
            b"0x10",
            b"-0",
        ] {
            assert_eq!(decimal(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
