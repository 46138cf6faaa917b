//! One encoded `Sample`, read in place: its values and its location ids. Samples are
//! almost all of a large heap profile's bytes, so they are never decoded into structs.

use super::error::ProfileError;
use super::wire::{WIRE_LEN, WIRE_VARINT, key, len_delimited, skip, varint};

/// Adds one encoded `Sample`'s values (field 2, packed as Go writes them or unpacked as
/// the proto spec also allows) to `sums` and returns value `vi` (0 if it has none), with
/// its location ids (1) when they are one packed field (Go's encoding of more than two).
/// Labels (3) and unknown fields are skipped.
#[inline(always)]
pub(super) fn sample_values<'a>(
    mut buf: &'a [u8],
    sums: &mut [i64],
    vi: usize,
) -> Result<(i64, Option<&'a [u8]>), ProfileError> {
    let mut i = 0;
    let mut v = 0;
    let mut add = |x: u64| {
        let x = x as i64;
        if let Some(sum) = sums.get_mut(i) {
            *sum = sum.wrapping_add(x);
        }
        if i == vi {
            v = x;
        }
        i += 1;
    };
    // Some(empty) until a location field is seen; None once they are not one packed field.
    let mut locations = Some(&buf[..0]);
    while !buf.is_empty() {
        match key(&mut buf)? {
            (1, WIRE_LEN) => {
                let packed = len_delimited(&mut buf)?;
                locations = locations.filter(|l| l.is_empty()).map(|_| packed);
            }
            (2, WIRE_LEN) => {
                let mut packed = len_delimited(&mut buf)?;
                while !packed.is_empty() {
                    add(varint(&mut packed)?);
                }
            }
            (2, WIRE_VARINT) => add(varint(&mut buf)?),
            (1, WIRE_VARINT) => {
                varint(&mut buf)?;
                locations = None;
            }
            (_, WIRE_LEN) => drop(len_delimited(&mut buf)?),
            (f, w) => skip(&mut buf, f, w, &[1, 2])?,
        }
    }
    Ok((v, locations))
}

/// One encoded `Sample`'s location ids into `ids`, leaf first: packed as Go writes more
/// than two, unpacked as it writes one or two.
pub(super) fn sample_locations(mut buf: &[u8], ids: &mut Vec<u64>) -> Result<(), ProfileError> {
    ids.clear();
    while !buf.is_empty() {
        match key(&mut buf)? {
            (1, WIRE_LEN) => {
                let mut packed = len_delimited(&mut buf)?;
                while !packed.is_empty() {
                    ids.push(varint(&mut packed)?);
                }
            }
            (1, WIRE_VARINT) => ids.push(varint(&mut buf)?),
            (f, WIRE_LEN) if f != 2 => drop(len_delimited(&mut buf)?),
            (f, w) => skip(&mut buf, f, w, &[1])?,
        }
    }
    Ok(())
}
