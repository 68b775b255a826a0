//! Sans-I/O packet decoding for the Holt sniffer. In: one captured frame (`&[u8]`) and the
//! [`LinkType`] of the capture handle (Ethernet II with up to two VLAN tags, Linux cooked capture v1
//! or v2, or raw IP). Out: an [`Observation`] — a [`DnsResponse`] (a successful A/AAAA answer from
//! port 53 over UDP or TCP, each question name resolved through its CNAME chain to addresses with
//! TTLs), a [`TcpSyn`] (a connection attempt), or a [`Skip`] reason for well-formed frames of no
//! interest — or a [`DecodeError`] for malformed and truncated input. An [`HttpRequest`] is the method and
//! path of an HTTP/1.x request line at the start of a TCP segment ([`http`]: the request line only;
//! headers, bodies and query strings are never read). Both carry a `category()` for
//! metric labels.
//!
//! Decoding does no I/O, never panics, and never allocates: the DNS response borrows the message
//! from the frame, names are decoded on demand into a caller's `[u8; 255]` ([`DnsName::write_to`]),
//! and addresses are read from the message when [`DnsResponse::answers`] is walked, so a response has
//! no limit on them. Every length, count
//! and offset read from the wire is checked before use.
//!
//! Choices worth knowing: a connection attempt is SYN with ACK, RST and FIN clear (ECN bits allowed,
//! unlike the reference's `tcp[tcpflags] == tcp-syn`); [`decode`] reads DNS over TCP only when a
//! segment starts with a whole length-prefixed message (the stateless view: [`envelope`] hands out
//! every segment with its sequence number, for callers that reassemble streams); an answer's TTL is the smallest along its CNAME chain;
//! DNS labels must be printable ASCII without dots (anything else is `bad_dns_name`), so the dotted
//! form is unambiguous; the authority and additional sections are never read; the TC bit gets no
//! special treatment (a response cut mid-record is `truncated`).
//!
//! [`envelope`] and [`DnsMessage::decode`] are [`decode`] in two stages (headers, then the DNS
//! message), for callers that look at a DNS message before paying for its decoding.

mod dns;
mod error;
pub mod http;
mod ip;
mod link;
mod observation;
mod transport;
mod wire;

pub use dns::{
    DnsName, DnsResponse, Labels, MAX_CNAME_CHAIN, MAX_CNAMES, MAX_NAME_LEN, MAX_POINTERS, MAX_QUESTIONS,
    ResolvedAddress,
};
pub use error::{DecodeError, Layer};
pub use http::{MAX_PATH_LEN, Method, PathEnd, RequestLine};
pub use ip::MAX_IPV6_EXTENSION_HEADERS;
pub use link::LinkType;
pub use observation::{HttpRequest, Observation, Skip, TcpSyn, Transport};
pub use transport::DNS_PORT;

use observation::Stop;
use transport::Segment;

/// Decodes one captured frame whose link-layer header is `link`.
///
/// Returns `Ok(Observation::Skip(_))` for well-formed frames the sniffer does not record, and
/// `Err` only for malformed or truncated input.
#[inline]
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Observation<'_>, DecodeError> {
    match envelope(link, frame)? {
        Envelope::Dns(message) => message.decode(),
        Envelope::DnsTcp(segment) => match segment.first_whole_message() {
            Some(message) => message.decode(),
            None => Ok(Observation::Skip(Skip::IncompleteTcpDns)),
        },
        Envelope::Syn(syn) => Ok(Observation::TcpSyn(syn)),
        Envelope::Request(segment) => Ok(match segment.decode() {
            Some(request) => Observation::HttpRequest(request),
            None => Observation::Skip(Skip::NotHttpRequest),
        }),
        Envelope::Skip(skip) => Ok(Observation::Skip(skip)),
    }
}

/// The first stage of [`decode`], for callers that want to look at a DNS message before decoding
/// it (the sniffer skips messages it has already recorded) or to reassemble DNS over TCP: reads the
/// link, IP and transport headers only. A UDP datagram from port 53 comes back undecoded as
/// [`Envelope::Dns`], a TCP segment with data from port 53 as [`Envelope::DnsTcp`]; a SYN or a skip is
/// as final as [`decode`] would make it.
#[inline]
pub fn envelope(link: LinkType, frame: &[u8]) -> Result<Envelope<'_>, DecodeError> {
    let located = link::network(link, frame)
        .and_then(ip::packet)
        .and_then(|ip| Ok((transport::segment(&ip)?, ip)));
    match located {
        Ok((Segment::Syn(syn), _)) => Ok(Envelope::Syn(syn)),
        Ok((
            Segment::DnsUdp {
                src_port,
                dst_port,
                message,
            },
            ip,
        )) => Ok(Envelope::Dns(DnsMessage {
            server: ip.src,
            server_port: src_port,
            client: ip.dst,
            client_port: dst_port,
            transport: Transport::Udp,
            message,
        })),
        Ok((
            Segment::DnsTcp {
                src_port,
                dst_port,
                seq,
                payload,
            },
            ip,
        )) => Ok(Envelope::DnsTcp(DnsSegment {
            server: ip.src,
            server_port: src_port,
            client: ip.dst,
            client_port: dst_port,
            seq,
            payload,
        })),
        Ok((
            Segment::Request {
                src_port,
                dst_port,
                payload,
            },
            ip,
        )) => Ok(Envelope::Request(RequestSegment {
            client: ip.src,
            client_port: src_port,
            server: ip.dst,
            server_port: dst_port,
            payload,
        })),
        Err(Stop::Skip(skip)) => Ok(Envelope::Skip(skip)),
        Err(Stop::Error(error)) => Err(error),
    }
}

/// What [`envelope`] found in a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope<'a> {
    /// A DNS message in a UDP datagram from port 53, not decoded yet.
    Dns(DnsMessage<'a>),
    /// A TCP segment with data from port 53: part of a stream of length-prefixed DNS messages.
    DnsTcp(DnsSegment<'a>),
    /// A TCP connection attempt.
    Syn(TcpSyn),
    /// A TCP segment (not from port 53) whose payload begins like an HTTP/1.x request line.
    Request(RequestSegment<'a>),
    /// Well-formed, but nothing to record.
    Skip(Skip),
}

/// A DNS message located by [`envelope`], with the endpoints of the segment it came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsMessage<'a> {
    /// The destination of the response: the client that asked.
    pub client: std::net::IpAddr,
    pub client_port: u16,
    /// The source of the response: the DNS server.
    pub server: std::net::IpAddr,
    pub server_port: u16,
    pub transport: Transport,
    /// The message bytes, without the TCP length prefix.
    pub message: &'a [u8],
}

impl<'a> DnsMessage<'a> {
    /// The second stage of [`decode`]: decodes the message.
    pub fn decode(self) -> Result<Observation<'a>, DecodeError> {
        match dns::response(self) {
            Ok(response) => Ok(Observation::Dns(response)),
            Err(Stop::Skip(skip)) => Ok(Observation::Skip(skip)),
            Err(Stop::Error(error)) => Err(error),
        }
    }
}

/// A TCP segment with data from port 53, located by [`envelope`]: DNS over TCP is a stream of
/// messages, each behind a two-byte length, that segments cut anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsSegment<'a> {
    /// The destination: the client that asked.
    pub client: std::net::IpAddr,
    pub client_port: u16,
    /// The source: the DNS server.
    pub server: std::net::IpAddr,
    pub server_port: u16,
    /// The sequence number of the first payload byte.
    pub seq: u32,
    /// The TCP payload.
    pub payload: &'a [u8],
}

impl<'a> DnsSegment<'a> {
    /// The first message, when the segment starts at a message boundary and holds all of it (what a
    /// stateless reader can decode).
    pub fn first_whole_message(&self) -> Option<DnsMessage<'a>> {
        transport::first_whole_message(self.payload).map(|message| self.message(message))
    }

    /// `message` (reassembled from this stream, without its length prefix) with this segment's
    /// endpoints.
    pub fn message<'m>(&self, message: &'m [u8]) -> DnsMessage<'m> {
        DnsMessage {
            client: self.client,
            client_port: self.client_port,
            server: self.server,
            server_port: self.server_port,
            transport: Transport::Tcp,
            message,
        }
    }
}

/// A TCP segment located by [`envelope`] whose payload begins with a recognised HTTP method and a
/// space: sent by a client to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSegment<'a> {
    pub client: std::net::IpAddr,
    pub client_port: u16,
    pub server: std::net::IpAddr,
    pub server_port: u16,
    /// The TCP payload.
    pub payload: &'a [u8],
}

impl<'a> RequestSegment<'a> {
    /// The request line at the start of the payload ([`http::request_line`]).
    pub fn decode(&self) -> Option<HttpRequest<'a>> {
        http::request_line(self.payload).map(|line| HttpRequest {
            client: self.client,
            client_port: self.client_port,
            server: self.server,
            server_port: self.server_port,
            line,
        })
    }
}
