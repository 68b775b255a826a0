//! What one decoded frame tells the sniffer: a DNS response, a TCP connection attempt, an HTTP request
//! line, or a reason to skip it.

use std::net::IpAddr;

use crate::dns::DnsResponse;
use crate::error::DecodeError;
use crate::http::RequestLine;

/// The result of decoding one well-formed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation<'a> {
    /// A successful DNS response (QR=1, opcode QUERY, RCODE NOERROR) with at least one address.
    Dns(DnsResponse<'a>),
    /// A TCP connection attempt: SYN without ACK.
    TcpSyn(TcpSyn),
    /// An HTTP/1.x request line at the start of a TCP segment.
    HttpRequest(HttpRequest<'a>),
    /// Well-formed, but nothing the sniffer records.
    Skip(Skip),
}

/// An HTTP/1.x request line and the endpoints of the segment that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HttpRequest<'a> {
    pub client: IpAddr,
    pub client_port: u16,
    pub server: IpAddr,
    pub server_port: u16,
    pub line: RequestLine<'a>,
}

/// A TCP connection attempt (SYN set; ACK, RST and FIN clear).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpSyn {
    pub src: IpAddr,
    pub src_port: u16,
    pub dst: IpAddr,
    pub dst_port: u16,
}

/// The transport a DNS response came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    /// DNS over TCP.
    Tcp,
}

/// Why a well-formed frame produced no observation. [`Skip::category`] is a stable metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// The link layer carries something other than IPv4 or IPv6 (ARP, LLDP, 802.3 lengths, ...).
    NotIp { ethertype: u16 },
    /// More than two VLAN tags.
    TooManyVlanTags,
    /// An IPv4 or IPv6 fragment other than the first: it has no transport header.
    NonFirstFragment,
    /// A first fragment of a UDP datagram: the DNS message is incomplete.
    IncompleteFragment,
    /// An IP protocol other than UDP and TCP (ICMP, ESP, no next header, ...).
    OtherIpProtocol { protocol: u8 },
    /// UDP not from port 53.
    UdpNotDns,
    /// TCP that is neither a connection attempt, nor a DNS response from port 53, nor a segment
    /// beginning like an HTTP request line.
    TcpNotSyn,
    /// A TCP segment that begins with a recognised HTTP method and a space but holds no request line
    /// this decoder reads (another target form, another version, bytes a path cannot hold, ...).
    NotHttpRequest,
    /// DNS over TCP whose message does not start and end in this segment (for [`crate::decode`], which
    /// keeps no stream state).
    IncompleteTcpDns,
    /// A DNS query (QR=0).
    DnsQuery,
    /// A DNS response with an opcode other than QUERY.
    DnsOpcode { opcode: u8 },
    /// A DNS response with an RCODE other than NOERROR (NXDOMAIN, SERVFAIL, ...).
    DnsRcode { rcode: u8 },
    /// A successful DNS response with no A/AAAA address for any question.
    DnsNoAddresses,
}

impl Skip {
    /// A stable, low-cardinality name for the reason, usable as a metric label.
    pub fn category(&self) -> &'static str {
        match self {
            Skip::NotIp { .. } => "not_ip",
            Skip::TooManyVlanTags => "too_many_vlan_tags",
            Skip::NonFirstFragment => "non_first_fragment",
            Skip::IncompleteFragment => "incomplete_fragment",
            Skip::OtherIpProtocol { .. } => "other_ip_protocol",
            Skip::UdpNotDns => "udp_not_dns",
            Skip::TcpNotSyn => "tcp_not_syn",
            Skip::NotHttpRequest => "not_http_request",
            Skip::IncompleteTcpDns => "incomplete_tcp_dns",
            Skip::DnsQuery => "dns_query",
            Skip::DnsOpcode { .. } => "dns_opcode",
            Skip::DnsRcode { .. } => "dns_rcode",
            Skip::DnsNoAddresses => "dns_no_addresses",
        }
    }
}

/// Why decoding stopped early, inside the crate: `?` carries both skips and errors up to
/// [`crate::decode`], which splits them again.
#[derive(Debug)]
pub(crate) enum Stop {
    Skip(Skip),
    Error(DecodeError),
}

impl From<DecodeError> for Stop {
    fn from(e: DecodeError) -> Self {
        Stop::Error(e)
    }
}

impl From<Skip> for Stop {
    fn from(s: Skip) -> Self {
        Stop::Skip(s)
    }
}
