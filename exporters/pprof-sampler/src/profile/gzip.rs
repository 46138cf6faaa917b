//! Gunzipping a profile as `/debug/pprof/heap` serves it, bounded by [`MAX_DECODED_BYTES`].

use std::io::Read;

use super::error::{MAX_DECODED_BYTES, ProfileError};

/// The first bytes of a gzip member: a body that starts with them is gunzipped first,
/// anything else is read as plain protobuf (pprof accepts both, so we do too).
pub(super) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Gunzips `gz` into `out` (cleared first), sized up front from the gzip trailer. Reading
/// stops past [`MAX_DECODED_BYTES`].
pub fn gunzip(gz: &[u8], out: &mut Vec<u8>) -> Result<(), ProfileError> {
    out.clear();
    // ISIZE, the member's decompressed size mod 2^32, ends the file. It only sizes the
    // buffer (one allocation instead of doublings and copies), so a wrong one costs
    // nothing but memory, and that is bounded by the limit and by deflate's 1032:1.
    if let Some(trailer) = gz.len().checked_sub(4).and_then(|i| gz.get(i..)) {
        let isize = u32::from_le_bytes(trailer.try_into().expect("4 bytes")) as usize;
        out.reserve(
            isize
                .min(MAX_DECODED_BYTES as usize)
                .min(gz.len().saturating_mul(1032)),
        );
    }
    // bufread: inflates straight from the slice, without a copy through a BufReader.
    flate2::bufread::GzDecoder::new(gz)
        .take(MAX_DECODED_BYTES + 1)
        .read_to_end(out)
        .map_err(ProfileError::Gzip)?;
    if out.len() as u64 > MAX_DECODED_BYTES {
        return Err(ProfileError::TooLarge);
    }
    Ok(())
}
