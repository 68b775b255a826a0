//! The buffer a review's body is read into and a conversion's answer written to. From
//! [`MAPPED_FROM`] bytes on it is an anonymous memory map of its own, so that dropping it gives the memory
//! straight back to the operating system. In: bytes appended; out: the bytes, as a slice or as [`Bytes`]
//! for a response body.
//!
//! Why not a `Vec`: glibc's `malloc` maps a large block on its own, but when one is freed it raises its
//! threshold to that block's size (up to 32 MiB), so the next blocks of that size come from its arenas,
//! which give memory back only from their top. Measured (`benches/webhook_memory.rs`, release builds, eight
//! 3.3 MiB conversion reviews at once after one): the process stayed 50 MiB above its idle size with `Vec`s,
//! 3 MiB with these. Blocks over 32 MiB are always mapped, which is why 32.5 MiB reviews gave memory back
//! either way.

use std::io;

use bytes::Bytes;
use memmap2::MmapMut;

/// From this capacity on a buffer is a memory map of its own: glibc's own threshold before it moves
/// (128 KiB).
pub(super) const MAPPED_FROM: usize = 128 * 1024;

/// Bytes appended at the end, in the heap when small, in a memory map of their own when large.
#[derive(Debug)]
pub(super) struct ReviewBuffer {
    storage: Storage,
    len: usize,
}

#[derive(Debug)]
enum Storage {
    Heap(Vec<u8>),
    Mapped(MmapMut),
}

impl ReviewBuffer {
    /// An empty buffer with room for `capacity` bytes. A mapped buffer's untouched pages cost no memory, so a
    /// generous capacity is free.
    pub(super) fn with_capacity(capacity: usize) -> ReviewBuffer {
        ReviewBuffer {
            storage: storage(capacity),
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn as_slice(&self) -> &[u8] {
        match &self.storage {
            Storage::Heap(vec) => vec,
            Storage::Mapped(map) => &map[..self.len],
        }
    }

    pub(super) fn extend_from_slice(&mut self, data: &[u8]) {
        let needed = self.len + data.len();
        if needed > self.capacity() {
            self.grow(needed);
        }
        match &mut self.storage {
            Storage::Heap(vec) => vec.extend_from_slice(data),
            Storage::Mapped(map) => map[self.len..needed].copy_from_slice(data),
        }
        self.len = needed;
    }

    /// The bytes, without a copy.
    pub(super) fn into_bytes(self) -> Bytes {
        match self.storage {
            Storage::Heap(vec) => Bytes::from(vec),
            Storage::Mapped(map) => Bytes::from_owner(Filled { map, len: self.len }),
        }
    }

    fn capacity(&self) -> usize {
        match &self.storage {
            Storage::Heap(vec) => vec.capacity(),
            Storage::Mapped(map) => map.len(),
        }
    }

    fn grow(&mut self, needed: usize) {
        let capacity = needed.max(self.capacity().saturating_mul(2));
        match &mut self.storage {
            Storage::Heap(vec) if capacity < MAPPED_FROM => vec.reserve(capacity - vec.len()),
            _ => {
                let mut grown = storage(capacity);
                match &mut grown {
                    Storage::Heap(vec) => vec.extend_from_slice(self.as_slice()),
                    Storage::Mapped(map) => map[..self.len].copy_from_slice(self.as_slice()),
                }
                self.storage = grown;
            }
        }
    }
}

/// A map of `capacity` bytes from [`MAPPED_FROM`] on (the heap when the system refuses one).
fn storage(capacity: usize) -> Storage {
    if capacity >= MAPPED_FROM {
        match MmapMut::map_anon(capacity) {
            Ok(map) => return Storage::Mapped(map),
            Err(error) => {
                tracing::debug!(%error, capacity, "no memory map for a review buffer; using the heap")
            }
        }
    }
    Storage::Heap(Vec::with_capacity(capacity))
}

impl io::Write for ReviewBuffer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The written part of a map, owned by a [`Bytes`].
struct Filled {
    map: MmapMut,
    len: usize,
}

impl AsRef<[u8]> for Filled {
    fn as_ref(&self) -> &[u8] {
        &self.map[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn small_buffers_are_in_the_heap_and_large_ones_mapped() {
        assert!(matches!(
            ReviewBuffer::with_capacity(1024).storage,
            Storage::Heap(_)
        ));
        assert!(matches!(
            ReviewBuffer::with_capacity(MAPPED_FROM).storage,
            Storage::Mapped(_)
        ));
    }

    #[test]
    fn bytes_written_past_the_capacity_are_kept_in_order_heap_or_mapped() {
        let mut buffer = ReviewBuffer::with_capacity(10);
        let mut expected = Vec::new();
        for round in 0..40_000u32 {
            let line = format!("{round},");
            write!(buffer, "{line}").expect("write");
            expected.extend_from_slice(line.as_bytes());
        }
        assert!(expected.len() > MAPPED_FROM);
        assert!(matches!(buffer.storage, Storage::Mapped(_)));
        assert_eq!(buffer.len(), expected.len());
        assert_eq!(buffer.as_slice(), expected.as_slice());
        assert_eq!(buffer.into_bytes(), Bytes::from(expected));
    }

    #[test]
    fn a_mapped_buffer_grows_and_keeps_what_it_had() {
        let mut buffer = ReviewBuffer::with_capacity(MAPPED_FROM);
        buffer.extend_from_slice(&vec![1u8; MAPPED_FROM - 1]);
        buffer.extend_from_slice(&[2u8; 10]);
        assert_eq!(buffer.len(), MAPPED_FROM + 9);
        assert_eq!(buffer.as_slice()[MAPPED_FROM - 2..MAPPED_FROM + 1], [1, 2, 2]);
    }
}
