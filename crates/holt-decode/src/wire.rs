//! Bounds-checked big-endian reads: the only way the decoder touches packet bytes, so every offset
//! taken from the wire is checked before use.

use crate::error::{DecodeError, Layer};

fn truncated(layer: Layer, needed: usize, available: usize) -> DecodeError {
    DecodeError::Truncated {
        layer,
        needed,
        available,
    }
}

/// `bytes[at..at + len]`, or `Truncated` (also when `at + len` overflows).
pub(crate) fn slice(bytes: &[u8], at: usize, len: usize, layer: Layer) -> Result<&[u8], DecodeError> {
    let end = at
        .checked_add(len)
        .ok_or(truncated(layer, usize::MAX, bytes.len()))?;
    bytes.get(at..end).ok_or(truncated(layer, end, bytes.len()))
}

/// `bytes[at..]`, or `Truncated` when `at` is past the end.
pub(crate) fn rest(bytes: &[u8], at: usize, layer: Layer) -> Result<&[u8], DecodeError> {
    bytes.get(at..).ok_or(truncated(layer, at, bytes.len()))
}

/// A fixed-size array at `at`.
pub(crate) fn array<const N: usize>(bytes: &[u8], at: usize, layer: Layer) -> Result<[u8; N], DecodeError> {
    let s = slice(bytes, at, N, layer)?;
    let mut out = [0u8; N];
    out.copy_from_slice(s);
    Ok(out)
}

pub(crate) fn u8_at(bytes: &[u8], at: usize, layer: Layer) -> Result<u8, DecodeError> {
    bytes
        .get(at)
        .copied()
        .ok_or(truncated(layer, at.saturating_add(1), bytes.len()))
}

pub(crate) fn u16_at(bytes: &[u8], at: usize, layer: Layer) -> Result<u16, DecodeError> {
    array::<2>(bytes, at, layer).map(u16::from_be_bytes)
}

pub(crate) fn u32_at(bytes: &[u8], at: usize, layer: Layer) -> Result<u32, DecodeError> {
    array::<4>(bytes, at, layer).map(u32::from_be_bytes)
}
