//! Link layers: Ethernet II (with up to two VLAN tags), Linux cooked capture v1/v2 and raw IP, down
//! to the IP header they carry.

use crate::error::{DecodeError, Layer};
use crate::observation::{Skip, Stop};
use crate::wire;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const MAX_VLAN_TAGS: usize = 2;

/// The link-layer header in front of each frame, chosen by the caller from the capture handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// Ethernet II, possibly with 802.1Q / 802.1ad tags (`LINKTYPE_ETHERNET`, 1).
    Ethernet,
    /// Linux cooked capture v1, 16-byte header (`LINKTYPE_LINUX_SLL`, 113).
    LinuxSll,
    /// Linux cooked capture v2, 20-byte header (`LINKTYPE_LINUX_SLL2`, 276).
    LinuxSll2,
    /// No link header: the frame starts with an IPv4 or IPv6 header (`LINKTYPE_RAW`, 101; also
    /// `LINKTYPE_IPV4` 228 and `LINKTYPE_IPV6` 229).
    RawIp,
}

impl LinkType {
    /// Maps a pcap `LINKTYPE_*` value (as found in pcap file headers) to a link type, if supported.
    /// `DLT_RAW` as libpcap reports it on Linux (12) is accepted too.
    pub fn from_pcap_linktype(linktype: u32) -> Option<Self> {
        match linktype {
            1 => Some(LinkType::Ethernet),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            12 | 14 | 101 | 228 | 229 => Some(LinkType::RawIp),
            _ => None,
        }
    }
}

/// The network-layer packet a frame carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Network<'a> {
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
}

/// Strips the link header (and VLAN tags) from `frame`.
pub(crate) fn network(link: LinkType, frame: &[u8]) -> Result<Network<'_>, Stop> {
    match link {
        LinkType::Ethernet => {
            // destination MAC (6), source MAC (6), EtherType (2)
            let ethertype = wire::u16_at(frame, 12, Layer::Link)?;
            by_ethertype(ethertype, wire::rest(frame, 14, Layer::Link)?)
        }
        LinkType::LinuxSll => {
            // packet type (2), ARPHRD (2), address length (2), address (8), protocol (2)
            let protocol = wire::u16_at(frame, 14, Layer::Link)?;
            by_ethertype(protocol, wire::rest(frame, 16, Layer::Link)?)
        }
        LinkType::LinuxSll2 => {
            // protocol (2), reserved (2), interface index (4), ARPHRD (2), packet type (1),
            // address length (1), address (8)
            let protocol = wire::u16_at(frame, 0, Layer::Link)?;
            by_ethertype(protocol, wire::rest(frame, 20, Layer::Link)?)
        }
        LinkType::RawIp => {
            let version = wire::u8_at(frame, 0, Layer::Link)? >> 4;
            match version {
                4 => Ok(Network::Ipv4(frame)),
                6 => Ok(Network::Ipv6(frame)),
                _ => Err(DecodeError::BadIpVersion {
                    version,
                    expected: "4 or 6",
                }
                .into()),
            }
        }
    }
}

/// Dispatches on an EtherType, unwrapping at most [`MAX_VLAN_TAGS`] VLAN tags.
fn by_ethertype(mut ethertype: u16, mut payload: &[u8]) -> Result<Network<'_>, Stop> {
    let mut tags = 0;
    loop {
        match ethertype {
            ETHERTYPE_IPV4 => return Ok(Network::Ipv4(payload)),
            ETHERTYPE_IPV6 => return Ok(Network::Ipv6(payload)),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                if tags == MAX_VLAN_TAGS {
                    return Err(Skip::TooManyVlanTags.into());
                }
                tags += 1;
                // tag control information (2), inner EtherType (2)
                ethertype = wire::u16_at(payload, 2, Layer::Vlan)?;
                payload = wire::rest(payload, 4, Layer::Vlan)?;
            }
            other => return Err(Skip::NotIp { ethertype: other }.into()),
        }
    }
}
