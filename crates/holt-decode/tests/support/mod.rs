//! Hand-built packets for the tests and the benchmark: link, IP and transport headers, and DNS
//! messages with name compression. Checksums are left zero: the decoder does not read them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const PSH: u8 = 0x08;

pub fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    ethernet_vlan(&[], ethertype, payload)
}

/// Ethernet II with the given VLAN tags, outermost first: (TPID, VLAN ID).
pub fn ethernet_vlan(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02];
    for &(tpid, vid) in tags {
        out.extend_from_slice(&tpid.to_be_bytes());
        out.extend_from_slice(&vid.to_be_bytes());
    }
    out.extend_from_slice(&ethertype.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Linux cooked capture v1.
pub fn sll(protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 1, 0, 6, 0x02, 0, 0, 0, 0, 0x01, 0, 0];
    out.extend_from_slice(&protocol.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Linux cooked capture v2.
pub fn sll2(protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = protocol.to_be_bytes().to_vec();
    out.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 0x02, 0, 0, 0, 0, 0x01, 0, 0]);
    out.extend_from_slice(payload);
    out
}

#[derive(Clone, Debug)]
pub struct Ipv4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub options: Vec<u8>,
    pub more_fragments: bool,
    pub fragment_offset: u16,
}

impl Ipv4 {
    pub fn new(src: [u8; 4], dst: [u8; 4], protocol: u8) -> Self {
        Self {
            src: src.into(),
            dst: dst.into(),
            protocol,
            options: Vec::new(),
            more_fragments: false,
            fragment_offset: 0,
        }
    }

    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        assert_eq!(self.options.len() % 4, 0);
        let header_len = 20 + self.options.len();
        let total = header_len + payload.len();
        let mut out = vec![0x40 | (header_len / 4) as u8, 0];
        out.extend_from_slice(&(total as u16).to_be_bytes());
        out.extend_from_slice(&[0x12, 0x34]);
        let flags = (u16::from(self.more_fragments) << 13) | self.fragment_offset;
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&[64, self.protocol, 0, 0]);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
        out.extend_from_slice(&self.options);
        out.extend_from_slice(payload);
        out
    }
}

#[derive(Clone, Debug)]
pub struct Ipv6 {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// Extension headers in order: (header type, body after the two first bytes).
    pub extensions: Vec<(u8, Vec<u8>)>,
    pub protocol: u8,
}

impl Ipv6 {
    pub fn new(src: Ipv6Addr, dst: Ipv6Addr, protocol: u8) -> Self {
        Self {
            src,
            dst,
            extensions: Vec::new(),
            protocol,
        }
    }

    /// Adds a hop-by-hop (0), routing (43) or destination-options (60) header of `units` extra
    /// 8-octet units, filled with PadN-ish bytes.
    pub fn option_header(mut self, kind: u8, units: u8) -> Self {
        let mut body = vec![0u8; 6 + 8 * usize::from(units)];
        body[0] = 1; // PadN
        body[1] = (body.len() - 2) as u8;
        self.extensions.push((kind, body));
        self
    }

    /// Adds a fragment header.
    pub fn fragment_header(mut self, offset: u16, more: bool) -> Self {
        let field = (offset << 3) | u16::from(more);
        let mut body = field.to_be_bytes().to_vec();
        body.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        self.extensions.push((44, body));
        self
    }

    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut chain = Vec::new();
        for (i, (kind, body)) in self.extensions.iter().enumerate() {
            let next = self.extensions.get(i + 1).map_or(self.protocol, |(k, _)| *k);
            let _ = kind;
            chain.push(next);
            if *kind == 44 {
                chain.push(0);
            } else {
                chain.push(((body.len() + 2) / 8 - 1) as u8);
            }
            chain.extend_from_slice(body);
        }
        chain.extend_from_slice(payload);
        let first = self.extensions.first().map_or(self.protocol, |(k, _)| *k);
        let mut out = vec![0x60, 0, 0, 0];
        out.extend_from_slice(&(chain.len() as u16).to_be_bytes());
        out.extend_from_slice(&[first, 64]);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
        out.extend_from_slice(&chain);
        out
    }
}

pub fn udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&src_port.to_be_bytes());
    out.extend_from_slice(&dst_port.to_be_bytes());
    out.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    out
}

pub fn tcp(src_port: u16, dst_port: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    tcp_with_options(src_port, dst_port, flags, &[], payload)
}

pub fn tcp_with_options(src_port: u16, dst_port: u16, flags: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let mut out = Vec::new();
    out.extend_from_slice(&src_port.to_be_bytes());
    out.extend_from_slice(&dst_port.to_be_bytes());
    out.extend_from_slice(&1000u32.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.push((((20 + options.len()) / 4) as u8) << 4);
    out.push(flags);
    out.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
    out.extend_from_slice(options);
    out.extend_from_slice(payload);
    out
}

/// DNS over TCP: the two-byte length prefix.
pub fn tcp_dns(message: &[u8]) -> Vec<u8> {
    let mut out = (message.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_TXT: u16 = 16;

/// A DNS message builder that compresses names the way servers do: every suffix already written
/// becomes a pointer.
#[derive(Debug)]
pub struct Dns {
    bytes: Vec<u8>,
    suffixes: HashMap<String, usize>,
    qdcount: u16,
    ancount: u16,
    pub compress: bool,
}

impl Dns {
    /// A response (QR=1, RD, RA) with the given RCODE.
    pub fn response(rcode: u8) -> Self {
        Self::with_flags(0x8180 | u16::from(rcode))
    }

    pub fn with_flags(flags: u16) -> Self {
        let mut bytes = vec![0xbe, 0xef];
        bytes.extend_from_slice(&flags.to_be_bytes());
        bytes.extend_from_slice(&[0; 8]);
        Self {
            bytes,
            suffixes: HashMap::new(),
            qdcount: 0,
            ancount: 0,
            compress: true,
        }
    }

    pub fn name(&mut self, name: &str) {
        let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
        for i in 0..labels.len() {
            let suffix = labels[i..].join(".").to_ascii_lowercase();
            if self.compress
                && let Some(&at) = self.suffixes.get(&suffix)
            {
                self.bytes.extend_from_slice(&(0xc000 | at as u16).to_be_bytes());
                return;
            }
            if self.bytes.len() < 0x4000 {
                self.suffixes.insert(suffix, self.bytes.len());
            }
            self.bytes.push(labels[i].len() as u8);
            self.bytes.extend_from_slice(labels[i].as_bytes());
        }
        self.bytes.push(0);
    }

    pub fn question(mut self, name: &str, qtype: u16) -> Self {
        self.name(name);
        self.bytes.extend_from_slice(&qtype.to_be_bytes());
        self.bytes.extend_from_slice(&1u16.to_be_bytes());
        self.qdcount += 1;
        self
    }

    fn record_header(&mut self, name: &str, rtype: u16, ttl: u32) {
        self.name(name);
        self.bytes.extend_from_slice(&rtype.to_be_bytes());
        self.bytes.extend_from_slice(&1u16.to_be_bytes());
        self.bytes.extend_from_slice(&ttl.to_be_bytes());
        self.ancount += 1;
    }

    pub fn raw_record(mut self, name: &str, rtype: u16, ttl: u32, rdata: &[u8]) -> Self {
        self.record_header(name, rtype, ttl);
        self.bytes.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        self.bytes.extend_from_slice(rdata);
        self
    }

    pub fn a(self, name: &str, ttl: u32, addr: [u8; 4]) -> Self {
        self.raw_record(name, TYPE_A, ttl, &addr)
    }

    pub fn aaaa(self, name: &str, ttl: u32, addr: Ipv6Addr) -> Self {
        self.raw_record(name, TYPE_AAAA, ttl, &addr.octets())
    }

    pub fn cname(mut self, name: &str, ttl: u32, target: &str) -> Self {
        self.record_header(name, TYPE_CNAME, ttl);
        let at = self.bytes.len();
        self.bytes.extend_from_slice(&[0, 0]);
        self.name(target);
        let len = (self.bytes.len() - at - 2) as u16;
        self.bytes[at..at + 2].copy_from_slice(&len.to_be_bytes());
        self
    }

    /// The message with QDCOUNT and ANCOUNT filled in.
    pub fn build(&self) -> Vec<u8> {
        let mut out = self.bytes.clone();
        out[4..6].copy_from_slice(&self.qdcount.to_be_bytes());
        out[6..8].copy_from_slice(&self.ancount.to_be_bytes());
        out
    }
}

pub const CLIENT_V4: [u8; 4] = [10, 0, 0, 7];
pub const SERVER_V4: [u8; 4] = [10, 96, 0, 10];

/// `www.example.com CNAME edge.example.net`, `edge.example.net A 1.2.3.4` and `A 5.6.7.8`.
pub fn cname_message() -> Vec<u8> {
    Dns::response(0)
        .question("www.example.com", TYPE_A)
        .cname("www.example.com", 300, "edge.example.net")
        .a("edge.example.net", 60, [1, 2, 3, 4])
        .a("edge.example.net", 60, [5, 6, 7, 8])
        .build()
}

pub fn aaaa_message() -> Vec<u8> {
    Dns::response(0)
        .question("ipv6.example.org", TYPE_AAAA)
        .aaaa(
            "ipv6.example.org",
            120,
            "2001:db8::1".parse().expect("address literal"),
        )
        .build()
}

/// IPv4 + UDP from the server's port 53 to the client.
pub fn udp_dns_ipv4(message: &[u8]) -> Vec<u8> {
    Ipv4::new(SERVER_V4, CLIENT_V4, PROTO_UDP).build(&udp(53, 40000, message))
}

/// An IPv6 header for UDP from the server `fd00::53` to the client `fd00::7`; extension headers are the
/// caller's.
pub fn udp_ipv6_to_client() -> Ipv6 {
    Ipv6::new(
        "fd00::53".parse().expect("address literal"),
        "fd00::7".parse().expect("address literal"),
        PROTO_UDP,
    )
}

/// Ethernet + IPv4 + UDP from the server's port 53 to the client.
pub fn udp_dns_frame(message: &[u8]) -> Vec<u8> {
    ethernet(ETHERTYPE_IPV4, &udp_dns_ipv4(message))
}

/// Ethernet + IPv4 + TCP with the given flags from the client to the server.
pub fn tcp_frame(flags: u8) -> Vec<u8> {
    ethernet(
        ETHERTYPE_IPV4,
        &Ipv4::new(CLIENT_V4, SERVER_V4, PROTO_TCP).build(&tcp(41000, 8080, flags, &[])),
    )
}
