//! HPACK decoding (RFC 7541) for response header blocks: the dynamic table kept in sync with
//! the server's encoder, the status always read, every other header materialised only when
//! asked (a check reads headers).
//!
//! Why not the h2 crate's decoder: it builds a `Bytes` and a `HeaderName`/`HeaderValue` for
//! every field of every response, which cost ~8.7k instructions per nginx response under
//! callgrind. Here a field is decoded into one byte arena: inserted fields stay there as table
//! entries, the others are cut off again, and nothing is allocated per response.

use std::collections::VecDeque;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::huffman;

/// RFC 7541 Appendix A: (name, value) of static indices 1..=61.
#[rustfmt::skip]
pub const STATIC: [(&str, &str); 61] = [
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
    (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
    (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
    (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""),
    ("accept", ""), ("access-control-allow-origin", ""), ("age", ""), ("allow", ""),
    ("authorization", ""), ("cache-control", ""), ("content-disposition", ""),
    ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
    ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
    ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""),
    ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""),
    ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""),
    ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
    ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
];

/// An entry's overhead on top of its name and value (RFC 7541 §4.1).
pub const ENTRY_OVERHEAD: usize = 32;
/// The default SETTINGS_HEADER_TABLE_SIZE, which this client keeps advertising.
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// A header block that cannot be decoded: a COMPRESSION_ERROR for the whole connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpackError(pub &'static str);

impl std::fmt::Display for HpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HPACK: {}", self.0)
    }
}

/// What a response's header block said.
#[derive(Debug, Default)]
pub struct Decoded {
    /// 0 when the block had no valid `:status`.
    pub status: u16,
    /// Regular headers, filled only when asked for.
    pub headers: HeaderMap,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    start: usize,
    name_len: usize,
    value_len: usize,
}

impl Entry {
    fn size(&self) -> usize {
        self.name_len + self.value_len + ENTRY_OVERHEAD
    }
}

/// One connection's decoder.
#[derive(Debug)]
pub struct Decoder {
    /// Every entry's name and value bytes back to back; fields being decoded go at the end.
    arena: Vec<u8>,
    /// Newest last: dynamic index 62 is the last entry.
    entries: VecDeque<Entry>,
    size: usize,
    /// The table size the encoder chose (size updates), at most `limit`.
    max_size: usize,
    /// What we allow (our SETTINGS_HEADER_TABLE_SIZE).
    limit: usize,
    cache: HuffCache,
}

/// Coded strings longer than this are always decoded.
const CACHE_MAX: usize = 64;
/// Room for the decoding of `CACHE_MAX` coded bytes: at most one symbol per 5 bits.
const CACHE_DECODED: usize = CACHE_MAX * 8 / 5;

/// The last few Huffman-coded strings and their decodings, keyed by the coded bytes.
///
/// Why: nginx Huffman-codes its response header values as literals not indexed (date,
/// server, content-type, content-length) and sends the same ones on every response; a
/// repeated value is then a compare and a copy instead of a decode. Four slots hold an
/// nginx response's values; the date changes once a second and replaces the oldest slot.
/// Measured (callgrind, nginx over TLS): Huffman decoding cost ~2.0k instructions per
/// response; with the cache, instructions per request 14.0k -> 12.4k (5 connections x 10
/// streams) and 16.2k -> 14.7k (10 connections, one VU each).
#[derive(Debug)]
struct HuffCache {
    slots: [Slot; 4],
    /// The slot the next miss replaces (oldest first).
    next: usize,
    #[cfg(test)]
    hits: u64,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// 0: empty (an empty string is never cached).
    coded_len: u8,
    coded: [u8; CACHE_MAX],
    decoded_len: u8,
    decoded: [u8; CACHE_DECODED],
}

impl Default for HuffCache {
    fn default() -> Self {
        let empty = Slot {
            coded_len: 0,
            coded: [0; CACHE_MAX],
            decoded_len: 0,
            decoded: [0; CACHE_DECODED],
        };
        Self {
            slots: [empty; 4],
            next: 0,
            #[cfg(test)]
            hits: 0,
        }
    }
}

impl HuffCache {
    /// Appends the decoding of `src` to `out`, as [`huffman::decode`] does.
    fn decode(&mut self, src: &[u8], out: &mut Vec<u8>) -> Result<(), huffman::InvalidHuffman> {
        if src.is_empty() || src.len() > CACHE_MAX {
            return huffman::decode(src, out);
        }
        for s in &self.slots {
            if s.coded_len as usize == src.len() && s.coded[..src.len()] == *src {
                out.extend_from_slice(&s.decoded[..s.decoded_len as usize]);
                #[cfg(test)]
                {
                    self.hits += 1;
                }
                return Ok(());
            }
        }
        let start = out.len();
        huffman::decode(src, out)?;
        let decoded = &out[start..];
        if decoded.len() <= CACHE_DECODED {
            let s = &mut self.slots[self.next];
            s.coded_len = src.len() as u8;
            s.coded[..src.len()].copy_from_slice(src);
            s.decoded_len = decoded.len() as u8;
            s.decoded[..decoded.len()].copy_from_slice(decoded);
            self.next = (self.next + 1) % self.slots.len();
        }
        Ok(())
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_TABLE_SIZE)
    }
}

/// Reads an integer with an `n`-bit prefix (RFC 7541 §5.1) at `b[*pos]`.
fn integer(b: &[u8], pos: &mut usize, n: u32) -> Result<usize, HpackError> {
    let mask = (1usize << n) - 1;
    let first = *b.get(*pos).ok_or(HpackError("truncated integer"))? as usize & mask;
    *pos += 1;
    if first < mask {
        return Ok(first);
    }
    let mut v = mask;
    let mut shift = 0;
    loop {
        let byte = *b.get(*pos).ok_or(HpackError("truncated integer"))?;
        *pos += 1;
        v += ((byte & 0x7f) as usize) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
        shift += 7;
        if shift > 28 {
            return Err(HpackError("integer too large"));
        }
    }
}

impl Decoder {
    pub fn new(limit: usize) -> Self {
        Self {
            arena: Vec::with_capacity(2 * limit + 1024),
            entries: VecDeque::new(),
            size: 0,
            max_size: limit,
            limit,
            cache: HuffCache::default(),
        }
    }

    /// Entries in the dynamic table.
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// Bytes the dynamic table holds by RFC 7541's count.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Decodes one complete header block; `keep` fills [`Decoded::headers`].
    pub fn decode(
        &mut self,
        block: &[u8],
        keep: bool,
        out: &mut Decoded,
    ) -> Result<(), HpackError> {
        self.compact();
        let mut pos = 0;
        let mut fields = 0;
        while pos < block.len() {
            let b = block[pos];
            if b & 0x80 != 0 {
                let idx = integer(block, &mut pos, 7)?;
                self.indexed(idx, keep, out)?;
            } else if b & 0xe0 == 0x20 {
                // A size update comes before the block's first field.
                let size = integer(block, &mut pos, 5)?;
                if fields > 0 || size > self.limit {
                    return Err(HpackError("invalid dynamic table size update"));
                }
                self.max_size = size;
                self.evict(0);
                continue;
            } else {
                // Literal: with incremental indexing (01), without (0000) or never (0001).
                let (insert, prefix) = if b & 0x40 != 0 { (true, 6) } else { (false, 4) };
                let idx = integer(block, &mut pos, prefix)?;
                self.literal(block, &mut pos, idx, insert, keep, out)?;
            }
            fields += 1;
        }
        Ok(())
    }

    /// An indexed field: the status from the static table without any copy.
    fn indexed(&mut self, idx: usize, keep: bool, out: &mut Decoded) -> Result<(), HpackError> {
        match idx {
            0 => Err(HpackError("index 0")),
            8..=14 => {
                out.status = STATIC[idx - 1].1.parse().unwrap_or(0);
                Ok(())
            }
            1..=61 => {
                let (n, v) = STATIC[idx - 1];
                if keep {
                    emit(n.as_bytes(), v.as_bytes(), out);
                }
                Ok(())
            }
            _ => {
                let e = self.dynamic(idx)?;
                let (n, v) = self.field(e);
                see(n, v, keep, out);
                Ok(())
            }
        }
    }

    fn literal(
        &mut self,
        block: &[u8],
        pos: &mut usize,
        idx: usize,
        insert: bool,
        keep: bool,
        out: &mut Decoded,
    ) -> Result<(), HpackError> {
        // Name then value go to the arena's end; inserted they become the newest entry.
        let start = self.arena.len();
        match idx {
            0 => self.string(block, pos)?,
            1..=61 => self.arena.extend_from_slice(STATIC[idx - 1].0.as_bytes()),
            _ => {
                let e = self.dynamic(idx)?;
                self.arena.extend_from_within(e.start..e.start + e.name_len);
            }
        }
        let name_len = self.arena.len() - start;
        if let Err(e) = self.string(block, pos) {
            self.arena.truncate(start);
            return Err(e);
        }
        let entry = Entry {
            start,
            name_len,
            value_len: self.arena.len() - start - name_len,
        };
        let (n, v) = self.field(entry);
        see(n, v, keep, out);
        if insert {
            self.evict(entry.size());
            if entry.size() <= self.max_size {
                self.size += entry.size();
                self.entries.push_back(entry);
                return Ok(());
            }
        }
        self.arena.truncate(start);
        Ok(())
    }

    /// Appends a string literal's octets (Huffman-decoded if coded) to the arena.
    fn string(&mut self, block: &[u8], pos: &mut usize) -> Result<(), HpackError> {
        let huffman = block.get(*pos).ok_or(HpackError("truncated string"))? & 0x80 != 0;
        let len = integer(block, pos, 7)?;
        let raw = block
            .get(*pos..*pos + len)
            .ok_or(HpackError("truncated string"))?;
        *pos += len;
        if huffman {
            self.cache
                .decode(raw, &mut self.arena)
                .map_err(|_| HpackError("invalid Huffman code"))
        } else {
            self.arena.extend_from_slice(raw);
            Ok(())
        }
    }

    fn dynamic(&self, idx: usize) -> Result<Entry, HpackError> {
        let i = idx - 62;
        if i >= self.entries.len() {
            return Err(HpackError("index beyond the dynamic table"));
        }
        Ok(self.entries[self.entries.len() - 1 - i])
    }

    fn field(&self, e: Entry) -> (&[u8], &[u8]) {
        let n = &self.arena[e.start..e.start + e.name_len];
        (
            n,
            &self.arena[e.start + e.name_len..e.start + e.name_len + e.value_len],
        )
    }

    /// Evicts the oldest entries until `room` more bytes fit.
    fn evict(&mut self, room: usize) {
        while self.size + room > self.max_size {
            match self.entries.pop_front() {
                Some(e) => self.size -= e.size(),
                None => break,
            }
        }
    }

    /// Drops the arena's dead front (evicted entries) once it is most of the arena, so the
    /// arena stays within a few table sizes; amortised, a byte moves at most once or twice.
    fn compact(&mut self) {
        let live = self.entries.front().map_or(self.arena.len(), |e| e.start);
        if live > self.arena.len() / 2 && self.arena.len() > 2 * self.limit.max(1024) {
            self.arena.drain(..live);
            for e in &mut self.entries {
                e.start -= live;
            }
        }
    }
}

/// A decoded field: the status, or (when kept) a regular header.
fn see(name: &[u8], value: &[u8], keep: bool, out: &mut Decoded) {
    if name == b":status" {
        out.status = std::str::from_utf8(value)
            .ok()
            .filter(|v| v.len() == 3)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
    } else if keep {
        emit(name, value, out);
    }
}

fn emit(name: &[u8], value: &[u8], out: &mut Decoded) {
    if name.first() == Some(&b':') {
        return;
    }
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
        out.headers.append(n, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn headers(d: &Decoded) -> Vec<(String, String)> {
        d.headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    /// RFC 7541 Appendix C.6: three responses, Huffman-coded, with a 256-byte table, so the
    /// second and third evict entries of the first.
    #[test]
    fn the_rfc_response_examples_with_eviction() {
        let mut d = Decoder::new(256);
        let blocks = [
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
             2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ff c1 c0 bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
             77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
             9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ];
        // Each response's status, header list and the dynamic table's entries and size after
        // it (RFC 7541 C.6.1 to C.6.3).
        let cc = ("cache-control", "private");
        let loc = ("location", "https://www.example.com");
        let date = ("date", "Mon, 21 Oct 2013 20:13:21 GMT");
        let expected = [
            (302, vec![cc, date, loc], (4, 222)),
            (307, vec![cc, date, loc], (4, 222)),
            (
                200,
                vec![
                    cc,
                    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
                    loc,
                    ("content-encoding", "gzip"),
                    (
                        "set-cookie",
                        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
                    ),
                ],
                (3, 215),
            ),
        ];
        for (b, (status, want, table)) in blocks.into_iter().zip(expected) {
            let mut out = Decoded::default();
            d.decode(&hex(b), true, &mut out).unwrap();
            assert_eq!(out.status, status);
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            assert_eq!(headers(&out), want, "{status}");
            assert_eq!((d.entry_count(), d.size()), table, "{status}");
        }
    }

    #[test]
    fn status_is_read_without_keeping_headers_and_the_table_stays_in_sync() {
        // nginx's shape: :status 200 indexed, server with incremental indexing (name 54),
        // content-length never indexed; then a block that refers to the inserted entry.
        let mut d = Decoder::default();
        let mut out = Decoded::default();
        let mut block = vec![0x88, 0x76, 0x05];
        block.extend_from_slice(b"nginx");
        block.extend_from_slice(&[0x1f, 0x0d, 0x02]); // never indexed, name 28
        block.extend_from_slice(b"17");
        d.decode(&block, false, &mut out).unwrap();
        assert_eq!(
            (out.status, out.headers.len(), d.entry_count()),
            (200, 0, 1)
        );
        let mut out = Decoded::default();
        d.decode(&[0x8d, 0xbe], true, &mut out).unwrap();
        assert_eq!(out.status, 404);
        assert_eq!(headers(&out), [("server".into(), "nginx".into())]);
    }

    #[test]
    fn many_inserts_keep_the_arena_small_and_entries_right() {
        let mut d = Decoder::new(100);
        for i in 0..1000u32 {
            let v = format!("value-{i}");
            let mut block = vec![0x40, 0x01, b'x', v.len() as u8];
            block.extend_from_slice(v.as_bytes());
            block.push(0xbe); // refer to it at once
            let mut out = Decoded::default();
            d.decode(&block, true, &mut out).unwrap();
            let all: Vec<_> = out.headers.get_all("x").iter().collect();
            assert_eq!(all, [v.as_str(), v.as_str()]);
        }
        assert!(
            d.size() <= 100 && d.entry_count() == 2,
            "{} {}",
            d.size(),
            d.entry_count()
        );
        assert!(d.arena.len() < 4096, "{}", d.arena.len());
    }

    #[test]
    fn malformed_blocks_are_errors() {
        let cases: [(&[u8], &str); 5] = [
            (&[0x80], "index 0"),
            (&[0xbe], "index beyond the dynamic table"),
            (&[0x40, 0x05, b'a'], "truncated string"),
            (
                &[0x88, 0x3f, 0xe1, 0x1f],
                "invalid dynamic table size update",
            ),
            (&[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff], "integer too large"),
        ];
        for (block, says) in cases {
            let err = Decoder::default()
                .decode(block, false, &mut Decoded::default())
                .unwrap_err();
            assert_eq!(err.0, says, "{block:?}");
        }
        // A size update first is fine, and shrinking to 0 empties the table.
        let mut d = Decoder::default();
        d.decode(
            &[0x40, 0x01, b'a', 0x01, b'b'],
            false,
            &mut Decoded::default(),
        )
        .unwrap();
        assert_eq!(d.entry_count(), 1);
        d.decode(&[0x20, 0x88], false, &mut Decoded::default())
            .unwrap();
        assert_eq!(d.entry_count(), 0);
    }

    /// The cache of Huffman decodings gives what decoding gives, on coded strings drawn from
    /// a hot few (hits), from a larger pool (misses, evictions: four slots), of the same
    /// length differing only in their last bytes, at its 64-byte limit and past it, empty,
    /// and random bytes (mostly invalid codes, never cached).
    #[test]
    fn cached_huffman_decodings_equal_decoding() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let code = |plain: &[u8]| {
            let mut coded = Vec::new();
            huffman::encode(plain, &mut coded);
            coded
        };
        const ASCII: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 :;,-/=GMT";
        let mut pool: Vec<Vec<u8>> = (0..16)
            .map(|i| {
                let len = if i < 4 { 5 + next() % 36 } else { next() % 90 } as usize;
                let plain: Vec<u8> = (0..len)
                    .map(|_| match i % 3 {
                        2 => next() as u8,
                        _ => ASCII[(next() % ASCII.len() as u64) as usize],
                    })
                    .collect();
                code(&plain)
            })
            .collect();
        // nginx's date: the same length every second, the codes differing only near the end.
        for (i, sec) in [(0, 1), (1, 2), (4, 3), (5, 4)] {
            pool[i] = code(format!("Sun, 06 Dec 2026 20:04:0{sec} GMT").as_bytes());
        }
        // '0' is a 5-bit code: 102 of them fill 64 bytes, 103 take 65.
        let (at, past) = (code(&[b'0'; 102]), code(&[b'0'; 103]));
        assert_eq!((at.len(), past.len()), (CACHE_MAX, CACHE_MAX + 1));
        pool.extend([at, past, Vec::new()]);
        let mut cache = HuffCache::default();
        let (mut oks, mut errs) = (0, 0);
        for round in 0..20_000u32 {
            let coded = match next() % 8 {
                0 => (0..next() % 70).map(|_| next() as u8).collect(),
                1..=3 => pool[(next() % 4) as usize].clone(),
                _ => pool[(next() % pool.len() as u64) as usize].clone(),
            };
            // Appended after what is already in the buffer, as in the arena.
            let prefix = vec![round as u8; round as usize % 3];
            let (mut cached, mut plain) = (prefix.clone(), prefix);
            let (a, b) = (
                cache.decode(&coded, &mut cached),
                huffman::decode(&coded, &mut plain),
            );
            assert_eq!(a.is_ok(), b.is_ok(), "{coded:?}");
            if a.is_ok() {
                assert_eq!(cached, plain, "{coded:?}");
                oks += 1;
            } else {
                errs += 1;
            }
        }
        // Hits, and misses (the decodings the cache did not give) among the decodings.
        assert!(
            cache.hits > 5_000 && oks - cache.hits > 2_000 && errs > 500,
            "hits {}, misses {}, invalid {errs}",
            cache.hits,
            oks - cache.hits
        );
    }
}
