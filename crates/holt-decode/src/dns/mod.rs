//! DNS responses: names, the message sections, and the resolution of questions to addresses.

mod answers;
mod message;
mod name;
mod response;

pub use answers::{MAX_ANSWERS, MAX_CNAME_CHAIN};
pub use message::{MAX_QUESTIONS, MAX_RECORDS};
pub use name::{DnsName, Labels, MAX_NAME_LEN, MAX_POINTERS};
pub use response::{DnsResponse, ResolvedAddress};

use crate::DnsMessage;
use crate::observation::{Skip, Stop};

/// Decodes a DNS message located by [`crate::envelope`].
pub(crate) fn response(located: DnsMessage<'_>) -> Result<DnsResponse<'_>, Stop> {
    let message = located.message;
    let sections = message::sections(message)?;
    let answers = answers::resolve(message, &sections);
    if answers.as_slice().is_empty() && answers.dropped() == 0 {
        return Err(Skip::DnsNoAddresses.into());
    }
    Ok(DnsResponse {
        client: located.client,
        client_port: located.client_port,
        server: located.server,
        server_port: located.server_port,
        transport: located.transport,
        id: sections.id,
        message,
        questions: sections.questions,
        question_count: sections.question_count,
        answers,
    })
}
