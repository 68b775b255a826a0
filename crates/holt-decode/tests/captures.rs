//! Frames captured by tcpdump 4.99 / libpcap 1.10 (not built by us): dnsmasq 2.90 on 127.0.0.2 and
//! ::1 answering `dig` (UDP over IPv4 and IPv6, and `dig +tcp`), captured three times at once: on
//! `lo` (Ethernet), and on `any` as Linux cooked capture v2 (the default) and v1 (`-y LINUX_SLL`).
//! See tests/data/README.md for the commands.

use std::fmt::Write as _;

use holt_decode::{LinkType, Observation, decode};

/// A minimal reader for classic pcap files: the link type and each record's captured bytes.
fn read_pcap(bytes: &[u8]) -> (u32, Vec<&[u8]>) {
    let magic = u32::from_le_bytes(bytes[0..4].try_into().expect("test data is well formed"));
    let little = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        other => panic!("not a pcap file: magic {other:#x}"),
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = bytes[at..at + 4].try_into().expect("test data is well formed");
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let linktype = u32_at(20);
    let mut records = Vec::new();
    let mut pos = 24;
    while pos < bytes.len() {
        let captured = u32_at(pos + 8) as usize;
        records.push(&bytes[pos + 16..pos + 16 + captured]);
        pos += 16 + captured;
    }
    (linktype, records)
}

fn describe(observation: &Observation<'_>) -> String {
    match observation {
        Observation::Dns(r) => {
            let mut s = format!(
                "dns {:?} {}:{} -> {}:{}",
                r.transport, r.server, r.server_port, r.client, r.client_port
            );
            for a in r.answers() {
                write!(s, " {}={}/{}", a.name, a.addr, a.ttl).expect("test data is well formed");
            }
            s
        }
        Observation::TcpSyn(syn) => {
            format!("syn {}:{} -> {}:{}", syn.src, syn.src_port, syn.dst, syn.dst_port)
        }
        Observation::HttpRequest(r) => format!(
            "http {}:{} -> {}:{} {} {}",
            r.client,
            r.client_port,
            r.server,
            r.server_port,
            r.line.method.as_str(),
            r.line.path
        ),
        Observation::Skip(skip) => format!("skip {}", skip.category()),
    }
}

/// Queries go to port 53 from an ephemeral port, so they are `udp_not_dns`, never decoded.
const EXPECTED: [&str; 18] = [
    "skip udp_not_dns",
    "dns Udp 127.0.0.2:53 -> 127.0.0.1:51839 www.example.com=1.2.3.4/0 www.example.com=5.6.7.8/0",
    "skip udp_not_dns",
    "dns Udp ::1:53 -> ::1:49158 www.example.com=2001:db8::1/0",
    "syn 127.0.0.1:38685 -> 127.0.0.2:53",
    "skip tcp_not_syn",
    "skip tcp_not_syn",
    "skip tcp_not_syn",
    "skip tcp_not_syn",
    "dns Tcp 127.0.0.2:53 -> 127.0.0.1:38685 www.example.com=5.6.7.8/0 www.example.com=1.2.3.4/0",
    "skip tcp_not_syn",
    "skip tcp_not_syn",
    "skip tcp_not_syn",
    "skip tcp_not_syn",
    "skip udp_not_dns",
    "skip dns_rcode",
    "skip udp_not_dns",
    "dns Udp 127.0.0.2:53 -> 127.0.0.1:40971 edge.example.net=1.2.3.4/0 edge.example.net=5.6.7.8/0",
];

fn check(file: &[u8], link: LinkType) {
    let (linktype, records) = read_pcap(file);
    assert_eq!(LinkType::from_pcap_linktype(linktype), Some(link));
    let seen: Vec<String> = records
        .iter()
        .map(|frame| match decode(link, frame) {
            Ok(observation) => describe(&observation),
            Err(e) => panic!("a real frame failed to decode: {e}"),
        })
        .collect();
    assert_eq!(seen, EXPECTED);
}

#[test]
fn loopback_ethernet_capture() {
    check(include_bytes!("data/lo.pcap"), LinkType::Ethernet);
}

#[test]
fn any_interface_cooked_v2_capture() {
    check(include_bytes!("data/any_sll2.pcap"), LinkType::LinuxSll2);
}

#[test]
fn any_interface_cooked_v1_capture() {
    check(include_bytes!("data/any_sll.pcap"), LinkType::LinuxSll);
}
