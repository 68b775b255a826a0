//! A decoded DNS response: who asked, who answered, and what each question name resolved to. It
//! borrows the message from the packet and holds the answers in fixed-capacity storage.

use std::net::IpAddr;

use crate::dns::answers::Answers;
use crate::dns::message::MAX_QUESTIONS;
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
    pub(crate) questions: [u16; MAX_QUESTIONS],
    pub(crate) question_count: usize,
    pub(crate) answers: Answers,
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
        self.questions
            .get(..self.question_count)
            .unwrap_or_default()
            .iter()
            .map(move |&offset| DnsName::new(message, usize::from(offset)))
    }

    /// Each question's final addresses, through the CNAMEs in the answer section, in question order
    /// and then answer order (at most [`crate::MAX_ANSWERS`]).
    pub fn answers(&self) -> impl ExactSizeIterator<Item = ResolvedAddress<'a>> + '_ {
        let message = self.message;
        let questions = &self.questions;
        self.answers.as_slice().iter().map(move |answer| ResolvedAddress {
            name: DnsName::new(
                message,
                questions
                    .get(answer.question())
                    .map_or(0, |&offset| usize::from(offset)),
            ),
            addr: answer.addr(message),
            ttl: answer.ttl(),
        })
    }

    /// Addresses that were in the message but did not fit in the fixed-capacity storage (more than
    /// [`crate::MAX_ANSWERS`] resolutions or [`crate::MAX_RECORDS`] records). Zero in practice.
    pub fn dropped_answers(&self) -> u32 {
        self.answers.dropped()
    }
}
