//! Property tests: no input makes the decoder panic, and compression does not change what a
//! message resolves to.

mod support;

use holt_decode::{LinkType, MAX_NAME_LEN, Observation, decode};
use proptest::prelude::*;
use support::*;

const LINKS: [LinkType; 4] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
];

/// Decodes and, on success, walks every accessor of the output (so name decoding runs too).
fn exercise(link: LinkType, frame: &[u8]) {
    match decode(link, frame) {
        Ok(Observation::Dns(response)) => {
            let mut buf = [0u8; MAX_NAME_LEN];
            for question in response.questions() {
                let text = question.write_to(&mut buf);
                assert!(text.len() <= 253);
                assert!(!text.bytes().any(|b| b.is_ascii_uppercase()));
                let _ = question.eq_dotted(text);
            }
            for answer in response.answers() {
                let _ = answer.name.to_string();
            }
        }
        Ok(Observation::Skip(skip)) => {
            let _ = skip.category();
        }
        Ok(Observation::TcpSyn(_)) => {}
        Ok(Observation::HttpRequest(request)) => {
            let path = request.line.path;
            assert!(path.starts_with('/') && path.len() <= holt_decode::MAX_PATH_LEN);
            assert!(!path.contains(['?', '#', ' ']));
            assert!(!request.line.is_prefix() || path.ends_with('/'));
        }
        Err(e) => {
            let _ = (e.category(), e.to_string());
        }
    }
}

fn valid_frames() -> Vec<(LinkType, Vec<u8>)> {
    let ip = udp_dns_ipv4(&cname_message());
    let ip6 = udp_ipv6_to_client()
        .option_header(0, 0)
        .fragment_header(0, false)
        .build(&udp(53, 40000, &aaaa_message()));
    let tcp_dns_ip = Ipv4::new(SERVER_V4, CLIENT_V4, PROTO_TCP).build(&tcp(
        53,
        40001,
        PSH | ACK,
        &tcp_dns(&cname_message()),
    ));
    vec![
        (LinkType::Ethernet, udp_dns_frame(&cname_message())),
        (LinkType::Ethernet, udp_dns_frame(&aaaa_message())),
        (
            LinkType::Ethernet,
            ethernet_vlan(&[(0x8100, 7)], ETHERTYPE_IPV4, &ip),
        ),
        (LinkType::LinuxSll, sll(ETHERTYPE_IPV6, &ip6)),
        (LinkType::LinuxSll2, sll2(ETHERTYPE_IPV4, &tcp_dns_ip)),
        (LinkType::RawIp, ip6),
        (LinkType::Ethernet, tcp_frame(SYN)),
    ]
}

/// A frame with a valid Ethernet/IPv4/UDP-from-53 envelope around a DNS response header with
/// small counts and arbitrary sections, so the DNS decoder sees most of the inputs.
fn dns_envelope(qdcount: u8, ancount: u8, body: &[u8]) -> Vec<u8> {
    let mut message = vec![0x12, 0x34, 0x81, 0x80, 0, qdcount, 0, ancount, 0, 0, 0, 0];
    message.extend_from_slice(body);
    udp_dns_frame(&message)
}

#[derive(Debug, Clone)]
enum Rec {
    A(usize, [u8; 4]),
    Cname(usize, usize),
}

const NAMES: [&str; 6] = [
    "www.example.com",
    "edge.example.net",
    "a.edge.example.net",
    "Example.com",
    "db.svc.cluster.local",
    "x.y",
];

fn message(questions: &[usize], records: &[Rec], compress: bool) -> Vec<u8> {
    let mut dns = Dns::response(0);
    dns.compress = compress;
    for &q in questions {
        dns = dns.question(NAMES[q], TYPE_A);
    }
    for (i, r) in records.iter().enumerate() {
        dns = match *r {
            Rec::A(owner, addr) => dns.a(NAMES[owner], 100 + i as u32, addr),
            Rec::Cname(owner, target) => dns.cname(NAMES[owner], 50 + i as u32, NAMES[target]),
        };
    }
    dns.build()
}

fn rec() -> impl Strategy<Value = Rec> {
    prop_oneof![
        (0..NAMES.len(), any::<[u8; 4]>()).prop_map(|(o, a)| Rec::A(o, a)),
        (0..NAMES.len(), 0..NAMES.len()).prop_map(|(o, t)| Rec::Cname(o, t)),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        for link in LINKS {
            exercise(link, &bytes);
        }
    }

    #[test]
    fn arbitrary_dns_sections_never_panic(
        qdcount in 0u8..4,
        ancount in 0u8..24,
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        exercise(LinkType::Ethernet, &dns_envelope(qdcount, ancount, &body));
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        which in 0usize..7,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let (link, mut frame) = valid_frames().swap_remove(which);
        for (at, value) in flips {
            let i = at.index(frame.len());
            frame[i] = value;
        }
        if let Some(cut) = cut {
            frame.truncate(cut.index(frame.len()));
        }
        exercise(link, &frame);
    }

    #[test]
    fn compression_does_not_change_the_resolution(
        questions in proptest::collection::vec(0..NAMES.len(), 1..3),
        records in proptest::collection::vec(rec(), 0..10),
    ) {
        let compressed = udp_dns_frame(&message(&questions, &records, true));
        let plain = udp_dns_frame(&message(&questions, &records, false));
        let summary = |frame: &[u8]| match decode(LinkType::Ethernet, frame) {
            Ok(Observation::Dns(r)) => Ok(r
                .answers()
                .map(|a| (a.name.to_string(), a.addr, a.ttl))
                .collect::<Vec<_>>()),
            Ok(Observation::Skip(s)) => Err(s.category().to_string()),
            other => panic!("{other:?}"),
        };
        prop_assert_eq!(summary(&compressed), summary(&plain));
    }
}

/// A path of `segments` made of characters a request-target may hold (no `?`, `#`, space).
fn path_segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,12}"
}

/// An Ethernet/IPv4/TCP frame from a client port to port 80 carrying `payload`.
fn http_frame(payload: &[u8]) -> Vec<u8> {
    ethernet(
        ETHERTYPE_IPV4,
        &Ipv4::new(CLIENT_V4, SERVER_V4, PROTO_TCP).build(&tcp(41000, 80, PSH | ACK, payload)),
    )
}

proptest! {
    #[test]
    fn arbitrary_payloads_after_a_method_never_panic(
        method in proptest::sample::select(holt_decode::Method::ALL.to_vec()),
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut payload = format!("{} ", method.as_str()).into_bytes();
        payload.extend_from_slice(&bytes);
        exercise(LinkType::Ethernet, &http_frame(&payload));
        let _ = holt_decode::http::request_line(&payload);
    }

    #[test]
    fn generated_request_lines_round_trip(
        method in proptest::sample::select(holt_decode::Method::ALL.to_vec()),
        segments in proptest::collection::vec(path_segment(), 1..8),
        query in proptest::option::of("[A-Za-z0-9=&%/?]{0,20}"),
        minor in 0u8..2,
        headers in "[A-Za-z0-9: \r\n-]{0,60}",
    ) {
        let path: String = segments.iter().map(|s| format!("/{s}")).collect();
        let target = match &query {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        let payload = format!("{} {target} HTTP/1.{minor}\r\n{headers}", method.as_str());
        let frame = http_frame(payload.as_bytes());
        match decode(LinkType::Ethernet, &frame) {
            Ok(Observation::HttpRequest(request)) => {
                prop_assert_eq!(request.line.method, method);
                prop_assert_eq!(request.line.path, path.as_str());
                prop_assert!(!request.line.is_prefix());
                prop_assert_eq!(request.server_port, 80);
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn request_lines_cut_anywhere_give_a_prefix_of_the_path_or_nothing(
        method in proptest::sample::select(holt_decode::Method::ALL.to_vec()),
        segments in proptest::collection::vec(path_segment(), 1..8),
        cut in 0usize..200,
    ) {
        let path: String = segments.iter().map(|s| format!("/{s}")).collect();
        let line = format!("{} {path}?secret=1 HTTP/1.1\r\n", method.as_str());
        let cut = cut.min(line.len());
        match holt_decode::http::request_line(&line.as_bytes()[..cut]) {
            Some(request) => {
                prop_assert_eq!(request.method, method);
                prop_assert!(path.starts_with(request.path));
                prop_assert!(request.path == path || request.is_prefix(), "{request:?}");
                prop_assert!(!request.path.contains("secret"));
            }
            None => prop_assert!(cut <= method.as_str().len() + 1, "cut at {cut}: nothing"),
        }
    }
}
