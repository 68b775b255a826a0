//! IPv4 and IPv6: addresses, the transport protocol and its payload, trimmed to the length the IP
//! header declares (so Ethernet padding never reaches the transport layer).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{DecodeError, Layer};
use crate::link::Network;
use crate::observation::{Skip, Stop};
use crate::wire;

/// How many IPv6 extension headers are walked before giving up.
pub const MAX_IPV6_EXTENSION_HEADERS: usize = 8;

const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_DESTINATION_OPTIONS: u8 = 60;

/// An IP packet reduced to what the transport layer needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The transport protocol number (after IPv6 extension headers).
    pub protocol: u8,
    pub payload: &'a [u8],
    /// This is the first fragment of a fragmented datagram: the payload is incomplete.
    pub more_fragments: bool,
}

pub(crate) fn packet(network: Network<'_>) -> Result<IpPacket<'_>, Stop> {
    match network {
        Network::Ipv4(bytes) => ipv4(bytes),
        Network::Ipv6(bytes) => ipv6(bytes),
    }
}

fn ipv4(bytes: &[u8]) -> Result<IpPacket<'_>, Stop> {
    let first = wire::u8_at(bytes, 0, Layer::Ipv4)?;
    let version = first >> 4;
    if version != 4 {
        return Err(DecodeError::BadIpVersion {
            version,
            expected: "4",
        }
        .into());
    }
    let ihl = first & 0x0f;
    if ihl < 5 {
        return Err(DecodeError::BadIpv4HeaderLength { ihl }.into());
    }
    let header_len = usize::from(ihl) * 4;
    // Options (if any) are skipped, but must have been captured.
    wire::slice(bytes, 0, header_len, Layer::Ipv4)?;
    let total_len = usize::from(wire::u16_at(bytes, 2, Layer::Ipv4)?);
    // Total length 0 is what Linux shows for TSO super-packets captured before segmentation: the
    // captured bytes are the packet.
    let packet = if total_len == 0 {
        bytes
    } else if total_len < header_len {
        return Err(DecodeError::BadLength {
            layer: Layer::Ipv4,
            length: total_len,
        }
        .into());
    } else {
        wire::slice(bytes, 0, total_len, Layer::Ipv4)?
    };
    let fragment = wire::u16_at(bytes, 6, Layer::Ipv4)?;
    if fragment & 0x1fff != 0 {
        return Err(Skip::NonFirstFragment.into());
    }
    let protocol = wire::u8_at(bytes, 9, Layer::Ipv4)?;
    let src = Ipv4Addr::from(wire::array::<4>(bytes, 12, Layer::Ipv4)?);
    let dst = Ipv4Addr::from(wire::array::<4>(bytes, 16, Layer::Ipv4)?);
    Ok(IpPacket {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        protocol,
        payload: wire::rest(packet, header_len, Layer::Ipv4)?,
        more_fragments: fragment & 0x2000 != 0,
    })
}

fn ipv6(bytes: &[u8]) -> Result<IpPacket<'_>, Stop> {
    let fixed = wire::slice(bytes, 0, 40, Layer::Ipv6)?;
    let version = wire::u8_at(fixed, 0, Layer::Ipv6)? >> 4;
    if version != 6 {
        return Err(DecodeError::BadIpVersion {
            version,
            expected: "6",
        }
        .into());
    }
    let payload_len = usize::from(wire::u16_at(fixed, 4, Layer::Ipv6)?);
    let mut next = wire::u8_at(fixed, 6, Layer::Ipv6)?;
    let src = Ipv6Addr::from(wire::array::<16>(fixed, 8, Layer::Ipv6)?);
    let dst = Ipv6Addr::from(wire::array::<16>(fixed, 24, Layer::Ipv6)?);
    let after_fixed = wire::rest(bytes, 40, Layer::Ipv6)?;
    // Payload length 0 means a jumbogram (or a TSO super-packet): take what was captured.
    let mut payload = if payload_len == 0 {
        after_fixed
    } else {
        wire::slice(after_fixed, 0, payload_len, Layer::Ipv6)?
    };
    let mut more_fragments = false;
    let mut walked = 0;
    loop {
        let header_len = match next {
            IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DESTINATION_OPTIONS => {
                // next header (1), length in 8-octet units not counting the first 8 (1), data
                let units = wire::u8_at(payload, 1, Layer::Ipv6Extension)?;
                (usize::from(units) + 1) * 8
            }
            IPV6_FRAGMENT => {
                // next header (1), reserved (1), offset (13 bits) + flags (3 bits), identification (4)
                let offset_flags = wire::u16_at(payload, 2, Layer::Ipv6Extension)?;
                if offset_flags >> 3 != 0 {
                    return Err(Skip::NonFirstFragment.into());
                }
                more_fragments = offset_flags & 1 != 0;
                8
            }
            _ => break,
        };
        if walked == MAX_IPV6_EXTENSION_HEADERS {
            return Err(DecodeError::TooManyExtensionHeaders {
                max: MAX_IPV6_EXTENSION_HEADERS,
            }
            .into());
        }
        walked += 1;
        wire::slice(payload, 0, header_len, Layer::Ipv6Extension)?;
        next = wire::u8_at(payload, 0, Layer::Ipv6Extension)?;
        payload = wire::rest(payload, header_len, Layer::Ipv6Extension)?;
    }
    Ok(IpPacket {
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        protocol: next,
        payload,
        more_fragments,
    })
}
