//! The DNS message: the header checks that decide whether a message is a successful query response,
//! then one pass over the question and answer sections that validates every name and record length
//! and remembers where the questions, the answer section and the CNAME answers are. Authority and
//! additional sections are not read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::dns::name;
use crate::error::{DecodeError, Layer};
use crate::observation::{Skip, Stop};
use crate::wire;

/// Questions remembered per message (QDCOUNT is 1 in practice); further questions are validated
/// but not resolved.
pub const MAX_QUESTIONS: usize = 4;
/// CNAME records remembered per message, for following chains; further ones are validated but not
/// followed. Address records are not stored: they are read from the message when asked for.
pub const MAX_CNAMES: usize = 16;

const HEADER_LEN: usize = 12;
const FLAG_QR: u16 = 0x8000;
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// A CNAME record, as offsets into the message (which is at most 64 KiB).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cname {
    pub owner: u16,
    pub target: u16,
    pub ttl: u32,
}

/// The sections of a response, as offsets into the message.
#[derive(Debug)]
pub(crate) struct Sections {
    pub id: u16,
    pub questions: [u16; MAX_QUESTIONS],
    pub question_count: usize,
    /// Where the answer section starts, and its record count.
    pub answers: AnswerSection,
    pub cnames: [Cname; MAX_CNAMES],
    pub cname_count: usize,
}

/// The answer section of a validated message: where it starts and how many records it holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AnswerSection {
    pub start: u16,
    pub count: u16,
}

/// The fixed part of a resource record, after its owner name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordHeader {
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: usize,
    rdlength: usize,
}

impl RecordHeader {
    /// Reads the fields at `fixed` (just past the owner name) and checks that the RDATA is there.
    pub fn read(message: &[u8], fixed: usize) -> Result<Self, DecodeError> {
        let rdlength = usize::from(wire::u16_at(message, fixed + 8, Layer::Dns)?);
        let rdata = fixed + 10;
        wire::slice(message, rdata, rdlength, Layer::Dns)?;
        Ok(Self {
            rtype: wire::u16_at(message, fixed, Layer::Dns)?,
            class: wire::u16_at(message, fixed + 2, Layer::Dns)?,
            ttl: wire::u32_at(message, fixed + 4, Layer::Dns)?,
            rdata,
            rdlength,
        })
    }

    /// The offset just past the record.
    pub fn end(&self) -> usize {
        self.rdata + self.rdlength
    }

    /// Seconds; RFC 2181 §8: a TTL with the top bit set is treated as zero.
    pub fn ttl(&self) -> u32 {
        if self.ttl > i32::MAX as u32 { 0 } else { self.ttl }
    }

    /// Class IN (the top bit of CLASS is mDNS's cache-flush flag).
    fn is_internet(&self) -> bool {
        self.class & 0x7fff == CLASS_IN
    }

    /// The address of an IN A or AAAA record of the right length.
    pub fn address(&self, message: &[u8]) -> Option<IpAddr> {
        if !self.is_internet() {
            return None;
        }
        let data = message.get(self.rdata..self.end())?;
        match self.rtype {
            TYPE_A => <[u8; 4]>::try_from(data)
                .ok()
                .map(|o| IpAddr::V4(Ipv4Addr::from(o))),
            TYPE_AAAA => <[u8; 16]>::try_from(data)
                .ok()
                .map(|o| IpAddr::V6(Ipv6Addr::from(o))),
            _ => None,
        }
    }
}

/// An offset inside a message that was checked to be at most `u16::MAX` bytes long.
fn offset(pos: usize) -> Result<u16, DecodeError> {
    u16::try_from(pos).map_err(|_| DecodeError::BadLength {
        layer: Layer::Dns,
        length: pos,
    })
}

/// Parses a DNS message that should be a successful response to a standard query: validates every
/// name and record of the question and answer sections, remembers the questions and CNAMEs.
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
        answers: AnswerSection::default(),
        cnames: [Cname::default(); MAX_CNAMES],
        cname_count: 0,
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
    sections.answers = AnswerSection {
        start: offset(pos)?,
        count: ancount,
    };
    for _ in 0..ancount {
        let owner = pos;
        let record = RecordHeader::read(message, name::validate(message, owner, &mut validated)?)?;
        pos = record.end();
        if !record.is_internet() {
            continue;
        }
        let bad_length = DecodeError::BadDnsRecordLength {
            offset: owner,
            rtype: record.rtype,
            rdlength: record.rdlength,
        };
        match record.rtype {
            TYPE_A | TYPE_AAAA if record.address(message).is_some() => {}
            TYPE_A | TYPE_AAAA => return Err(bad_length.into()),
            TYPE_CNAME => {
                if name::validate(message, record.rdata, &mut validated)? > pos {
                    return Err(bad_length.into());
                }
                if let Some(slot) = sections.cnames.get_mut(sections.cname_count) {
                    *slot = Cname {
                        owner: offset(owner)?,
                        target: offset(record.rdata)?,
                        ttl: record.ttl(),
                    };
                    sections.cname_count += 1;
                }
            }
            _ => {}
        }
    }
    Ok(sections)
}
