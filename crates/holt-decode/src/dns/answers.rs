//! Resolution of each question through the CNAME chain in the answer section to its final
//! addresses, kept in fixed-capacity storage so that decoding never allocates.

use std::net::{IpAddr, Ipv4Addr};

use crate::dns::message::{RecordData, Sections};
use crate::dns::name;

/// Resolved addresses kept per message; further ones are counted in [`Answers::dropped`].
pub const MAX_ANSWERS: usize = 16;
/// How many CNAMEs are followed from one question name.
pub const MAX_CNAME_CHAIN: usize = 8;

/// One address a question resolved to, with the index of the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    pub question: u8,
    pub addr: IpAddr,
    pub ttl: u32,
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
            question: 0,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ttl: 0,
        }; MAX_ANSWERS],
        len: 0,
        dropped: sections.dropped_addresses,
    };
    let records = sections.records.get(..sections.record_count).unwrap_or_default();
    let questions = sections.questions.get(..sections.question_count).unwrap_or_default();
    for (index, &question) in (0u8..).zip(questions) {
        let mut current = question;
        let mut chain_ttl = u32::MAX;
        for _ in 0..MAX_CNAME_CHAIN {
            let next = records.iter().find_map(|record| match record.data {
                RecordData::Cname(target) if name::same_name(message, record.owner, current) => {
                    Some((target, record.ttl))
                }
                _ => None,
            });
            let Some((target, ttl)) = next else { break };
            current = target;
            chain_ttl = chain_ttl.min(ttl);
        }
        for record in records {
            if let RecordData::Address(addr) = record.data
                && name::same_name(message, record.owner, current)
            {
                answers.push(Answer {
                    question: index,
                    addr,
                    ttl: chain_ttl.min(record.ttl),
                });
            }
        }
    }
    answers
}
