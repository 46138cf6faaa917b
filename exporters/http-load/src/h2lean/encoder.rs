//! HPACK encoding of request header blocks (RFC 7541), one encoder per connection.
//!
//! A request template's fixed headers (`:authority`, `content-type`, a fixed header of the
//! scenario) go into the server's dynamic table the first time they are sent, Huffman-coded,
//! and are one or two bytes on every later request: per request the work is a short scan of
//! this connection's few entries. What varies per request is sent as a literal without
//! indexing (`:path`, never inserted: each new path would evict a useful entry; Huffman-coded
//! when that is shorter, as the h2 crate and nghttp2 do) or never indexed (sensitive values:
//! tokens, raw). The table holds only what was sent at least once, so nothing enters the
//! server's table that is not reused.

use std::collections::VecDeque;

use http::{HeaderMap, Method};

use super::hpack::{DEFAULT_TABLE_SIZE, ENTRY_OVERHEAD, STATIC};
use super::huffman;

/// What a request's header block is made of.
pub struct RequestHead<'a> {
    pub method: &'a Method,
    pub https: bool,
    pub authority: &'a str,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
}

impl<'a> RequestHead<'a> {
    /// The head of `req`, whose URI is absolute (scheme and authority become pseudo-headers).
    #[cfg(test)]
    pub fn of<B>(req: &'a http::Request<B>) -> Self {
        let uri = req.uri();
        Self {
            method: req.method(),
            https: uri.scheme_str() == Some("https"),
            authority: uri.authority().map_or("", |a| a.as_str()),
            path: uri
                .path_and_query()
                .map(|p| p.as_str())
                .filter(|p| !p.is_empty())
                .unwrap_or("/"),
            headers: req.headers(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    name: Box<[u8]>,
    value: Box<[u8]>,
}

impl Entry {
    fn size(&self) -> usize {
        self.name.len() + self.value.len() + ENTRY_OVERHEAD
    }
}

#[derive(Debug)]
pub struct Encoder {
    /// Newest last (dynamic index 62).
    entries: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    /// A size the server's SETTINGS set, to announce at the start of the next block.
    update: Option<usize>,
}

impl Default for Encoder {
    fn default() -> Self {
        Self {
            entries: VecDeque::new(),
            size: 0,
            max_size: DEFAULT_TABLE_SIZE,
            update: None,
        }
    }
}

/// HTTP/1.1 connection headers, which HTTP/2 forbids (RFC 9113 §8.2.2).
fn connection_specific(name: &str) -> bool {
    matches!(
        name,
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade" | "host"
    )
}

/// Writes `v` with an `n`-bit prefix whose other bits are `flags` (RFC 7541 §5.1).
pub fn integer(out: &mut Vec<u8>, flags: u8, n: u32, mut v: usize) {
    let mask = (1usize << n) - 1;
    if v < mask {
        out.push(flags | v as u8);
        return;
    }
    out.push(flags | mask as u8);
    v -= mask;
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A string literal, Huffman-coded when `huffman` and shorter.
fn string(out: &mut Vec<u8>, s: &[u8], huffman: bool) {
    if huffman {
        let n = huffman::encoded_len(s);
        if n < s.len() {
            integer(out, 0x80, 7, n);
            huffman::encode(s, out);
            return;
        }
    }
    integer(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

fn static_name(name: &[u8]) -> Option<usize> {
    STATIC
        .iter()
        .position(|(n, _)| n.as_bytes() == name)
        .map(|i| i + 1)
}

impl Encoder {
    /// The server's SETTINGS_HEADER_TABLE_SIZE; used up to the default 4096 (a larger
    /// table would only hold more of what this client never repeats).
    pub fn set_max_size(&mut self, size: usize) {
        let size = size.min(DEFAULT_TABLE_SIZE);
        if size != self.max_size {
            self.max_size = size;
            self.update = Some(self.update.map_or(size, |u| u.min(size)));
            self.evict(0);
        }
    }

    /// Appends `head`'s header block to `out`.
    pub fn encode(&mut self, head: &RequestHead<'_>, out: &mut Vec<u8>) {
        if let Some(size) = self.update.take() {
            integer(out, 0x20, 5, size);
        }
        match *head.method {
            Method::GET => out.push(0x82),
            Method::POST => out.push(0x83),
            ref m => {
                integer(out, 0, 4, 2);
                string(out, m.as_str().as_bytes(), false);
            }
        }
        out.push(if head.https { 0x87 } else { 0x86 });
        self.field(b":authority", head.authority.as_bytes(), Some(1), out);
        if head.path == "/" {
            out.push(0x84);
        } else {
            integer(out, 0, 4, 4);
            string(out, head.path.as_bytes(), true);
        }
        for (name, value) in head.headers {
            let n = name.as_str();
            if connection_specific(n) {
                continue;
            }
            if value.is_sensitive() {
                // Never indexed, by any proxy on the way either (RFC 7541 §7.1.3).
                match static_name(n.as_bytes()) {
                    Some(i) => integer(out, 0x10, 4, i),
                    None => {
                        out.push(0x10);
                        string(out, n.as_bytes(), false);
                    }
                }
                string(out, value.as_bytes(), false);
            } else {
                self.field(n.as_bytes(), value.as_bytes(), None, out);
            }
        }
    }

    /// A field that repeats: indexed when the table has it, else inserted (if it fits).
    fn field(&mut self, name: &[u8], value: &[u8], static_idx: Option<usize>, out: &mut Vec<u8>) {
        let newest = self.entries.len();
        if let Some(i) = self
            .entries
            .iter()
            .rposition(|e| *e.value == *value && *e.name == *name)
        {
            integer(out, 0x80, 7, 62 + newest - 1 - i);
            return;
        }
        let entry = Entry {
            name: name.into(),
            value: value.into(),
        };
        let name_idx = static_idx.or_else(|| static_name(name));
        let insert = entry.size() <= self.max_size;
        let (flags, prefix) = if insert { (0x40, 6) } else { (0x00, 4) };
        match name_idx {
            Some(i) => integer(out, flags, prefix, i),
            None => {
                out.push(flags);
                string(out, name, true);
            }
        }
        string(out, value, true);
        if insert {
            self.evict(entry.size());
            self.size += entry.size();
            self.entries.push_back(entry);
        }
    }

    fn evict(&mut self, room: usize) {
        while self.size + room > self.max_size {
            match self.entries.pop_front() {
                Some(e) => self.size -= e.size(),
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::super::hpack::{Decoded, Decoder};
    use super::*;

    fn head<'a>(m: &'a Method, path: &'a str, h: &'a HeaderMap) -> RequestHead<'a> {
        RequestHead {
            method: m,
            https: true,
            authority: "api.example:8443",
            path,
            headers: h,
        }
    }

    /// The regular headers a server's decoder reads from `block`.
    fn fields(d: &mut Decoder, block: &[u8]) -> Vec<(String, String)> {
        let mut out = Decoded::default();
        d.decode(block, true, &mut out).unwrap();
        out.headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn fixed_headers_are_inserted_once_then_indexed_and_secrets_never() {
        let mut enc = Encoder::default();
        let mut server = Decoder::default();
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-team", HeaderValue::from_static("payments"));
        let mut token = HeaderValue::from_static("Bearer s3cr3t");
        token.set_sensitive(true);
        h.insert("authorization", token);
        h.insert("connection", HeaderValue::from_static("close"));
        let mut first = Vec::new();
        enc.encode(&head(&Method::POST, "/v1/a?x=1", &h), &mut first);
        let mut second = Vec::new();
        enc.encode(&head(&Method::POST, "/v1/b", &h), &mut second);
        for block in [&first, &second] {
            assert_eq!(
                fields(&mut server, block),
                [
                    ("content-type".into(), "application/json".into()),
                    ("x-team".into(), "payments".into()),
                    ("authorization".into(), "Bearer s3cr3t".into()),
                ]
            );
        }
        // :authority, content-type and x-team were inserted; the token and the paths not.
        assert_eq!(server.entry_count(), 3);
        assert_eq!(enc.entries.len(), 3);
        // The second block: method, scheme, 3 indexed, the path (index 4, length, "/v1/b" in
        // 30 Huffman bits), the token (index 23 in two bytes, length, 13 raw bytes).
        let expected = 1 + 1 + 3 + (1 + 1 + 4) + (2 + 1 + 13);
        assert_eq!(second.len(), expected, "{second:x?}");
        // The secret is never indexed (0x1 prefix, name 23), raw.
        let at = second.iter().position(|&b| b == 0x1f).unwrap();
        assert_eq!(&second[at..at + 3], [0x1f, 0x08, 13]);
    }

    #[test]
    fn a_smaller_table_from_settings_is_announced_and_respected() {
        let mut enc = Encoder::default();
        let h = HeaderMap::new();
        let mut b = Vec::new();
        enc.encode(&head(&Method::GET, "/", &h), &mut b);
        assert_eq!(enc.entries.len(), 1);
        enc.set_max_size(0);
        let mut b = Vec::new();
        enc.encode(&head(&Method::GET, "/", &h), &mut b);
        // Size update to 0 first, then the authority as a literal without indexing.
        assert_eq!(&b[..3], [0x20, 0x82, 0x87]);
        assert_eq!(b[3], 0x01);
        assert!(enc.entries.is_empty());
        let mut server = Decoder::default();
        let mut out = Decoded::default();
        server.decode(&b, false, &mut out).unwrap();
        assert_eq!(server.entry_count(), 0);
    }

    #[test]
    fn long_integers_use_continuation_bytes() {
        let mut out = Vec::new();
        integer(&mut out, 0, 5, 1337);
        assert_eq!(out, [0x1f, 0x9a, 0x0a]); // RFC 7541 C.1.2
    }
}
