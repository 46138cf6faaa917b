//! HTTP/2 frames on the wire (RFC 9113 §4, §6): the 9-byte frame header, the frames a client
//! writes, and padding. Pure byte work, no state: [`super::conn`] decides what to send.

/// What a client sends first (RFC 9113 §3.4), before its SETTINGS.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub const HEAD_LEN: usize = 9;

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

pub const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
pub const SETTINGS_ENABLE_PUSH: u16 = 0x2;
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
pub const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;
pub const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// Error codes (RFC 9113 §7) the client sends or names.
pub const NO_ERROR: u32 = 0x0;
pub const PROTOCOL_ERROR: u32 = 0x1;
pub const FLOW_CONTROL_ERROR: u32 = 0x3;
pub const FRAME_SIZE_ERROR: u32 = 0x6;
pub const REFUSED_STREAM: u32 = 0x7;
pub const CANCEL: u32 = 0x8;
pub const COMPRESSION_ERROR: u32 = 0x9;

/// The default and smallest SETTINGS_MAX_FRAME_SIZE; also what this client accepts.
pub const DEFAULT_MAX_FRAME: u32 = 16_384;
/// The largest flow-control window (2^31 - 1).
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub len: usize,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl Head {
    /// The header at the start of `b` (at least [`HEAD_LEN`] bytes).
    pub fn parse(b: &[u8]) -> Self {
        Self {
            len: (b[0] as usize) << 16 | (b[1] as usize) << 8 | b[2] as usize,
            kind: b[3],
            flags: b[4],
            // The reserved bit is ignored on receipt.
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & MAX_WINDOW,
        }
    }
}

pub fn head(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
}

pub fn settings(out: &mut Vec<u8>, values: &[(u16, u32)]) {
    head(out, values.len() * 6, SETTINGS, 0, 0);
    for (id, v) in values {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub fn settings_ack(out: &mut Vec<u8>) {
    head(out, 0, SETTINGS, ACK, 0);
}

pub fn window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    head(out, 4, WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&increment.to_be_bytes());
}

pub fn ping_ack(out: &mut Vec<u8>, payload: &[u8]) {
    head(out, 8, PING, ACK, 0);
    out.extend_from_slice(payload);
}

pub fn rst_stream(out: &mut Vec<u8>, stream: u32, code: u32) {
    head(out, 4, RST_STREAM, 0, stream);
    out.extend_from_slice(&code.to_be_bytes());
}

pub fn goaway(out: &mut Vec<u8>, last_stream: u32, code: u32) {
    head(out, 8, GOAWAY, 0, 0);
    out.extend_from_slice(&last_stream.to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
}

/// A header block split into HEADERS and as many CONTINUATION frames as `max_frame` needs.
pub fn headers(out: &mut Vec<u8>, stream: u32, block: &[u8], end_stream: bool, max_frame: usize) {
    let mut chunks = block.chunks(max_frame.max(1));
    let first = chunks.next().unwrap_or(&[]);
    let single = block.len() <= max_frame;
    let flags = if end_stream { END_STREAM } else { 0 } | if single { END_HEADERS } else { 0 };
    head(out, first.len(), HEADERS, flags, stream);
    out.extend_from_slice(first);
    let mut rest = chunks.peekable();
    while let Some(c) = rest.next() {
        let last = rest.peek().is_none();
        head(
            out,
            c.len(),
            CONTINUATION,
            if last { END_HEADERS } else { 0 },
            stream,
        );
        out.extend_from_slice(c);
    }
}

/// A payload without its padding (PADDED flag: a length byte first, that many bytes last);
/// `None` when the padding is longer than the payload (a PROTOCOL_ERROR).
pub fn unpad(flags: u8, payload: &[u8]) -> Option<&[u8]> {
    if flags & PADDED == 0 {
        return Some(payload);
    }
    let (&pad, rest) = payload.split_first()?;
    rest.len().checked_sub(pad as usize).map(|n| &rest[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_heads_round_trip_and_ignore_the_reserved_bit() {
        let mut out = Vec::new();
        head(&mut out, 0x01_02_03, HEADERS, END_HEADERS, 7);
        assert_eq!(out, [1, 2, 3, 1, 4, 0, 0, 0, 7]);
        out[5] |= 0x80;
        let h = Head::parse(&out);
        assert_eq!(
            (h.len, h.kind, h.flags, h.stream),
            (0x01_02_03, HEADERS, END_HEADERS, 7)
        );
    }

    #[test]
    fn a_long_header_block_is_split_into_continuations() {
        let mut out = Vec::new();
        headers(&mut out, 3, &[7u8; 10], true, 4);
        // HEADERS(4, END_STREAM) CONTINUATION(4) CONTINUATION(2, END_HEADERS)
        let a = Head::parse(&out);
        assert_eq!((a.len, a.kind, a.flags), (4, HEADERS, END_STREAM));
        let b = Head::parse(&out[13..]);
        assert_eq!((b.len, b.kind, b.flags), (4, CONTINUATION, 0));
        let c = Head::parse(&out[26..]);
        assert_eq!(
            (c.len, c.kind, c.flags, c.stream),
            (2, CONTINUATION, END_HEADERS, 3)
        );
        assert_eq!(out.len(), 3 * 9 + 10);
        let mut one = Vec::new();
        headers(&mut one, 1, b"abc", false, 16_384);
        assert_eq!(Head::parse(&one).flags, END_HEADERS);
    }

    #[test]
    fn padding_is_stripped_and_checked() {
        assert_eq!(unpad(0, b"abc"), Some(&b"abc"[..]));
        assert_eq!(unpad(PADDED, b"\x02abcXY"), Some(&b"abc"[..]));
        assert_eq!(unpad(PADDED, b"\x00"), Some(&b""[..]));
        assert_eq!(unpad(PADDED, b"\x05ab"), None);
        assert_eq!(unpad(PADDED, b""), None);
    }
}
