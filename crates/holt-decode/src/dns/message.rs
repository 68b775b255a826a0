//! The DNS message: the header checks that decide whether a message is a successful query response,
//! then one pass over the question and answer sections that validates every name and record length
//! and remembers where the questions and the A, AAAA and CNAME answers are. Authority and additional
//! sections are not read.

use crate::dns::name;
use crate::error::{DecodeError, Layer};
use crate::observation::{Skip, Stop};
use crate::wire;

/// Questions remembered per message (QDCOUNT is 1 in practice); further questions are validated
/// but not resolved.
pub const MAX_QUESTIONS: usize = 4;
/// A, AAAA and CNAME answer records remembered per message; further ones are validated, and the
/// addresses among them counted as dropped.
pub const MAX_RECORDS: usize = 32;

const HEADER_LEN: usize = 12;
const FLAG_QR: u16 = 0x8000;
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// One answer record of interest, as offsets into the message (which is at most 64 KiB).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record {
    /// Offset of the owner name.
    pub owner: u16,
    /// Offset of the RDATA: the address, or the canonical name.
    pub data: u16,
    pub kind: RecordKind,
    pub ttl: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordKind {
    A,
    Aaaa,
    Cname,
}

/// The sections of a response, as offsets into the message.
#[derive(Debug)]
pub(crate) struct Sections {
    pub id: u16,
    pub questions: [u16; MAX_QUESTIONS],
    pub question_count: usize,
    pub records: [Record; MAX_RECORDS],
    pub record_count: usize,
    /// Address records that did not fit in `records`.
    pub dropped_addresses: u32,
}

/// An offset inside a message that was checked to be at most `u16::MAX` bytes long.
fn offset(pos: usize) -> Result<u16, DecodeError> {
    u16::try_from(pos).map_err(|_| DecodeError::BadLength {
        layer: Layer::Dns,
        length: pos,
    })
}

/// Parses a DNS message that should be a successful response to a standard query.
pub(crate) fn sections(message: &[u8]) -> Result<Sections, Stop> {
    if message.len() > usize::from(u16::MAX) {
        return Err(DecodeError::BadLength {
            layer: Layer::Dns,
            length: message.len(),
        }
        .into());
    }
    let header = wire::slice(message, 0, HEADER_LEN, Layer::Dns)?;
    let id = wire::u16_at(header, 0, Layer::Dns)?;
    let flags = wire::u16_at(header, 2, Layer::Dns)?;
    if flags & FLAG_QR == 0 {
        return Err(Skip::DnsQuery.into());
    }
    // Only the low four bits of the opcode field exist; the cast keeps them.
    let opcode = ((flags >> 11) & 0x0f) as u8;
    if opcode != 0 {
        return Err(Skip::DnsOpcode { opcode }.into());
    }
    let rcode = (flags & 0x0f) as u8;
    if rcode != 0 {
        return Err(Skip::DnsRcode { rcode }.into());
    }
    let qdcount = wire::u16_at(header, 4, Layer::Dns)?;
    let ancount = wire::u16_at(header, 6, Layer::Dns)?;

    let mut sections = Sections {
        id,
        questions: [0; MAX_QUESTIONS],
        question_count: 0,
        records: [Record {
            owner: 0,
            data: 0,
            kind: RecordKind::Cname,
            ttl: 0,
        }; MAX_RECORDS],
        record_count: 0,
        dropped_addresses: 0,
    };

    // Each question takes at least 5 bytes and each record at least 11, so these loops are bounded
    // by the message length whatever the counts say.
    let mut validated = name::Validated::default();
    let mut pos = HEADER_LEN;
    for _ in 0..qdcount {
        let name_end = name::validate(message, pos, &mut validated)?;
        let qclass = wire::u16_at(message, name_end + 2, Layer::Dns)?;
        // The top bit of QCLASS is mDNS's unicast-response flag.
        if qclass & 0x7fff == CLASS_IN
            && let Some(slot) = sections.questions.get_mut(sections.question_count)
        {
            *slot = offset(pos)?;
            sections.question_count += 1;
        }
        pos = name_end + 4;
    }
    for _ in 0..ancount {
        let owner = pos;
        let fixed = name::validate(message, owner, &mut validated)?;
        let rtype = wire::u16_at(message, fixed, Layer::Dns)?;
        let class = wire::u16_at(message, fixed + 2, Layer::Dns)?;
        let ttl = wire::u32_at(message, fixed + 4, Layer::Dns)?;
        let rdlength = usize::from(wire::u16_at(message, fixed + 8, Layer::Dns)?);
        let rdata_start = fixed + 10;
        wire::slice(message, rdata_start, rdlength, Layer::Dns)?;
        pos = rdata_start + rdlength;
        // The top bit of CLASS is mDNS's cache-flush flag.
        if class & 0x7fff != CLASS_IN {
            continue;
        }
        let bad_length = DecodeError::BadDnsRecordLength {
            offset: owner,
            rtype,
            rdlength,
        };
        let kind = match rtype {
            TYPE_A if rdlength == 4 => RecordKind::A,
            TYPE_AAAA if rdlength == 16 => RecordKind::Aaaa,
            TYPE_A | TYPE_AAAA => return Err(bad_length.into()),
            TYPE_CNAME => {
                if name::validate(message, rdata_start, &mut validated)? > pos {
                    return Err(bad_length.into());
                }
                RecordKind::Cname
            }
            _ => continue,
        };
        // RFC 2181 §8: a TTL with the top bit set is treated as zero.
        let ttl = if ttl > i32::MAX as u32 { 0 } else { ttl };
        match sections.records.get_mut(sections.record_count) {
            Some(slot) => {
                *slot = Record {
                    owner: offset(owner)?,
                    data: offset(rdata_start)?,
                    kind,
                    ttl,
                };
                sections.record_count += 1;
            }
            None => {
                if kind != RecordKind::Cname {
                    sections.dropped_addresses += 1;
                }
            }
        }
    }
    Ok(sections)
}
