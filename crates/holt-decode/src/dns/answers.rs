//! Resolution of each question through the CNAME chain in the answer section to its final
//! addresses. The chains are followed once, at decoding, over the message's remembered CNAMEs; the
//! addresses are read from the message when asked for ([`AddressWalk`]), so a response holds any
//! number of them without storage of its own.

use std::net::IpAddr;

use crate::dns::message::{AnswerSection, MAX_QUESTIONS, RecordHeader, Sections};
use crate::dns::name;

/// How many CNAMEs are followed from one question name.
pub const MAX_CNAME_CHAIN: usize = 8;

/// One question, the name its CNAME chain ends at, and the smallest TTL along the chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Chain {
    pub question: u16,
    pub end: u16,
    pub ttl: u32,
}

/// For each question, follows CNAMEs whose owner is the current name (at most [`MAX_CNAME_CHAIN`]).
pub(crate) fn chains(message: &[u8], sections: &Sections) -> [Chain; MAX_QUESTIONS] {
    let mut chains = [Chain::default(); MAX_QUESTIONS];
    let cnames = sections.cnames.get(..sections.cname_count).unwrap_or_default();
    let questions = sections.questions.iter().take(sections.question_count);
    for (chain, &question) in chains.iter_mut().zip(questions) {
        let (mut end, mut ttl) = (question, u32::MAX);
        for _ in 0..MAX_CNAME_CHAIN {
            let next = cnames
                .iter()
                .find(|cname| name::same_name(message, usize::from(cname.owner), usize::from(end)));
            let Some(cname) = next else { break };
            end = cname.target;
            ttl = ttl.min(cname.ttl);
        }
        *chain = Chain { question, end, ttl };
    }
    chains
}

/// The A and AAAA records of the answer section owned by the end of each chain, in chain order and
/// then answer order, with the index of their chain and their TTL (the smallest of the record's and
/// the chain's: the resolution is only valid that long). Stops early, never fails, on a message the
/// decoder did not validate.
#[derive(Debug, Clone)]
pub(crate) struct AddressWalk<'a> {
    message: &'a [u8],
    chains: &'a [Chain],
    section: AnswerSection,
    at: WalkPosition,
    /// Where the record last yielded starts.
    last: WalkPosition,
}

/// A place in an [`AddressWalk`]: the chain, the next record's offset, and the records left after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WalkPosition {
    chain: usize,
    pos: usize,
    left: u16,
}

impl WalkPosition {
    /// The start of the walk over `section`.
    pub fn start(section: AnswerSection) -> Self {
        Self {
            chain: 0,
            pos: usize::from(section.start),
            left: section.count,
        }
    }
}

impl<'a> AddressWalk<'a> {
    /// A walk from `at` (from [`WalkPosition::start`], or [`AddressWalk::last_start`] of an earlier walk over
    /// the same message and chains).
    pub fn new(message: &'a [u8], chains: &'a [Chain], section: AnswerSection, at: WalkPosition) -> Self {
        Self {
            message,
            chains,
            section,
            at,
            last: at,
        }
    }

    /// Where the record last yielded starts: a walk from there yields it again, and then the rest.
    pub fn last_start(&self) -> WalkPosition {
        self.last
    }
}

impl Iterator for AddressWalk<'_> {
    type Item = (usize, IpAddr, u32);

    fn next(&mut self) -> Option<Self::Item> {
        // Each round reads one record or moves to the next chain.
        loop {
            let at = self.at;
            let chain = self.chains.get(at.chain)?;
            if at.left == 0 {
                self.at = WalkPosition {
                    chain: at.chain + 1,
                    ..WalkPosition::start(self.section)
                };
                continue;
            }
            self.at.left -= 1;
            let record = name::skip(self.message, at.pos)
                .and_then(|fixed| RecordHeader::read(self.message, fixed).ok());
            let Some(record) = record else {
                self.at.left = 0;
                continue;
            };
            self.at.pos = record.end();
            if let Some(addr) = record.address(self.message)
                && name::same_name(self.message, at.pos, usize::from(chain.end))
            {
                self.last = at;
                return Some((at.chain, addr, chain.ttl.min(record.ttl())));
            }
        }
    }
}
