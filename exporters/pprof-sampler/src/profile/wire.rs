//! Protocol buffers' wire format, the few primitives the one-pass reader needs: keys,
//! varints, length-delimited fields, skipping what it does not read.
//!
//! The helpers the per-sample loop calls are `#[inline]` so they stay inlinable into
//! the other modules of `profile/` (they sat beside that loop before it was split up).

use super::error::ProfileError;

pub(super) const WIRE_VARINT: u8 = 0;
pub(super) const WIRE_I64: u8 = 1;
pub(super) const WIRE_LEN: u8 = 2;
pub(super) const WIRE_I32: u8 = 5;

#[inline]
pub(super) fn key(buf: &mut &[u8]) -> Result<(u64, u8), ProfileError> {
    let k = varint(buf)?;
    Ok((k >> 3, (k & 7) as u8))
}

#[inline(always)]
pub(super) fn varint(buf: &mut &[u8]) -> Result<u64, ProfileError> {
    // Keys, location ids and small values take one or two bytes.
    let bytes: &[u8] = buf;
    match *bytes {
        [b0, ref rest @ ..] if b0 < 0x80 => {
            *buf = rest;
            Ok(u64::from(b0))
        }
        [b0, b1, ref rest @ ..] if b1 < 0x80 => {
            *buf = rest;
            Ok(u64::from(b0 & 0x7f) | u64::from(b1) << 7)
        }
        _ => varint_long(buf),
    }
}

#[cold]
fn varint_long(buf: &mut &[u8]) -> Result<u64, ProfileError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf
            .split_first()
            .ok_or(ProfileError::Malformed("truncated varint"))?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(ProfileError::Malformed("varint longer than 10 bytes"))
}

#[inline]
fn take<'a>(buf: &mut &'a [u8], n: u64) -> Result<&'a [u8], ProfileError> {
    let n = usize::try_from(n).map_err(|_| ProfileError::Malformed("length"))?;
    if n > buf.len() {
        return Err(ProfileError::Malformed("field longer than its message"));
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

#[inline]
pub(super) fn len_delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], ProfileError> {
    let n = varint(buf)?;
    take(buf, n)
}

/// Skips a field this reader does not use. A field it does use (`known`) with another
/// wire type than the schema's is an error, as it is for prost.
pub(super) fn skip(
    buf: &mut &[u8],
    field: u64,
    wire: u8,
    known: &[u64],
) -> Result<(), ProfileError> {
    if known.contains(&field) {
        return Err(ProfileError::Malformed("unexpected wire type"));
    }
    match wire {
        WIRE_VARINT => varint(buf).map(drop),
        WIRE_I64 => take(buf, 8).map(drop),
        WIRE_LEN => len_delimited(buf).map(drop),
        WIRE_I32 => take(buf, 4).map(drop),
        _ => Err(ProfileError::Malformed("unknown wire type")),
    }
}

/// The varints of a packed repeated field.
pub(super) struct Varints<'a>(pub(super) &'a [u8]);

impl Iterator for Varints<'_> {
    type Item = Result<u64, ProfileError>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        (!self.0.is_empty()).then(|| varint(&mut self.0))
    }
}
