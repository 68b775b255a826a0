//! UDP and TCP: turns an IP packet into a TCP connection attempt, a DNS message to decode, a segment
//! that begins like an HTTP request line, or a skip.

use crate::error::{DecodeError, Layer};
use crate::ip::IpPacket;
use crate::observation::{Skip, Stop, TcpSyn};
use crate::wire;

const PROTOCOL_TCP: u8 = 6;
const PROTOCOL_UDP: u8 = 17;
/// The DNS server port: responses come from it.
pub const DNS_PORT: u16 = 53;

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

/// What the transport layer found.
#[derive(Debug)]
pub(crate) enum Segment<'a> {
    Syn(TcpSyn),
    /// A UDP datagram from port 53: one DNS message.
    DnsUdp {
        src_port: u16,
        dst_port: u16,
        message: &'a [u8],
    },
    /// A TCP segment from port 53 with data: part of a stream of length-prefixed DNS messages.
    DnsTcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        payload: &'a [u8],
    },
    /// A TCP segment not from port 53 whose payload begins like an HTTP/1.x request line (a
    /// recognised method token and a space).
    Request {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
}

pub(crate) fn segment<'a>(ip: &IpPacket<'a>) -> Result<Segment<'a>, Stop> {
    match ip.protocol {
        PROTOCOL_UDP => udp(ip),
        PROTOCOL_TCP => tcp(ip),
        protocol => Err(Skip::OtherIpProtocol { protocol }.into()),
    }
}

fn udp<'a>(ip: &IpPacket<'a>) -> Result<Segment<'a>, Stop> {
    let bytes = ip.payload;
    let header = wire::slice(bytes, 0, 8, Layer::Udp)?;
    let src_port = wire::u16_at(header, 0, Layer::Udp)?;
    let dst_port = wire::u16_at(header, 2, Layer::Udp)?;
    if src_port != DNS_PORT {
        return Err(Skip::UdpNotDns.into());
    }
    if ip.more_fragments {
        return Err(Skip::IncompleteFragment.into());
    }
    let length = usize::from(wire::u16_at(header, 4, Layer::Udp)?);
    if length < 8 {
        return Err(DecodeError::BadLength {
            layer: Layer::Udp,
            length,
        }
        .into());
    }
    let datagram = wire::slice(bytes, 0, length, Layer::Udp)?;
    Ok(Segment::DnsUdp {
        src_port,
        dst_port,
        message: wire::rest(datagram, 8, Layer::Udp)?,
    })
}

fn tcp<'a>(ip: &IpPacket<'a>) -> Result<Segment<'a>, Stop> {
    let bytes = ip.payload;
    let header = wire::slice(bytes, 0, 20, Layer::Tcp)?;
    let src_port = wire::u16_at(header, 0, Layer::Tcp)?;
    let dst_port = wire::u16_at(header, 2, Layer::Tcp)?;
    let offset = wire::u8_at(header, 12, Layer::Tcp)? >> 4;
    if offset < 5 {
        return Err(DecodeError::BadTcpDataOffset { offset }.into());
    }
    let header_len = usize::from(offset) * 4;
    wire::slice(bytes, 0, header_len, Layer::Tcp)?;
    let flags = wire::u8_at(header, 13, Layer::Tcp)?;
    if flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN) == TCP_SYN {
        return Ok(Segment::Syn(TcpSyn {
            src: ip.src,
            src_port,
            dst: ip.dst,
            dst_port,
        }));
    }
    let payload = wire::rest(bytes, header_len, Layer::Tcp)?;
    if src_port != DNS_PORT {
        if crate::http::starts_like_request(payload) {
            return Ok(Segment::Request {
                src_port,
                dst_port,
                payload,
            });
        }
        return Err(Skip::TcpNotSyn.into());
    }
    if payload.is_empty() {
        return Err(Skip::TcpNotSyn.into());
    }
    Ok(Segment::DnsTcp {
        src_port,
        dst_port,
        seq: wire::u32_at(header, 4, Layer::Tcp)?,
        payload,
    })
}

/// The first DNS message of a TCP segment that starts at a message boundary, when the segment holds
/// all of it: a two-byte length, then the message. Bytes after it are not looked at.
pub(crate) fn first_whole_message(payload: &[u8]) -> Option<&[u8]> {
    let (prefix, after) = payload.split_first_chunk::<2>()?;
    after.get(..usize::from(u16::from_be_bytes(*prefix)))
}
