//! DNS names inside a message: validation (label lengths and types, characters, the 255-byte limit,
//! compression pointers that must point strictly backwards, a bound on pointer chains), comparison
//! without decompressing, and [`DnsName`], which writes the dotted lower-case form into a caller's
//! buffer.

use std::fmt;

use crate::error::{DecodeError, Layer};
use crate::wire;

/// The longest name in wire format (length octets included), RFC 1035 §2.3.4. Its dotted form is at
/// most 253 bytes, so a buffer of this size always holds it.
pub const MAX_NAME_LEN: usize = 255;

/// How many compression pointers one name may follow. Real names use one or two; the limit bounds the
/// work a hostile message can cause.
pub const MAX_POINTERS: usize = 16;

/// Whether `byte` may appear in a label: printable ASCII other than the dot, so that the dotted form
/// is unambiguous and always valid UTF-8.
fn label_byte_allowed(byte: u8) -> bool {
    byte.is_ascii_graphic() && byte != b'.'
}

/// Suffixes of names already validated in this message: compressed names point at the same few
/// offsets again and again, so each is walked once. A suffix's validity does not depend on how it is
/// reached; what does (the total length and the number of pointers) is remembered with it.
#[derive(Debug, Default)]
pub(crate) struct Validated {
    entries: [Suffix; 8],
    next: usize,
}

#[derive(Debug, Default, Clone, Copy)]
struct Suffix {
    /// Offset of the suffix; 0 never starts a name (it is the message ID), so 0 means empty.
    offset: usize,
    /// Length octets and labels, without the root label.
    wire_len: usize,
    pointers: usize,
}

impl Validated {
    fn get(&self, offset: usize) -> Option<Suffix> {
        self.entries.iter().find(|s| s.offset == offset).copied()
    }

    fn remember(&mut self, suffix: Suffix) {
        if suffix.offset == 0 || self.get(suffix.offset).is_some() {
            return;
        }
        if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = suffix;
        }
        self.next = (self.next + 1) % self.entries.len();
    }
}

/// Checks the name starting at `start` in `message` and returns the offset just past it where it
/// is written (after its first pointer, if it is compressed).
pub(crate) fn validate(
    message: &[u8],
    start: usize,
    validated: &mut Validated,
) -> Result<usize, DecodeError> {
    let mut pos = start;
    let mut end = None;
    let mut wire_len = 0usize;
    let mut pointers = 0usize;
    // Where the first pointer led, and the length and pointers before it.
    let mut first_jump = None;
    loop {
        let length = wire::u8_at(message, pos, Layer::Dns)?;
        match length & 0xc0 {
            0x00 if length == 0 => break,
            0x00 => {
                let label = wire::slice(message, pos + 1, usize::from(length), Layer::Dns)?;
                // This label, its length octet and the root label that must still follow.
                wire_len += 1 + label.len();
                if wire_len + 1 > MAX_NAME_LEN {
                    return Err(DecodeError::DnsNameTooLong { offset: start });
                }
                if let Some(i) = label.iter().position(|&b| !label_byte_allowed(b)) {
                    return Err(DecodeError::BadDnsNameCharacter {
                        offset: pos,
                        byte: label[i],
                    });
                }
                pos += 1 + label.len();
            }
            0xc0 => {
                let low = wire::u8_at(message, pos + 1, Layer::Dns)?;
                let target = usize::from(length & 0x3f) << 8 | usize::from(low);
                if target == pos {
                    return Err(DecodeError::DnsPointerLoop { offset: pos });
                }
                if target > pos {
                    return Err(DecodeError::DnsForwardPointer { offset: pos, target });
                }
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(DecodeError::DnsPointerLoop { offset: pos });
                }
                end.get_or_insert(pos + 2);
                first_jump.get_or_insert((target, wire_len, pointers));
                if let Some(known) = validated.get(target) {
                    wire_len += known.wire_len;
                    pointers += known.pointers;
                    if wire_len + 1 > MAX_NAME_LEN {
                        return Err(DecodeError::DnsNameTooLong { offset: start });
                    }
                    if pointers > MAX_POINTERS {
                        return Err(DecodeError::DnsPointerLoop { offset: pos });
                    }
                    pos = target;
                    break;
                }
                pos = target;
            }
            _ => {
                return Err(DecodeError::BadDnsLabelType {
                    offset: pos,
                    length_byte: length,
                });
            }
        }
    }
    validated.remember(Suffix {
        offset: start,
        wire_len,
        pointers,
    });
    if let Some((target, before_len, before_pointers)) = first_jump {
        validated.remember(Suffix {
            offset: target,
            wire_len: wire_len - before_len,
            pointers: pointers - before_pointers,
        });
    }
    Ok(end.unwrap_or(pos + 1))
}

/// The offset just past the name written at `start` (after its first pointer, if it is compressed),
/// without following pointers; `None` on a reserved label type or at the end of the message. Meant for
/// names [`validate`] accepted: it does not check them again.
pub(crate) fn skip(message: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    loop {
        let length = *message.get(pos)?;
        match length & 0xc0 {
            0x00 if length == 0 => return Some(pos + 1),
            0x00 => pos += 1 + usize::from(length),
            0xc0 => return Some(pos + 2),
            _ => return None,
        }
    }
}

/// The labels of a name, following compression pointers. Stops early (rather than failing) on
/// anything decoding would reject, so it is safe on any offset.
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    message: &'a [u8],
    pos: usize,
    pointers: usize,
    wire_len: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let length = *self.message.get(self.pos)?;
            match length & 0xc0 {
                0x00 if length == 0 => return None,
                0x00 => {
                    let start = self.pos + 1;
                    let label = self.message.get(start..start + usize::from(length))?;
                    self.wire_len += 1 + label.len();
                    if self.wire_len + 1 > MAX_NAME_LEN {
                        return None;
                    }
                    self.pos = start + label.len();
                    return Some(label);
                }
                0xc0 => {
                    let target = pointer_target(self.message, self.pos)?;
                    self.pointers += 1;
                    if target >= self.pos || self.pointers > MAX_POINTERS {
                        return None;
                    }
                    self.pos = target;
                }
                _ => return None,
            }
        }
    }
}

fn pointer_target(message: &[u8], pos: usize) -> Option<usize> {
    let high = *message.get(pos)?;
    let low = *message.get(pos + 1)?;
    Some(usize::from(high & 0x3f) << 8 | usize::from(low))
}

/// Follows the compression pointers at `pos` (if any) to the next label's length octet.
fn resolve(message: &[u8], mut pos: usize, budget: &mut usize) -> Option<usize> {
    while *message.get(pos)? & 0xc0 == 0xc0 {
        let target = pointer_target(message, pos)?;
        if target >= pos || *budget == 0 {
            return None;
        }
        *budget -= 1;
        pos = target;
    }
    Some(pos)
}

/// Whether the names at offsets `a` and `b` are equal, ignoring ASCII case, without decompressing
/// them. Two names that reach the same offset share their remaining labels, so a compressed name
/// usually compares in one step. Returns false on anything malformed.
pub(crate) fn same_name(message: &[u8], mut a: usize, mut b: usize) -> bool {
    let mut budget_a = MAX_POINTERS;
    let mut budget_b = MAX_POINTERS;
    // Each round consumes one label of at least two bytes from a name of at most 255.
    for _ in 0..MAX_NAME_LEN {
        let (Some(pa), Some(pb)) = (
            resolve(message, a, &mut budget_a),
            resolve(message, b, &mut budget_b),
        ) else {
            return false;
        };
        if pa == pb {
            return true;
        }
        let (Some(&la), Some(&lb)) = (message.get(pa), message.get(pb)) else {
            return false;
        };
        if la != lb || la & 0xc0 != 0 {
            return false;
        }
        if la == 0 {
            return true;
        }
        let len = usize::from(la);
        let (Some(label_a), Some(label_b)) = (
            message.get(pa + 1..pa + 1 + len),
            message.get(pb + 1..pb + 1 + len),
        ) else {
            return false;
        };
        if !label_a.eq_ignore_ascii_case(label_b) {
            return false;
        }
        a = pa + 1 + len;
        b = pb + 1 + len;
    }
    false
}

/// A validated domain name inside a DNS message, borrowed from the packet. It is decoded on demand
/// into the dotted, lower-case form without a trailing dot (`example.com`; the root is the empty
/// string).
#[derive(Clone, Copy)]
pub struct DnsName<'a> {
    message: &'a [u8],
    offset: usize,
}

impl<'a> DnsName<'a> {
    /// A name already checked by [`validate`].
    pub(crate) fn new(message: &'a [u8], offset: usize) -> Self {
        Self { message, offset }
    }

    /// The raw labels, as they appear on the wire (case preserved).
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            message: self.message,
            pos: self.offset,
            pointers: 0,
            wire_len: 0,
        }
    }

    /// Writes the dotted lower-case name into `buf` and returns it. Never allocates.
    pub fn write_to<'b>(&self, buf: &'b mut [u8; MAX_NAME_LEN]) -> &'b str {
        let mut len = 0;
        for label in self.labels() {
            let dot = usize::from(len != 0);
            let Some(out) = buf.get_mut(len..len + dot + label.len()) else {
                break;
            };
            if let Some((first, rest)) = out.split_first_mut().filter(|_| dot == 1) {
                *first = b'.';
                rest.copy_from_slice(label);
                rest.make_ascii_lowercase();
            } else {
                out.copy_from_slice(label);
                out.make_ascii_lowercase();
            }
            len += dot + label.len();
        }
        // Labels were checked to be printable ASCII, so this is always valid UTF-8.
        std::str::from_utf8(buf.get(..len).unwrap_or_default()).unwrap_or_default()
    }

    /// Whether this name equals the dotted `name` (a trailing dot is allowed), ignoring ASCII case.
    pub fn eq_dotted(&self, name: &str) -> bool {
        let mut rest = name.strip_suffix('.').unwrap_or(name).as_bytes();
        let mut labels = self.labels();
        if rest.is_empty() {
            return labels.next().is_none();
        }
        for label in labels.by_ref() {
            let (head, tail) = match rest.iter().position(|&b| b == b'.') {
                Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
                None => (rest, None),
            };
            if !head.eq_ignore_ascii_case(label) {
                return false;
            }
            match tail {
                Some(tail) => rest = tail,
                None => return labels.next().is_none(),
            }
        }
        false
    }

    /// The offset of the name's first byte in the DNS message.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

/// Names are equal when their labels are, ignoring ASCII case (wherever they sit in their messages).
impl PartialEq for DnsName<'_> {
    fn eq(&self, other: &Self) -> bool {
        let mut theirs = other.labels();
        for label in self.labels() {
            match theirs.next() {
                Some(other) if other.eq_ignore_ascii_case(label) => {}
                _ => return false,
            }
        }
        theirs.next().is_none()
    }
}

impl Eq for DnsName<'_> {}

/// The dotted lower-case form. Formatting itself does not allocate; `to_string()` does, for callers
/// off the hot path.
impl fmt::Display for DnsName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; MAX_NAME_LEN];
        f.write_str(self.write_to(&mut buf))
    }
}

impl fmt::Debug for DnsName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DnsName({self})")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A name as the generator writes it: labels, then the root or a pointer to an earlier offset
    /// (anywhere, so also into the middle of labels).
    #[derive(Debug, Clone)]
    struct Spec {
        labels: Vec<u8>,
        /// (point at an earlier name's start rather than anywhere, which one)
        pointer: Option<(bool, prop::sample::Index)>,
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            proptest::collection::vec(prop_oneof![1u8..4, 60u8..64], 0..5),
            proptest::option::weighted(0.8, (any::<bool>(), any::<prop::sample::Index>())),
        )
            .prop_map(|(labels, pointer)| Spec { labels, pointer })
    }

    /// Writes the names after a 12-byte header; returns the message and where each name starts.
    fn write(specs: &[Spec]) -> (Vec<u8>, Vec<usize>) {
        let mut message = vec![0u8; 12];
        let mut starts = Vec::new();
        for spec in specs {
            starts.push(message.len());
            for &len in &spec.labels {
                message.push(len);
                message.extend(std::iter::repeat_n(b'a', usize::from(len)));
            }
            match spec.pointer {
                Some((to_start, index)) if message.len() > 12 => {
                    let target = if to_start && starts.len() > 1 {
                        starts[index.index(starts.len() - 1)]
                    } else {
                        12 + index.index(message.len() - 12)
                    };
                    message.extend_from_slice(&(0xc000 | target as u16).to_be_bytes());
                }
                _ => message.push(0),
            }
        }
        (message, starts)
    }

    proptest! {
        /// Remembering validated suffixes never changes a verdict: each name gets the same result
        /// with the shared memory as with none.
        #[test]
        fn remembered_suffixes_do_not_change_verdicts(specs in proptest::collection::vec(spec(), 1..24)) {
            let (message, starts) = write(&specs);
            let mut shared = Validated::default();
            for &start in &starts {
                // The same end offset, or the same kind of error (a pointer error may name a different
                // pointer of the chain).
                let remembered = validate(&message, start, &mut shared).map_err(|e| e.category());
                let fresh = validate(&message, start, &mut Validated::default());
                prop_assert_eq!(remembered, fresh.map_err(|e| e.category()), "name at {}", start);
                if fresh.is_ok() {
                    let mut buf = [0u8; MAX_NAME_LEN];
                    let name = DnsName::new(&message, start);
                    let text = name.write_to(&mut buf);
                    let expected: usize = name.labels().map(|l| l.len() + 1).sum();
                    prop_assert_eq!(text.len(), expected.saturating_sub(1));
                    prop_assert!(same_name(&message, start, start));
                }
            }
        }
    }

    #[test]
    fn too_long_through_a_remembered_suffix() {
        // Name 1 at 12: three 63-byte labels (192 bytes + root). Name 2: a 63-byte label and a
        // pointer to name 1, 256 + root bytes in all.
        let specs = [
            Spec {
                labels: vec![63, 63, 63],
                pointer: None,
            },
            Spec {
                labels: vec![63],
                pointer: None,
            },
        ];
        let (mut message, starts) = write(&specs);
        let end = message.len() - 1;
        message.truncate(end);
        message.extend_from_slice(&[0xc0, 12]);
        let mut shared = Validated::default();
        assert!(validate(&message, starts[0], &mut shared).is_ok());
        assert_eq!(
            validate(&message, starts[1], &mut shared),
            Err(DecodeError::DnsNameTooLong { offset: starts[1] })
        );
    }

    #[test]
    fn pointer_bound_through_remembered_suffixes() {
        // Name 0 is "a"; name k is a pointer to name k-1, so it follows k pointers.
        let mut message = vec![0u8; 12];
        message.extend_from_slice(&[1, b'a', 0]);
        let mut starts = vec![12usize];
        for _ in 0..MAX_POINTERS + 2 {
            let previous = *starts.last().expect("a name");
            starts.push(message.len());
            message.extend_from_slice(&(0xc000 | previous as u16).to_be_bytes());
        }
        let mut shared = Validated::default();
        for (k, &start) in starts.iter().enumerate() {
            let result = validate(&message, start, &mut shared);
            assert_eq!(result.is_ok(), k <= MAX_POINTERS, "name {k}: {result:?}");
            assert_eq!(
                result.map_err(|e| e.category()),
                validate(&message, start, &mut Validated::default()).map_err(|e| e.category())
            );
        }
    }
}
