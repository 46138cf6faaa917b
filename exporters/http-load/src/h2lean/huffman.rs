//! HPACK's static Huffman code (RFC 7541 §5.2, Appendix B).
//!
//! The code is canonical (codes of one length are consecutive, in symbol order, and each
//! length starts where the previous one ended, shifted), so the 257 code lengths of Appendix B
//! define it entirely: the codes and the decoding tables are computed from them at compile
//! time, and a unit test checks the result against the RFC's own examples.
//!
//! Decoding looks up the next 9 bits in a 512-entry table, which resolves every symbol of up
//! to 9 bits (all letters, digits and common punctuation: what header values are made of);
//! longer codes are found by comparing against each length's first code.

/// Code length in bits of each symbol 0..=255 and EOS (256), RFC 7541 Appendix B.
#[rustfmt::skip]
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
    30,
];

const EOS: u16 = 256;
const MAX_LEN: usize = 30;
/// Bits resolved by one lookup in [`SHORT`].
const SHORT_BITS: u32 = 9;

/// The canonical code: each symbol's code, and per length its first code, the code after its
/// last (`limit`) and where its symbols start in `sorted` (symbols by length, then value).
struct Canonical {
    code: [u32; 257],
    first: [u32; MAX_LEN + 1],
    limit: [u32; MAX_LEN + 1],
    offset: [u16; MAX_LEN + 1],
    sorted: [u16; 257],
}

const fn canonical() -> Canonical {
    let mut c = Canonical {
        code: [0; 257],
        first: [0; MAX_LEN + 1],
        limit: [0; MAX_LEN + 1],
        offset: [0; MAX_LEN + 1],
        sorted: [0; 257],
    };
    let mut next: u32 = 0;
    let mut n = 0;
    let mut len = 1;
    while len <= MAX_LEN {
        c.first[len] = next;
        c.offset[len] = n as u16;
        let mut s = 0;
        while s < 257 {
            if LENGTHS[s] as usize == len {
                c.code[s] = next;
                c.sorted[n] = s as u16;
                n += 1;
                next += 1;
            }
            s += 1;
        }
        c.limit[len] = next;
        next <<= 1;
        len += 1;
    }
    c
}

const CODE: Canonical = canonical();

/// Symbol (low 9 bits) and length (above them) of every code of at most [`SHORT_BITS`] bits,
/// by the next 9 input bits; 0 where the code is longer.
const SHORT: [u16; 1 << SHORT_BITS] = {
    let mut t = [0u16; 1 << SHORT_BITS];
    let mut s = 0;
    while s < 257 {
        let len = LENGTHS[s] as u32;
        if len <= SHORT_BITS {
            let lo = (CODE.code[s] << (SHORT_BITS - len)) as usize;
            let hi = ((CODE.code[s] + 1) << (SHORT_BITS - len)) as usize;
            let mut i = lo;
            while i < hi {
                t[i] = ((len as u16) << 9) | s as u16;
                i += 1;
            }
        }
        s += 1;
    }
    t
};

/// A Huffman string that is not valid (RFC 7541 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidHuffman;

/// The symbol whose code starts the 30 bits `w` (left-aligned), and the code's length.
fn long_code(w: u32) -> (u16, u32) {
    let mut len = SHORT_BITS as usize + 1;
    while len <= MAX_LEN {
        let c = w >> (MAX_LEN - len);
        if c < CODE.limit[len] {
            let i = CODE.offset[len] as u32 + (c - CODE.first[len]);
            return (CODE.sorted[i as usize], len as u32);
        }
        len += 1;
    }
    // Every 30-bit string starts with some code: the code is complete.
    (EOS, MAX_LEN as u32)
}

/// Appends the decoding of `src` to `out`.
///
/// Bits are kept left-aligned in a u64 and topped up to at least 30 (the longest code) before
/// each symbol, eight bytes at a time while the input has them; a symbol then costs one table
/// lookup, a shift and a push (~15 instructions: the header values of an nginx response,
/// ~50 symbols, decode in under 1k).
pub fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), InvalidHuffman> {
    // The next bit is the top one; `bits` of them are valid.
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    let mut i = 0;
    // At most one symbol per 5 bits.
    out.reserve(src.len() * 8 / 5 + 1);
    loop {
        if bits < MAX_LEN as u32 {
            if let Some(chunk) = src.get(i..i + 8) {
                // The bits below `bits` are the stream's next ones: those already in `acc`
                // are the same, so OR-ing them in again changes nothing.
                let w = u64::from_be_bytes(chunk.try_into().expect("8 bytes"));
                acc |= w >> bits;
                let take = (63 - bits) / 8;
                i += take as usize;
                bits += take * 8;
            } else {
                while bits <= 56 && i < src.len() {
                    acc |= (src[i] as u64) << (56 - bits);
                    bits += 8;
                    i += 1;
                }
                // Below `bits` only zeros now: the end-of-input check needs them so.
                if bits < 64 {
                    acc &= !(u64::MAX >> bits);
                }
            }
        }
        if bits == 0 {
            return Ok(());
        }
        let (sym, len) = match SHORT[(acc >> (64 - SHORT_BITS)) as usize] {
            0 => {
                let (s, l) = long_code((acc >> (64 - MAX_LEN)) as u32);
                if s == EOS && l <= bits {
                    return Err(InvalidHuffman);
                }
                (s, l)
            }
            e => (e & 0x1ff, (e >> 9) as u32),
        };
        if len > bits {
            // What is left must be padding: fewer than 8 bits, all ones (EOS's first bits).
            let rest = acc >> (64 - bits);
            return if bits < 8 && rest == (1 << bits) - 1 {
                Ok(())
            } else {
                Err(InvalidHuffman)
            };
        }
        out.push(sym as u8);
        acc <<= len;
        bits -= len;
    }
}

/// Length of `src` Huffman-coded, padding included.
pub fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src.iter().map(|&b| LENGTHS[b as usize] as usize).sum();
    bits.div_ceil(8)
}

/// Appends `src` Huffman-coded, padded with ones to a whole byte.
pub fn encode(src: &[u8], out: &mut Vec<u8>) {
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    for &b in src {
        let len = LENGTHS[b as usize] as u32;
        acc = (acc << len) | CODE.code[b as usize] as u64;
        bits += len;
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        let pad = 8 - bits;
        out.push(((acc << pad) | ((1 << pad) - 1)) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 7541 Appendix C.4 and C.6: request and response strings, coded.
    const RFC_EXAMPLES: [(&str, &str); 6] = [
        ("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"),
        ("no-cache", "a8eb10649cbf"),
        ("custom-key", "25a849e95ba97d7f"),
        ("custom-value", "25a849e95bb8e8b4bf"),
        (
            "Mon, 21 Oct 2013 20:13:21 GMT",
            "d07abe941054d444a8200595040b8166e082a62d1bff",
        ),
        (
            "https://www.example.com",
            "9d29ad171863c78f0b97c8e9ae82ae43d3",
        ),
    ];

    #[test]
    fn the_rfc_examples_decode_and_encode() {
        for (text, coded) in RFC_EXAMPLES {
            let mut out = Vec::new();
            decode(&hex(coded), &mut out).unwrap();
            assert_eq!(out, text.as_bytes());
            let mut enc = Vec::new();
            encode(text.as_bytes(), &mut enc);
            assert_eq!(enc, hex(coded), "{text}");
            assert_eq!(encoded_len(text.as_bytes()), enc.len());
        }
        // EOS is 30 ones: the code is complete and canonical up to it.
        assert_eq!((CODE.code[256], LENGTHS[256]), ((1 << 30) - 1, 30));
    }

    #[test]
    fn every_byte_value_round_trips_in_every_position() {
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for start in 0..8 {
            let src = &all[start..];
            let mut enc = Vec::new();
            encode(src, &mut enc);
            let mut out = Vec::new();
            decode(&enc, &mut out).unwrap();
            assert_eq!(out, src);
        }
    }

    #[test]
    fn bad_padding_and_eos_are_errors() {
        // 'a' is 00011 (5 bits): padded with ones is valid, with zeros is not.
        let mut out = Vec::new();
        assert_eq!(decode(&[0b0001_1111], &mut out), Ok(()));
        assert_eq!(out, b"a");
        assert_eq!(decode(&[0b0001_1000], &mut Vec::new()), Err(InvalidHuffman));
        // A whole byte of padding is too much.
        assert_eq!(
            decode(&[0b0001_1111, 0xff], &mut Vec::new()),
            Err(InvalidHuffman)
        );
        // EOS itself inside the string.
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff], &mut Vec::new()),
            Err(InvalidHuffman)
        );
    }
}
