//! Sans-I/O packet decoding for the Holt sniffer. In: one captured frame (`&[u8]`) and the
//! [`LinkType`] of the capture handle (Ethernet II with up to two VLAN tags, Linux cooked capture v1
//! or v2, or raw IP). Out: an [`Observation`] — a [`DnsResponse`] (a successful A/AAAA answer from
//! port 53 over UDP or TCP, each question name resolved through its CNAME chain to addresses with
//! TTLs), a [`TcpSyn`] (a connection attempt), or a [`Skip`] reason for well-formed frames of no
//! interest — or a [`DecodeError`] for malformed and truncated input. Both carry a `category()` for
//! metric labels.
//!
//! Decoding does no I/O, never panics, and never allocates: the DNS response borrows the message
//! from the frame, names are decoded on demand into a caller's `[u8; 255]` ([`DnsName::write_to`]),
//! and answers live in fixed-capacity storage with a count of what did not fit. Every length, count
//! and offset read from the wire is checked before use.
//!
//! Choices worth knowing: a connection attempt is SYN with ACK, RST and FIN clear (ECN bits allowed,
//! unlike the reference's `tcp[tcpflags] == tcp-syn`); DNS over TCP is decoded only when the whole
//! length-prefixed message is in one segment; an answer's TTL is the smallest along its CNAME chain;
//! DNS labels must be printable ASCII without dots (anything else is `bad_dns_name`), so the dotted
//! form is unambiguous; the authority and additional sections are never read; the TC bit gets no
//! special treatment (a response cut mid-record is `truncated`).

mod dns;
mod error;
mod ip;
mod link;
mod observation;
mod transport;
mod wire;

pub use dns::{
    DnsName, DnsResponse, Labels, MAX_ANSWERS, MAX_CNAME_CHAIN, MAX_NAME_LEN, MAX_POINTERS, MAX_QUESTIONS,
    MAX_RECORDS, ResolvedAddress,
};
pub use error::{DecodeError, Layer};
pub use ip::MAX_IPV6_EXTENSION_HEADERS;
pub use link::LinkType;
pub use observation::{Observation, Skip, TcpSyn, Transport};
pub use transport::DNS_PORT;

use observation::Stop;
use transport::Segment;

/// Decodes one captured frame whose link-layer header is `link`.
///
/// Returns `Ok(Observation::Skip(_))` for well-formed frames the sniffer does not record, and
/// `Err` only for malformed or truncated input.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Observation<'_>, DecodeError> {
    match observe(link, frame) {
        Ok(observation) => Ok(observation),
        Err(Stop::Skip(skip)) => Ok(Observation::Skip(skip)),
        Err(Stop::Error(error)) => Err(error),
    }
}

/// Finds the DNS message a frame carries without decoding it: the response's destination (the
/// client) and the message bytes (without a TCP length prefix). `None` for anything [`decode`] would
/// not read as a DNS message from port 53 (SYNs, skips and malformed headers alike). It reads only
/// the link, IP and transport headers, so a caller can recognise a message it has already recorded
/// and skip decoding it again.
pub fn dns_message(link: LinkType, frame: &[u8]) -> Option<(std::net::IpAddr, &[u8])> {
    let network = link::network(link, frame).ok()?;
    let ip = ip::packet(network).ok()?;
    match transport::segment(&ip).ok()? {
        Segment::Dns { message, .. } => Some((ip.dst, message)),
        Segment::Syn(_) => None,
    }
}

fn observe(link: LinkType, frame: &[u8]) -> Result<Observation<'_>, Stop> {
    let network = link::network(link, frame)?;
    let ip = ip::packet(network)?;
    match transport::segment(&ip)? {
        Segment::Syn(syn) => Ok(Observation::TcpSyn(syn)),
        Segment::Dns {
            src_port,
            dst_port,
            transport,
            message,
        } => {
            let endpoints = dns::Endpoints {
                server: ip.src,
                server_port: src_port,
                client: ip.dst,
                client_port: dst_port,
                transport,
            };
            dns::response(message, endpoints).map(Observation::Dns)
        }
    }
}
