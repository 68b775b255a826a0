//! Why a frame could not be decoded. Every variant is malformed or truncated input; frames that are
//! well formed but not of interest are a [`crate::Skip`], not an error.

use std::fmt;

/// The protocol layer a length or offset belonged to when it failed a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Ethernet II or a Linux cooked-capture header.
    Link,
    /// An 802.1Q / 802.1ad tag.
    Vlan,
    /// The IPv4 header.
    Ipv4,
    /// The IPv6 fixed header.
    Ipv6,
    /// An IPv6 extension header.
    Ipv6Extension,
    /// The UDP header.
    Udp,
    /// The TCP header.
    Tcp,
    /// The DNS message (header, names, records).
    Dns,
}

impl Layer {
    /// A stable lower-case name, usable as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Link => "link",
            Layer::Vlan => "vlan",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Ipv6Extension => "ipv6_extension",
            Layer::Udp => "udp",
            Layer::Tcp => "tcp",
            Layer::Dns => "dns",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Malformed or truncated input. [`DecodeError::category`] is a stable metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A header, field or record extends past the end of the captured bytes (or of the length the
    /// enclosing header declares).
    #[error("{layer} truncated: needs {needed} bytes, {available} available")]
    Truncated {
        layer: Layer,
        needed: usize,
        available: usize,
    },
    /// The IP version nibble does not match the header it is in (or is neither 4 nor 6 for raw IP).
    #[error("IP version {version} where {expected} was expected")]
    BadIpVersion { version: u8, expected: &'static str },
    /// IPv4 IHL below 5 words.
    #[error("IPv4 header length of {ihl} words is below the minimum of 5")]
    BadIpv4HeaderLength { ihl: u8 },
    /// TCP data offset below 5 words.
    #[error("TCP data offset of {offset} words is below the minimum of 5")]
    BadTcpDataOffset { offset: u8 },
    /// A length field smaller than the header that carries it (IPv4 total length, UDP length).
    #[error("{layer} length field {length} is shorter than its own header")]
    BadLength { layer: Layer, length: usize },
    /// More IPv6 extension headers than the decoder walks.
    #[error("more than {max} IPv6 extension headers")]
    TooManyExtensionHeaders { max: usize },
    /// A DNS label whose two top bits are 01 or 10 (extended / reserved label types).
    #[error("DNS label type {length_byte:#04x} at offset {offset} is not supported")]
    BadDnsLabelType { offset: usize, length_byte: u8 },
    /// A DNS label containing a byte outside printable ASCII (or a dot).
    #[error("DNS label at offset {offset} contains byte {byte:#04x}")]
    BadDnsNameCharacter { offset: usize, byte: u8 },
    /// A DNS name longer than 255 bytes in wire format once decompressed.
    #[error("DNS name at offset {offset} is longer than 255 bytes")]
    DnsNameTooLong { offset: usize },
    /// A compression pointer that does not point strictly backwards.
    #[error("DNS compression pointer at offset {offset} points forward to {target}")]
    DnsForwardPointer { offset: usize, target: usize },
    /// A compression pointer to itself, or a chain of more pointers than any real name needs.
    #[error("DNS compression pointer loop at offset {offset}")]
    DnsPointerLoop { offset: usize },
    /// An A, AAAA or CNAME record whose RDLENGTH does not fit its type.
    #[error("DNS record of type {rtype} at offset {offset} has RDLENGTH {rdlength}")]
    BadDnsRecordLength {
        offset: usize,
        rtype: u16,
        rdlength: usize,
    },
}

impl DecodeError {
    /// A stable, low-cardinality name for the kind of failure, usable as a metric label.
    pub fn category(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::BadIpVersion { .. } => "bad_ip_version",
            DecodeError::BadIpv4HeaderLength { .. } => "bad_header_length",
            DecodeError::BadTcpDataOffset { .. } => "bad_header_length",
            DecodeError::BadLength { .. } => "bad_length",
            DecodeError::TooManyExtensionHeaders { .. } => "too_many_extension_headers",
            DecodeError::BadDnsLabelType { .. } => "bad_dns_name",
            DecodeError::BadDnsNameCharacter { .. } => "bad_dns_name",
            DecodeError::DnsNameTooLong { .. } => "dns_name_too_long",
            DecodeError::DnsForwardPointer { .. } => "dns_forward_pointer",
            DecodeError::DnsPointerLoop { .. } => "dns_pointer_loop",
            DecodeError::BadDnsRecordLength { .. } => "bad_dns_record",
        }
    }

    /// The layer the failure was found in.
    pub fn layer(&self) -> Layer {
        match self {
            DecodeError::Truncated { layer, .. } | DecodeError::BadLength { layer, .. } => *layer,
            DecodeError::BadIpVersion { .. } => Layer::Link,
            DecodeError::BadIpv4HeaderLength { .. } => Layer::Ipv4,
            DecodeError::TooManyExtensionHeaders { .. } => Layer::Ipv6Extension,
            DecodeError::BadTcpDataOffset { .. } => Layer::Tcp,
            DecodeError::BadDnsLabelType { .. }
            | DecodeError::BadDnsNameCharacter { .. }
            | DecodeError::DnsNameTooLong { .. }
            | DecodeError::DnsForwardPointer { .. }
            | DecodeError::DnsPointerLoop { .. }
            | DecodeError::BadDnsRecordLength { .. } => Layer::Dns,
        }
    }
}
