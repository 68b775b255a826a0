//! DNS responses: names, the message sections, and the resolution of questions to addresses.

mod answers;
mod message;
mod name;
mod response;

pub use answers::MAX_CNAME_CHAIN;
pub use message::{MAX_CNAMES, MAX_QUESTIONS};
pub use name::{DnsName, Labels, MAX_NAME_LEN, MAX_POINTERS};
pub use response::{DnsResponse, ResolvedAddress};

use crate::DnsMessage;
use crate::dns::answers::{AddressWalk, WalkPosition};
use crate::observation::{Skip, Stop};

/// Decodes a DNS message located by [`crate::envelope`].
pub(crate) fn response(located: DnsMessage<'_>) -> Result<DnsResponse<'_>, Stop> {
    let message = located.message;
    let sections = message::sections(message)?;
    let chains = answers::chains(message, &sections);
    let active = chains.get(..sections.question_count).unwrap_or_default();
    // The first address, found now to tell a response with none; the walk resumes there.
    let mut walk = AddressWalk::new(
        message,
        active,
        sections.answers,
        WalkPosition::start(sections.answers),
    );
    if walk.next().is_none() {
        return Err(Skip::DnsNoAddresses.into());
    }
    let first_answer = walk.last_start();
    Ok(DnsResponse {
        client: located.client,
        client_port: located.client_port,
        server: located.server,
        server_port: located.server_port,
        transport: located.transport,
        id: sections.id,
        message,
        chains,
        question_count: sections.question_count,
        answer_section: sections.answers,
        first_answer,
    })
}
