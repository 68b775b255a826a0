//! Resolution of each question through the CNAME chain in the answer section to its final
//! addresses, kept in fixed-capacity storage (offsets into the message) so that decoding never
//! allocates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::dns::message::{RecordKind, Sections};
use crate::dns::name;

/// Resolved addresses kept per message; further ones are counted in
/// [`DnsResponse::dropped_answers`](crate::DnsResponse::dropped_answers).
pub const MAX_ANSWERS: usize = 16;
/// How many CNAMEs are followed from one question name.
pub const MAX_CNAME_CHAIN: usize = 8;

/// One address a question resolved to: the index of the question and where the address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    /// Offset of the RDATA of the A or AAAA record.
    data: u16,
    question: u8,
    ipv6: bool,
    ttl: u32,
}

impl Answer {
    pub fn question(&self) -> usize {
        usize::from(self.question)
    }

    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// The address, read from the (already checked) record data.
    pub fn addr(&self, message: &[u8]) -> IpAddr {
        let at = usize::from(self.data);
        if self.ipv6 {
            let octets = message
                .get(at..at + 16)
                .and_then(|s| <[u8; 16]>::try_from(s).ok())
                .unwrap_or_default();
            IpAddr::V6(Ipv6Addr::from(octets))
        } else {
            let octets = message
                .get(at..at + 4)
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
                .unwrap_or_default();
            IpAddr::V4(Ipv4Addr::from(octets))
        }
    }
}

/// Up to [`MAX_ANSWERS`] resolved addresses, and how many did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answers {
    items: [Answer; MAX_ANSWERS],
    len: usize,
    dropped: u32,
}

impl Answers {
    pub fn as_slice(&self) -> &[Answer] {
        self.items.get(..self.len).unwrap_or_default()
    }

    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    fn push(&mut self, answer: Answer) {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = answer;
                self.len += 1;
            }
            None => self.dropped = self.dropped.saturating_add(1),
        }
    }
}

/// For each question, follows CNAMEs whose owner is the current name (at most
/// [`MAX_CNAME_CHAIN`]), then collects the A and AAAA records owned by the final name. The TTL of an
/// answer is the smallest along its chain: the resolution is only valid that long.
pub(crate) fn resolve(message: &[u8], sections: &Sections) -> Answers {
    let mut answers = Answers {
        items: [Answer {
            data: 0,
            question: 0,
            ipv6: false,
            ttl: 0,
        }; MAX_ANSWERS],
        len: 0,
        dropped: sections.dropped_addresses,
    };
    let records = sections.records.get(..sections.record_count).unwrap_or_default();
    let questions = sections
        .questions
        .get(..sections.question_count)
        .unwrap_or_default();
    for (index, &question) in (0u8..).zip(questions) {
        let mut current = usize::from(question);
        let mut chain_ttl = u32::MAX;
        for _ in 0..MAX_CNAME_CHAIN {
            let next = records.iter().find(|record| {
                record.kind == RecordKind::Cname
                    && name::same_name(message, usize::from(record.owner), current)
            });
            let Some(cname) = next else { break };
            current = usize::from(cname.data);
            chain_ttl = chain_ttl.min(cname.ttl);
        }
        for record in records {
            if record.kind != RecordKind::Cname
                && name::same_name(message, usize::from(record.owner), current)
            {
                answers.push(Answer {
                    data: record.data,
                    question: index,
                    ipv6: record.kind == RecordKind::Aaaa,
                    ttl: chain_ttl.min(record.ttl),
                });
            }
        }
    }
    answers
}
