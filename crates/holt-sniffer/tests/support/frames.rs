//! Pre-built Ethernet frames for the benchmark and the allocation test: DNS answers, TCP SYNs, HTTP
//! requests and other TCP data over IPv4 and IPv6. Checksums are zero (nothing on the path checks them before the capture tap, and the
//! frames are not addressed to the capturing host).

use std::net::{Ipv4Addr, Ipv6Addr};

/// Length of the Ethernet header in front of each frame.
pub const ETHERNET_HEADER: usize = 14;

fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut packet = vec![0x45, 0];
    packet.extend_from_slice(&total.to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0x40, 0, 64, protocol, 0, 0]);
    packet.extend_from_slice(&src.octets());
    packet.extend_from_slice(&dst.octets());
    packet.extend_from_slice(payload);
    packet
}

fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x60, 0, 0, 0];
    packet.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    packet.extend_from_slice(&[next_header, 64]);
    packet.extend_from_slice(&src.octets());
    packet.extend_from_slice(&dst.octets());
    packet.extend_from_slice(payload);
    packet
}

fn udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut segment = src_port.to_be_bytes().to_vec();
    segment.extend_from_slice(&dst_port.to_be_bytes());
    segment.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    segment.extend_from_slice(&[0, 0]);
    segment.extend_from_slice(payload);
    segment
}

fn syn(src_port: u16, dst_port: u16) -> Vec<u8> {
    let mut segment = src_port.to_be_bytes().to_vec();
    segment.extend_from_slice(&dst_port.to_be_bytes());
    segment.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    segment
}

/// A TCP segment with PSH and ACK set (or ACK alone without payload) carrying `payload`.
fn tcp_data(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut segment = src_port.to_be_bytes().to_vec();
    segment.extend_from_slice(&dst_port.to_be_bytes());
    let flags = if payload.is_empty() { 0x10 } else { 0x18 };
    segment.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    segment.extend_from_slice(payload);
    segment
}

/// 1,024 × `variants` frames of HTTP traffic: for each of 256 clients and each variant, an IPv4
/// request (`GET /orders/<client>/<variant>`, with headers), the IPv4 response segment, an IPv6 request
/// (`POST /charge/<client>/<variant>`) and an IPv6 bare ACK. Half are requests (the kernel filter
/// passes them when HTTP is on), half other TCP traffic (never passed).
pub fn http_frames(variants: u16) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    for variant in 0..variants {
        for client in 0u8..=255 {
            let client4 = Ipv4Addr::new(10, 1, 0, client);
            let client6 = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, u16::from(client));
            let server4 = Ipv4Addr::new(10, 2, 0, client % 16);
            let server6 = Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, 0, u16::from(client % 16));
            let port = 40_000 + u16::from(client);
            let get = format!(
                "GET /orders/{client}/{variant} HTTP/1.1\r\nhost: shop\r\nuser-agent: bench\r\naccept: */*\r\n\r\n"
            );
            frames.push(ethernet(
                0x0800,
                &ipv4(client4, server4, 6, &tcp_data(port, 80, get.as_bytes())),
            ));
            let response = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
            frames.push(ethernet(
                0x0800,
                &ipv4(server4, client4, 6, &tcp_data(80, port, response)),
            ));
            let post = format!(
                "POST /charge/{client}/{variant} HTTP/1.1\r\nhost: shop\r\ncontent-length: 0\r\n\r\n"
            );
            frames.push(ethernet(
                0x86dd,
                &ipv6(client6, server6, 6, &tcp_data(port, 8080, post.as_bytes())),
            ));
            frames.push(ethernet(
                0x86dd,
                &ipv6(client6, server6, 6, &tcp_data(port, 8080, b"")),
            ));
        }
    }
    frames
}

/// A response for `web.ns.svc.cluster.local`: CNAME to `pod.ns.svc.cluster.local`, then the addresses.
fn dns_answer(id: u16, addresses: &[&[u8]]) -> Vec<u8> {
    let mut message = id.to_be_bytes().to_vec();
    message.extend_from_slice(&[0x81, 0x80, 0, 1]);
    message.extend_from_slice(&(1 + addresses.len() as u16).to_be_bytes());
    message.extend_from_slice(&[0, 0, 0, 0]);
    for label in ["web", "ns", "svc", "cluster", "local"] {
        message.push(label.len() as u8);
        message.extend_from_slice(label.as_bytes());
    }
    message.push(0);
    let qtype: u16 = if addresses.first().is_some_and(|a| a.len() == 16) {
        28
    } else {
        1
    };
    message.extend_from_slice(&qtype.to_be_bytes());
    message.extend_from_slice(&[0, 1]);
    // CNAME: owner → question (offset 12), target "pod" + pointer to "ns" (offset 16).
    message.extend_from_slice(&[
        0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'p', b'o', b'd', 0xc0, 16,
    ]);
    let target = message.len() - 6;
    for address in addresses {
        message.extend_from_slice(&[0xc0, target as u8]);
        message.extend_from_slice(&qtype.to_be_bytes());
        message.extend_from_slice(&[0, 1, 0, 0, 0, 30]);
        message.extend_from_slice(&(address.len() as u16).to_be_bytes());
        message.extend_from_slice(address);
    }
    message
}

/// 1,024 × `variants` frames: for each of 256 clients and each variant, an IPv4 DNS answer (CNAME and
/// two A records), an IPv4 SYN, an IPv6 DNS answer (CNAME and one AAAA) and an IPv6 SYN; variants
/// differ in the answered addresses and the SYNs' destination ports.
pub fn frames(variants: u16) -> Vec<Vec<u8>> {
    let dns4 = Ipv4Addr::new(10, 96, 0, 10);
    let dns6: Ipv6Addr = "fd00:96::a".parse().expect("ip");
    let mut frames = Vec::new();
    for variant in 0..variants {
        let v = (variant & 0xff) as u8;
        for client in 0u8..=255 {
            let client4 = Ipv4Addr::new(10, 1, 0, client);
            let client6 = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, u16::from(client));
            let server4 = Ipv4Addr::new(10, 2, v, client % 16);
            let server6 = Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, variant, u16::from(client % 16));
            let port = 40_000 + u16::from(client);
            let answer = dns_answer(u16::from(client), &[&server4.octets(), &[10, 3, v, client % 16]]);
            frames.push(ethernet(
                0x0800,
                &ipv4(dns4, client4, 17, &udp(53, port, &answer)),
            ));
            frames.push(ethernet(0x0800, &ipv4(client4, server4, 6, &syn(port, 8080))));
            let answer6 = dns_answer(u16::from(client), &[&server6.octets()]);
            frames.push(ethernet(
                0x86dd,
                &ipv6(dns6, client6, 17, &udp(53, port, &answer6)),
            ));
            frames.push(ethernet(0x86dd, &ipv6(client6, server6, 6, &syn(port, 8443))));
        }
    }
    frames
}

/// An IPv6 DNS answer from `server` to `client` (`web.ns.svc.cluster.local` → `address`) with a
/// hop-by-hop options header (PadN only) between the fixed header and UDP.
pub fn ipv6_dns_answer_after_hop_by_hop(server: Ipv6Addr, client: Ipv6Addr, address: Ipv6Addr) -> Vec<u8> {
    let mut payload = vec![17, 0, 1, 4, 0, 0, 0, 0];
    payload.extend_from_slice(&udp(53, 40_053, &dns_answer(7, &[&address.octets()])));
    ethernet(0x86dd, &ipv6(server, client, 0, &payload))
}
