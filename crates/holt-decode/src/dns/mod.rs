//! DNS responses: names, the message sections, and the resolution of questions to addresses.

mod answers;
mod message;
mod name;
mod response;

pub use answers::{MAX_ANSWERS, MAX_CNAME_CHAIN};
pub use message::{MAX_QUESTIONS, MAX_RECORDS};
pub use name::{DnsName, Labels, MAX_NAME_LEN, MAX_POINTERS};
pub use response::{DnsResponse, ResolvedAddress};

use std::net::IpAddr;

use crate::observation::{Skip, Stop, Transport};

/// The endpoints of the segment a DNS message came in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoints {
    pub server: IpAddr,
    pub server_port: u16,
    pub client: IpAddr,
    pub client_port: u16,
    pub transport: Transport,
}

/// Decodes a DNS message sent from `endpoints.server` to `endpoints.client`.
pub(crate) fn response(message: &[u8], endpoints: Endpoints) -> Result<DnsResponse<'_>, Stop> {
    let sections = message::sections(message)?;
    let answers = answers::resolve(message, &sections);
    if answers.as_slice().is_empty() && answers.dropped() == 0 {
        return Err(Skip::DnsNoAddresses.into());
    }
    Ok(DnsResponse {
        client: endpoints.client,
        client_port: endpoints.client_port,
        server: endpoints.server,
        server_port: endpoints.server_port,
        transport: endpoints.transport,
        id: sections.id,
        message,
        questions: sections.questions,
        question_count: sections.question_count,
        answers,
    })
}
