//! Hand-built frames through `decode`: what is observed, what is skipped, and which malformed
//! inputs fail with which category.

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use holt_decode::{
    DecodeError, DnsResponse, LinkType, MAX_NAME_LEN, Observation, Skip, TcpSyn, Transport, decode,
};
use support::*;

fn v4(o: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(o))
}

fn dns(frame: &[u8]) -> DnsResponse<'_> {
    match decode(LinkType::Ethernet, frame) {
        Ok(Observation::Dns(response)) => response,
        other => panic!("expected a DNS response, got {other:?}"),
    }
}

/// (name, address, ttl) of every resolved answer.
fn resolved(response: &DnsResponse<'_>) -> Vec<(String, IpAddr, u32)> {
    response
        .answers()
        .map(|a| (a.name.to_string(), a.addr, a.ttl))
        .collect()
}

fn skip(link: LinkType, frame: &[u8]) -> Skip {
    match decode(link, frame) {
        Ok(Observation::Skip(skip)) => skip,
        other => panic!("expected a skip, got {other:?}"),
    }
}

fn error(link: LinkType, frame: &[u8]) -> DecodeError {
    match decode(link, frame) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn a_record() {
    let message = Dns::response(0)
        .question("api.example.com", TYPE_A)
        .a("api.example.com", 30, [192, 0, 2, 1])
        .build();
    let frame = udp_dns_frame(&message);
    let response = dns(&frame);
    assert_eq!(response.client, v4(CLIENT_V4));
    assert_eq!(response.client_port, 40000);
    assert_eq!(response.server, v4(SERVER_V4));
    assert_eq!(response.server_port, 53);
    assert_eq!(response.transport, Transport::Udp);
    assert_eq!(response.id(), 0xbeef);
    assert_eq!(
        resolved(&response),
        vec![("api.example.com".to_string(), v4([192, 0, 2, 1]), 30)]
    );
}

#[test]
fn aaaa_record() {
    let frame = udp_dns_frame(&aaaa_message());
    let response = dns(&frame);
    assert_eq!(
        resolved(&response),
        vec![(
            "ipv6.example.org".to_string(),
            "2001:db8::1".parse::<IpAddr>().expect("address literal"),
            120
        )]
    );
}

#[test]
fn cname_chain_resolves_the_question_name_with_the_smallest_ttl() {
    let frame = udp_dns_frame(&cname_message());
    let response = dns(&frame);
    assert_eq!(
        resolved(&response),
        vec![
            ("www.example.com".to_string(), v4([1, 2, 3, 4]), 60),
            ("www.example.com".to_string(), v4([5, 6, 7, 8]), 60),
        ]
    );
    let questions: Vec<String> = response.questions().map(|q| q.to_string()).collect();
    assert_eq!(questions, ["www.example.com"]);
}

#[test]
fn longer_cname_chain_uncompressed_and_mixed_case() {
    let mut builder = Dns::response(0);
    builder.compress = false;
    let message = builder
        .question("WWW.Example.COM", TYPE_A)
        .cname("www.example.com", 500, "a.cdn.example")
        .cname("A.CDN.example", 40, "b.cdn.example")
        .a("b.cdn.example", 100, [9, 9, 9, 9])
        // An address for an intermediate name is not the question's final address.
        .a("a.cdn.example", 100, [8, 8, 8, 8])
        .build();
    let frame = udp_dns_frame(&message);
    let response = dns(&frame);
    assert_eq!(
        resolved(&response),
        vec![("www.example.com".to_string(), v4([9, 9, 9, 9]), 40)]
    );
}

#[test]
fn cname_cycle_is_bounded() {
    let message = Dns::response(0)
        .question("a.example", TYPE_A)
        .cname("a.example", 10, "b.example")
        .cname("b.example", 10, "a.example")
        .a("a.example", 10, [1, 1, 1, 1])
        .build();
    let frame = udp_dns_frame(&message);
    // The chain goes round MAX_CNAME_CHAIN times (an even number) and ends on a.example.
    let response = dns(&frame);
    assert_eq!(response.answers().count(), 1);
}

#[test]
fn multiple_questions_and_answers() {
    let message = Dns::response(0)
        .question("one.example", TYPE_A)
        .question("two.example", TYPE_AAAA)
        .a("one.example", 10, [10, 1, 1, 1])
        .aaaa("two.example", 20, "fd00::2".parse().expect("address literal"))
        .a("one.example", 11, [10, 1, 1, 2])
        .raw_record("one.example", TYPE_TXT, 10, b"\x05hello")
        .a("unrelated.example", 10, [10, 9, 9, 9])
        .build();
    let frame = udp_dns_frame(&message);
    let response = dns(&frame);
    assert_eq!(
        resolved(&response),
        vec![
            ("one.example".to_string(), v4([10, 1, 1, 1]), 10),
            ("one.example".to_string(), v4([10, 1, 1, 2]), 11),
            (
                "two.example".to_string(),
                "fd00::2".parse().expect("address literal"),
                20
            ),
        ]
    );
}

#[test]
fn every_address_is_read_however_many() {
    // A headless Service of 200 pods, over TCP: every address, in order, behind a CNAME.
    let mut builder = Dns::response(0)
        .question("db.example", TYPE_A)
        .cname("db.example", 30, "pods.example");
    for i in 0..200u8 {
        builder = builder.a("pods.example", 5, [10, 0, 1, i]);
    }
    let frame = udp_dns_frame(&builder.build());
    let response = dns(&frame);
    let addresses: Vec<_> = response.answers().map(|a| (a.addr, a.ttl)).collect();
    let expected: Vec<_> = (0..200u8).map(|i| (v4([10, 0, 1, i]), 5)).collect();
    assert_eq!(addresses, expected);
    assert!(response.answers().all(|a| a.name.to_string() == "db.example"));
}

#[test]
fn ttl_with_top_bit_is_zero() {
    let message = Dns::response(0)
        .question("t.example", TYPE_A)
        .a("t.example", 0x8000_0001, [1, 2, 3, 4])
        .build();
    let frame = udp_dns_frame(&message);
    assert_eq!(
        dns(&frame)
            .answers()
            .next()
            .expect("test data is well formed")
            .ttl,
        0
    );
}

#[test]
fn nxdomain_servfail_queries_and_other_opcodes_are_skipped() {
    let nx = Dns::response(3).question("nope.example", TYPE_A).build();
    assert_eq!(
        skip(LinkType::Ethernet, &udp_dns_frame(&nx)),
        Skip::DnsRcode { rcode: 3 }
    );
    let servfail = Dns::response(2).question("x.example", TYPE_A).build();
    assert_eq!(
        skip(LinkType::Ethernet, &udp_dns_frame(&servfail)),
        Skip::DnsRcode { rcode: 2 }
    );
    let query = Dns::with_flags(0x0100).question("x.example", TYPE_A).build();
    assert_eq!(skip(LinkType::Ethernet, &udp_dns_frame(&query)), Skip::DnsQuery);
    // opcode 5 (UPDATE) response
    let update = Dns::with_flags(0x8000 | (5 << 11)).build();
    assert_eq!(
        skip(LinkType::Ethernet, &udp_dns_frame(&update)),
        Skip::DnsOpcode { opcode: 5 }
    );
    let empty = Dns::response(0).question("x.example", TYPE_A).build();
    assert_eq!(
        skip(LinkType::Ethernet, &udp_dns_frame(&empty)),
        Skip::DnsNoAddresses
    );
    assert_eq!(Skip::DnsNoAddresses.category(), "dns_no_addresses");
}

#[test]
fn udp_not_from_port_53_is_skipped() {
    let message = cname_message();
    // A query to port 53 comes from an ephemeral port.
    let frame = ethernet(
        ETHERTYPE_IPV4,
        &Ipv4::new(CLIENT_V4, SERVER_V4, PROTO_UDP).build(&udp(40000, 53, &message)),
    );
    assert_eq!(skip(LinkType::Ethernet, &frame), Skip::UdpNotDns);
}

#[test]
fn tcp_syn_versus_syn_ack_and_ack() {
    assert_eq!(
        decode(LinkType::Ethernet, &tcp_frame(SYN)).expect("test data is well formed"),
        Observation::TcpSyn(TcpSyn {
            src: v4(CLIENT_V4),
            src_port: 41000,
            dst: v4(SERVER_V4),
            dst_port: 8080,
        })
    );
    // ECN-capable SYN (ECE|CWR) is still a connection attempt.
    assert!(matches!(
        decode(LinkType::Ethernet, &tcp_frame(SYN | 0xc0)).expect("test data is well formed"),
        Observation::TcpSyn(_)
    ));
    assert_eq!(skip(LinkType::Ethernet, &tcp_frame(SYN | ACK)), Skip::TcpNotSyn);
    assert_eq!(skip(LinkType::Ethernet, &tcp_frame(ACK)), Skip::TcpNotSyn);
    assert_eq!(skip(LinkType::Ethernet, &tcp_frame(SYN | 0x04)), Skip::TcpNotSyn);
}

#[test]
fn tcp_syn_with_options() {
    let options = [2, 4, 0x05, 0xb4, 1, 3, 3, 7];
    let frame = ethernet(
        ETHERTYPE_IPV4,
        &Ipv4::new(CLIENT_V4, SERVER_V4, PROTO_TCP).build(&tcp_with_options(41000, 443, SYN, &options, &[])),
    );
    assert!(matches!(
        decode(LinkType::Ethernet, &frame),
        Ok(Observation::TcpSyn(TcpSyn { dst_port: 443, .. }))
    ));
}

#[test]
fn dns_over_tcp_whole_message_only() {
    let message = cname_message();
    let whole = ethernet(
        ETHERTYPE_IPV4,
        &Ipv4::new(SERVER_V4, CLIENT_V4, PROTO_TCP).build(&tcp(53, 40001, PSH | ACK, &tcp_dns(&message))),
    );
    let response = dns(&whole);
    assert_eq!(response.transport, Transport::Tcp);
    assert_eq!(response.client_port, 40001);
    assert_eq!(response.answers().count(), 2);

    let segment = tcp_dns(&message);
    let partial = ethernet(
        ETHERTYPE_IPV4,
        &Ipv4::new(SERVER_V4, CLIENT_V4, PROTO_TCP).build(&tcp(
            53,
            40001,
            PSH | ACK,
            &segment[..segment.len() - 5],
        )),
    );
    assert_eq!(skip(LinkType::Ethernet, &partial), Skip::IncompleteTcpDns);
}

#[test]
fn vlan_tags() {
    let ip = udp_dns_ipv4(&cname_message());
    let one = ethernet_vlan(&[(0x8100, 42)], ETHERTYPE_IPV4, &ip);
    assert_eq!(dns(&one).answers().count(), 2);
    let two = ethernet_vlan(&[(0x88a8, 100), (0x8100, 42)], ETHERTYPE_IPV4, &ip);
    assert_eq!(dns(&two).answers().count(), 2);
    let three = ethernet_vlan(&[(0x88a8, 1), (0x8100, 2), (0x8100, 3)], ETHERTYPE_IPV4, &ip);
    assert_eq!(skip(LinkType::Ethernet, &three), Skip::TooManyVlanTags);
    let arp = ethernet(0x0806, &[0; 28]);
    assert_eq!(skip(LinkType::Ethernet, &arp), Skip::NotIp { ethertype: 0x0806 });
}

#[test]
fn linux_cooked_captures_and_raw_ip() {
    let ip = udp_dns_ipv4(&cname_message());
    for (link, frame) in [
        (LinkType::LinuxSll, sll(ETHERTYPE_IPV4, &ip)),
        (LinkType::LinuxSll2, sll2(ETHERTYPE_IPV4, &ip)),
        (LinkType::RawIp, ip.clone()),
    ] {
        match decode(link, &frame) {
            Ok(Observation::Dns(response)) => {
                assert_eq!(response.answers().count(), 2, "{link:?}");
                assert_eq!(response.client, v4(CLIENT_V4), "{link:?}");
            }
            other => panic!("{link:?}: {other:?}"),
        }
    }
    let syn = Ipv6::new(
        "fd00::1".parse().expect("address literal"),
        "fd00::2".parse().expect("address literal"),
        PROTO_TCP,
    )
    .build(&tcp(50000, 5432, SYN, &[]));
    for (link, frame) in [
        (LinkType::LinuxSll, sll(ETHERTYPE_IPV6, &syn)),
        (LinkType::LinuxSll2, sll2(ETHERTYPE_IPV6, &syn)),
        (LinkType::RawIp, syn.clone()),
    ] {
        assert!(
            matches!(
                decode(link, &frame),
                Ok(Observation::TcpSyn(TcpSyn { dst_port: 5432, .. }))
            ),
            "{link:?}"
        );
    }
    assert_eq!(LinkType::from_pcap_linktype(276), Some(LinkType::LinuxSll2));
    assert_eq!(LinkType::from_pcap_linktype(147), None);
}

#[test]
fn ipv6_with_extension_headers() {
    let server: Ipv6Addr = "2001:db8::53".parse().expect("address literal");
    let client: Ipv6Addr = "2001:db8::7".parse().expect("address literal");
    let ip = Ipv6::new(server, client, PROTO_UDP)
        .option_header(0, 0)
        .option_header(43, 1)
        .option_header(60, 2)
        .fragment_header(0, false)
        .build(&udp(53, 33333, &aaaa_message()));
    let frame = ethernet(ETHERTYPE_IPV6, &ip);
    let response = dns(&frame);
    assert_eq!(response.client, IpAddr::V6(client));
    assert_eq!(response.server, IpAddr::V6(server));
    assert_eq!(response.answers().count(), 1);

    let mut deep = Ipv6::new(server, client, PROTO_UDP);
    for _ in 0..9 {
        deep = deep.option_header(60, 0);
    }
    let frame = ethernet(ETHERTYPE_IPV6, &deep.build(&udp(53, 1, &aaaa_message())));
    assert_eq!(
        error(LinkType::Ethernet, &frame).category(),
        "too_many_extension_headers"
    );

    let no_next = Ipv6::new(server, client, 59).build(&[]);
    assert_eq!(
        skip(LinkType::RawIp, &no_next),
        Skip::OtherIpProtocol { protocol: 59 }
    );
}

#[test]
fn fragments() {
    let payload = udp(53, 40000, &cname_message());
    let mut later = Ipv4::new(SERVER_V4, CLIENT_V4, PROTO_UDP);
    later.fragment_offset = 185;
    assert_eq!(
        skip(LinkType::RawIp, &later.build(&payload)),
        Skip::NonFirstFragment
    );
    let mut first = Ipv4::new(SERVER_V4, CLIENT_V4, PROTO_UDP);
    first.more_fragments = true;
    assert_eq!(
        skip(LinkType::RawIp, &first.build(&payload)),
        Skip::IncompleteFragment
    );
    // A first fragment still shows a TCP SYN.
    let syn = first.clone();
    let syn = Ipv4 {
        protocol: PROTO_TCP,
        ..syn
    }
    .build(&tcp(1, 2, SYN, &[]));
    assert!(matches!(
        decode(LinkType::RawIp, &syn),
        Ok(Observation::TcpSyn(_))
    ));

    let v6 = |offset, more| udp_ipv6_to_client().fragment_header(offset, more).build(&payload);
    assert_eq!(skip(LinkType::RawIp, &v6(100, false)), Skip::NonFirstFragment);
    assert_eq!(skip(LinkType::RawIp, &v6(0, true)), Skip::IncompleteFragment);
    assert_eq!(Skip::NonFirstFragment.category(), "non_first_fragment");
}

#[test]
fn ipv4_options_and_ethernet_padding() {
    let mut ip = Ipv4::new(SERVER_V4, CLIENT_V4, PROTO_UDP);
    ip.options = vec![1, 1, 1, 0, 7, 3, 4, 0];
    let mut frame = ethernet(ETHERTYPE_IPV4, &ip.build(&udp(53, 40000, &cname_message())));
    let response = dns(&frame).answers().count();
    assert_eq!(response, 2);
    // Padding after the IP packet (as on short Ethernet frames) is ignored.
    let syn = tcp_frame(SYN);
    let mut padded = syn.clone();
    padded.extend_from_slice(&[0xaa; 6]);
    assert!(matches!(
        decode(LinkType::Ethernet, &padded),
        Ok(Observation::TcpSyn(_))
    ));
    frame.extend_from_slice(&[0xff; 3]);
    assert_eq!(dns(&frame).answers().count(), 2);
}

#[test]
fn bad_header_lengths() {
    let mut frame = udp_dns_frame(&cname_message());
    frame[14] = 0x44; // IHL 4
    let e = error(LinkType::Ethernet, &frame);
    assert_eq!(e, DecodeError::BadIpv4HeaderLength { ihl: 4 });
    assert_eq!(e.category(), "bad_header_length");

    let mut frame = tcp_frame(SYN);
    frame[14 + 20 + 12] = 0x40; // data offset 4
    assert_eq!(error(LinkType::Ethernet, &frame).category(), "bad_header_length");

    let mut frame = tcp_frame(SYN);
    frame[14 + 20 + 12] = 0xf0; // data offset 15 words: past the end
    assert_eq!(error(LinkType::Ethernet, &frame).category(), "truncated");

    let mut frame = udp_dns_frame(&cname_message());
    frame[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&7u16.to_be_bytes()); // UDP length 7
    assert_eq!(error(LinkType::Ethernet, &frame).category(), "bad_length");

    let mut frame = udp_dns_frame(&cname_message());
    frame[14] = 0x65; // IPv6 version in an IPv4 EtherType
    assert_eq!(error(LinkType::Ethernet, &frame).category(), "bad_ip_version");
    assert_eq!(error(LinkType::RawIp, &[0x15, 0, 0]).category(), "bad_ip_version");
}

#[test]
fn truncated_at_every_offset_is_an_error() {
    let ip = udp_dns_ipv4(&cname_message());
    let ip6 = udp_ipv6_to_client()
        .option_header(0, 0)
        .build(&udp(53, 40000, &cname_message()));
    let cases = [
        (LinkType::Ethernet, udp_dns_frame(&cname_message())),
        (
            LinkType::Ethernet,
            ethernet_vlan(&[(0x8100, 1), (0x8100, 2)], ETHERTYPE_IPV4, &ip),
        ),
        (LinkType::LinuxSll, sll(ETHERTYPE_IPV6, &ip6)),
        (LinkType::LinuxSll2, sll2(ETHERTYPE_IPV4, &ip)),
        (LinkType::RawIp, ip6.clone()),
        (LinkType::Ethernet, tcp_frame(SYN)),
    ];
    for (link, frame) in cases {
        assert!(decode(link, &frame).is_ok());
        for len in 0..frame.len() {
            match decode(link, &frame[..len]) {
                Err(e) => assert_eq!(e.category(), "truncated", "{link:?} cut at {len}: {e}"),
                Ok(o) => panic!("{link:?} cut at {len} decoded as {o:?}"),
            }
        }
    }
}

#[test]
fn truncated_dns_inside_a_consistent_udp_datagram() {
    // Lengths in the IP and UDP headers agree with the cut: only the DNS message is short.
    let message = cname_message();
    for len in 0..message.len() {
        let frame = udp_dns_frame(&message[..len]);
        match decode(LinkType::Ethernet, &frame) {
            Err(DecodeError::Truncated { layer, .. }) => {
                assert_eq!(layer, holt_decode::Layer::Dns)
            }
            other => panic!("cut at {len}: {other:?}"),
        }
    }
}

/// A response whose question name is the given raw bytes, with one A answer pointing at it.
fn raw_name_message(name: &[u8]) -> Vec<u8> {
    let mut m = vec![0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    m.extend_from_slice(name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
    m
}

#[test]
fn compression_pointer_loops_and_forward_pointers() {
    // Question name is a pointer to itself.
    let frame = udp_dns_frame(&raw_name_message(&[0xc0, 12]));
    assert_eq!(
        error(LinkType::Ethernet, &frame),
        DecodeError::DnsPointerLoop { offset: 12 }
    );
    // Two pointers pointing at each other: whichever is met first, one of them points forward.
    let frame = udp_dns_frame(&raw_name_message(&[0xc0, 14, 0xc0, 12]));
    let e = error(LinkType::Ethernet, &frame);
    assert_eq!(
        e,
        DecodeError::DnsForwardPointer {
            offset: 12,
            target: 14
        }
    );
    assert_eq!(e.category(), "dns_forward_pointer");
    // A forward pointer into the answer section.
    let frame = udp_dns_frame(&raw_name_message(&[3, b'w', b'w', b'w', 0xc0, 30]));
    assert_eq!(
        error(LinkType::Ethernet, &frame).category(),
        "dns_forward_pointer"
    );
    // A long chain of backward pointers is bounded: question 1 is "a"; every later question is a
    // pointer to the previous question's name, so question k follows k-1 pointers.
    let mut direct = vec![0xbe, 0xef, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0];
    direct.extend_from_slice(&[1, b'a', 0, 0, 1, 0, 1]);
    let mut prev = 12u16;
    for _ in 0..(holt_decode::MAX_POINTERS + 2) {
        let here = direct.len() as u16;
        direct.extend_from_slice(&(0xc000 | prev).to_be_bytes());
        direct.extend_from_slice(&[0, 1, 0, 1]);
        prev = here;
    }
    let qd = 1 + holt_decode::MAX_POINTERS as u16 + 2;
    direct[4..6].copy_from_slice(&qd.to_be_bytes());
    let frame = udp_dns_frame(&direct);
    assert_eq!(error(LinkType::Ethernet, &frame).category(), "dns_pointer_loop");
}

#[test]
fn over_long_names_and_bad_labels() {
    // 4 labels of 63 bytes: 4 * 64 + 1 = 257 > 255.
    let mut name = Vec::new();
    for _ in 0..4 {
        name.push(63);
        name.extend_from_slice(&[b'x'; 63]);
    }
    name.push(0);
    let frame = udp_dns_frame(&raw_name_message(&name));
    assert_eq!(error(LinkType::Ethernet, &frame).category(), "dns_name_too_long");

    // Exactly 255: 3 * 64 + 62 + 1.
    let mut name = Vec::new();
    for _ in 0..3 {
        name.push(63);
        name.extend_from_slice(&[b'y'; 63]);
    }
    name.push(61);
    name.extend_from_slice(&[b'z'; 61]);
    name.push(0);
    assert_eq!(name.len(), MAX_NAME_LEN);
    let frame = udp_dns_frame(&raw_name_message(&name));
    let response = dns(&frame);
    let answer = response.answers().next().expect("test data is well formed");
    let mut buf = [0u8; MAX_NAME_LEN];
    let text = answer.name.write_to(&mut buf);
    assert_eq!(text.len(), 253);
    assert!(text.ends_with(&format!(".{}", "z".repeat(61))), "{text}");

    // Length byte 0x40 (extended label type) and 0x80 (reserved).
    for bad in [0x41u8, 0x80] {
        let frame = udp_dns_frame(&raw_name_message(&[bad, b'a', 0]));
        assert_eq!(error(LinkType::Ethernet, &frame).category(), "bad_dns_name");
    }
    // A space and a dot inside a label.
    for bad in [b' ', b'.', 0x00, 0xc3] {
        let frame = udp_dns_frame(&raw_name_message(&[3, b'a', bad, b'b', 0]));
        assert!(
            matches!(
                error(LinkType::Ethernet, &frame),
                DecodeError::BadDnsNameCharacter { .. }
            ),
            "{bad:#x}"
        );
    }
    // A name running off the end of the message.
    let frame = udp_dns_frame(&[0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 5, b'a']);
    assert_eq!(error(LinkType::Ethernet, &frame).category(), "truncated");
}

#[test]
fn records_with_wrong_lengths() {
    let short_a = Dns::response(0)
        .question("x.example", TYPE_A)
        .raw_record("x.example", TYPE_A, 1, &[1, 2, 3])
        .build();
    assert_eq!(
        error(LinkType::Ethernet, &udp_dns_frame(&short_a)).category(),
        "bad_dns_record"
    );
    let long_aaaa = Dns::response(0)
        .question("x.example", TYPE_AAAA)
        .raw_record("x.example", TYPE_AAAA, 1, &[0; 17])
        .build();
    assert_eq!(
        error(LinkType::Ethernet, &udp_dns_frame(&long_aaaa)).category(),
        "bad_dns_record"
    );
    // CNAME whose name runs past RDLENGTH.
    let cname = Dns::response(0)
        .question("x.example", TYPE_A)
        .raw_record("x.example", TYPE_CNAME, 1, &[1, b'y'])
        .raw_record("y", TYPE_TXT, 1, &[0])
        .build();
    let e = error(LinkType::Ethernet, &udp_dns_frame(&cname));
    assert!(
        matches!(
            e,
            DecodeError::BadDnsRecordLength { rtype: 5, .. }
                | DecodeError::BadDnsLabelType { .. }
                | DecodeError::BadDnsNameCharacter { .. }
        ),
        "{e:?}"
    );
    // RDLENGTH past the end of the message.
    let mut m = Dns::response(0)
        .question("x.example", TYPE_A)
        .a("x.example", 1, [1, 2, 3, 4])
        .build();
    let n = m.len();
    m[n - 6..n - 4].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(
        error(LinkType::Ethernet, &udp_dns_frame(&m)).category(),
        "truncated"
    );
    // An ANCOUNT larger than the records present.
    let mut m = cname_message();
    m[7] = 9;
    assert_eq!(
        error(LinkType::Ethernet, &udp_dns_frame(&m)).category(),
        "truncated"
    );
}

#[test]
fn names_print_lower_case_without_trailing_dot() {
    let message = Dns::response(0)
        .question("Mixed.Case.EXAMPLE", TYPE_A)
        .a("mixed.case.example", 1, [1, 2, 3, 4])
        .build();
    let frame = udp_dns_frame(&message);
    let response = dns(&frame);
    let name = response.questions().next().expect("test data is well formed");
    let mut buf = [0u8; MAX_NAME_LEN];
    assert_eq!(name.write_to(&mut buf), "mixed.case.example");
    assert_eq!(format!("{name}"), "mixed.case.example");
    assert_eq!(format!("{name:?}"), "DnsName(mixed.case.example)");
    assert!(name.eq_dotted("mixed.case.example"));
    assert!(name.eq_dotted("MIXED.case.example."));
    assert!(!name.eq_dotted("mixed.case"));
    assert!(!name.eq_dotted("mixed.case.example.com"));
    assert!(!name.eq_dotted(""));
    let labels: Vec<&[u8]> = name.labels().collect();
    assert_eq!(labels, [&b"Mixed"[..], b"Case", b"EXAMPLE"]);
    // The answer's name is the question's, equal to a differently-cased copy.
    assert_eq!(
        response.answers().next().expect("test data is well formed").name,
        name
    );
}

#[test]
fn error_display_and_categories() {
    let e = DecodeError::Truncated {
        layer: holt_decode::Layer::Udp,
        needed: 8,
        available: 3,
    };
    assert_eq!(e.to_string(), "udp truncated: needs 8 bytes, 3 available");
    assert_eq!(e.category(), "truncated");
    assert_eq!(e.layer(), holt_decode::Layer::Udp);
    assert_eq!(
        DecodeError::DnsPointerLoop { offset: 12 }.category(),
        "dns_pointer_loop"
    );
}

#[test]
fn envelope_locates_the_dns_message_without_decoding_it() {
    let message = cname_message();
    let frame = udp_dns_frame(&message);
    let Ok(holt_decode::Envelope::Dns(located)) = holt_decode::envelope(LinkType::Ethernet, &frame) else {
        panic!("a DNS message");
    };
    assert_eq!((located.client, located.client_port), (v4(CLIENT_V4), 40000));
    assert_eq!((located.server, located.server_port), (v4(SERVER_V4), 53));
    assert_eq!(located.message, &message[..]);
    assert_eq!(located.decode(), decode(LinkType::Ethernet, &frame));
    // Located even when decoding it fails: the second stage finds out.
    let cut = &message[..20];
    let cut_frame = udp_dns_frame(cut);
    let Ok(holt_decode::Envelope::Dns(located)) = holt_decode::envelope(LinkType::Ethernet, &cut_frame)
    else {
        panic!("a DNS message");
    };
    assert_eq!(located.message, cut);
    assert!(located.decode().is_err());
    assert!(matches!(
        holt_decode::envelope(LinkType::Ethernet, &tcp_frame(SYN)),
        Ok(holt_decode::Envelope::Syn(_))
    ));
    assert!(holt_decode::envelope(LinkType::Ethernet, &frame[..30]).is_err());
}
