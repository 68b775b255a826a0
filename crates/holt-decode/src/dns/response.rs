//! A decoded DNS response: who asked, who answered, and what each question name resolved to. It
//! borrows the message from the packet; its addresses are read from the message when asked for.

use std::net::IpAddr;

use crate::dns::answers::{AddressWalk, Chain, WalkPosition};
use crate::dns::message::{AnswerSection, MAX_QUESTIONS};
use crate::dns::name::DnsName;
use crate::observation::Transport;

/// A successful response to a standard query with at least one A or AAAA answer for its questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsResponse<'a> {
    /// The resolver's client: the destination of the response.
    pub client: IpAddr,
    pub client_port: u16,
    /// The DNS server: the source of the response.
    pub server: IpAddr,
    pub server_port: u16,
    pub transport: Transport,
    pub(crate) id: u16,
    pub(crate) message: &'a [u8],
    /// Each question (of class IN) with where its CNAME chain ends.
    pub(crate) chains: [Chain; MAX_QUESTIONS],
    pub(crate) question_count: usize,
    pub(crate) answer_section: AnswerSection,
    /// Where the first address record is (decoding found it).
    pub(crate) first_answer: WalkPosition,
}

/// One address a question name resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedAddress<'a> {
    /// The name that was asked for (the start of the CNAME chain, if any).
    pub name: DnsName<'a>,
    pub addr: IpAddr,
    /// Seconds: the smallest TTL along the CNAME chain and the address record.
    pub ttl: u32,
}

impl<'a> DnsResponse<'a> {
    /// The DNS message ID.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The raw DNS message (without the TCP length prefix).
    pub fn message(&self) -> &'a [u8] {
        self.message
    }

    /// The question names of class IN (at most [`crate::MAX_QUESTIONS`]).
    pub fn questions(&self) -> impl ExactSizeIterator<Item = DnsName<'a>> + '_ {
        let message = self.message;
        self.chains()
            .iter()
            .map(move |chain| DnsName::new(message, usize::from(chain.question)))
    }

    /// Each question's final addresses, through the CNAMEs in the answer section, in question order
    /// and then answer order: every A and AAAA record its chain ends at, however many.
    pub fn answers(&self) -> impl Iterator<Item = ResolvedAddress<'a>> + '_ {
        let message = self.message;
        let chains = self.chains();
        AddressWalk::new(message, chains, self.answer_section, self.first_answer).map(
            move |(chain, addr, ttl)| ResolvedAddress {
                name: DnsName::new(message, chains.get(chain).map_or(0, |c| usize::from(c.question))),
                addr,
                ttl,
            },
        )
    }

    fn chains(&self) -> &[Chain] {
        self.chains.get(..self.question_count).unwrap_or_default()
    }
}
