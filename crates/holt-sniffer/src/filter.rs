//! The classic BPF program the kernel runs on every packet before it reaches the capture ring: it
//! passes DNS responses (UDP or TCP from port 53), TCP connection attempts (SYN without ACK) and TCP
//! segments whose payload begins like an HTTP/1.x request line (the first four bytes of `GET `, `POST`,
//! `PUT `, `DELETE`, `OPTIONS`, `TRACE`, `PATCH`), over IPv4 and IPv6, and nothing else.
//!
//! The capture socket is `SOCK_DGRAM`, so the program sees each packet from its network header (offset
//! 0 is the IP header on every interface type) and reads the EtherType from the socket buffer's
//! protocol (the `SKF_AD_PROTOCOL` ancillary load). IPv4 fragments other than the first are dropped
//! (they carry no transport header). In IPv6, the transport header may follow the fixed header
//! directly or after one extension header: hop-by-hop options, routing, destination options, or a
//! first fragment's header (libpcap's `tcp`/`udp` primitives take none; a chain of two or more is not
//! followed). Both families end in the same transport tests, with the protocol in A, the transport
//! header's offset in X and the protocol kept in scratch memory M\[0\].
//!
//! The same selection, in tcpdump syntax for an Ethernet interface, is [`TCPDUMP_EXPRESSION`] (without
//! IPv6 extension headers, which tcpdump's syntax cannot follow, and HTTP over IPv4 only).

use holt_decode::http::REQUEST_PREFIXES;

/// The bytes of each accepted packet the kernel copies into the ring (what tcpdump uses by default).
pub const SNAP_LEN: u32 = 262_144;

/// The selection in pcap-filter syntax, for running `tcpdump` side by side (benchmark, docs).
pub const TCPDUMP_EXPRESSION: &str = "((tcp or udp) and src port 53) or \
     (tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn) or \
     (ip6 and ip6[6] == 6 and ip6[53] & 0x12 == 0x02) or \
     (ip and (tcp[((tcp[12:1] & 0xf0) >> 2):4] == 0x47455420 or tcp[((tcp[12:1] & 0xf0) >> 2):4] == 0x504f5354 or \
       tcp[((tcp[12:1] & 0xf0) >> 2):4] == 0x50555420 or tcp[((tcp[12:1] & 0xf0) >> 2):4] == 0x44454c45 or \
       tcp[((tcp[12:1] & 0xf0) >> 2):4] == 0x4f505449 or tcp[((tcp[12:1] & 0xf0) >> 2):4] == 0x54524143 or \
       tcp[((tcp[12:1] & 0xf0) >> 2):4] == 0x50415443))";

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instruction {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// What is captured (the `--enable-dns` / `--enable-tcp` / `--enable-http` flags): what the kernel filter passes and the
/// recorder records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// DNS responses: UDP or TCP from port 53.
    pub dns: bool,
    /// TCP connection attempts: SYN set, ACK clear.
    pub tcp_syn: bool,
    /// TCP segments whose payload begins like an HTTP/1.x request line (the first four bytes of a
    /// recognised method's line, [`holt_decode::http::REQUEST_PREFIXES`]).
    pub http: bool,
}

// Opcodes (linux/filter.h, linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const LD_H_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
const LD_H_IND: u16 = 0x48; // BPF_LD | BPF_H | BPF_IND
const LD_B_IND: u16 = 0x50; // BPF_LD | BPF_B | BPF_IND
const LD_MEM: u16 = 0x60; // BPF_LD | BPF_W | BPF_MEM: A = M[k]
const LDX_IMM: u16 = 0x01; // BPF_LDX | BPF_W | BPF_IMM: X = k
const LDX_B_MSH: u16 = 0xb1; // BPF_LDX | BPF_B | BPF_MSH: X = 4 * (packet[k] & 0xf)
const ST: u16 = 0x02; // BPF_ST: M[k] = A
const ALU_ADD_K: u16 = 0x04; // BPF_ALU | BPF_ADD | BPF_K
const ALU_LSH_K: u16 = 0x64; // BPF_ALU | BPF_LSH | BPF_K
const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU_RSH_K: u16 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU_ADD_X: u16 = 0x0c; // BPF_ALU | BPF_ADD | BPF_X: A += X
const LD_W_IND: u16 = 0x40; // BPF_LD | BPF_W | BPF_IND
const TAX: u16 = 0x07; // BPF_MISC | BPF_TAX: X = A
const JA: u16 = 0x05; // BPF_JMP | BPF_JA: pc += k
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// `SKF_AD_OFF + SKF_AD_PROTOCOL`: loads `ntohs(skb->protocol)`.
const AD_PROTOCOL: u32 = 0xffff_f000;

const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const PROTO_TCP: u32 = 6;
const PROTO_UDP: u32 = 17;
// IPv6 extension headers followed (RFC 8200 §4).
const IPV6_HOP_BY_HOP: u32 = 0;
const IPV6_ROUTING: u32 = 43;
const IPV6_FRAGMENT: u32 = 44;
const IPV6_DESTINATION: u32 = 60;
const DNS_PORT: u32 = holt_decode::DNS_PORT as u32;
const TCP_SYN: u32 = 0x02;
const TCP_SYN_ACK: u32 = 0x12;

const fn op(code: u16, k: u32) -> Instruction {
    Instruction {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Instruction {
    Instruction { code, jt, jf, k }
}

/// Index of the `jeq #53` instruction, of the final SYN test and of the HTTP tail's first instruction,
/// patched by [`program`] when a selection is off.
const DNS_PORT_TEST: usize = 28;
const SYN_TEST: usize = 33;
const HTTP_TEST: usize = 34;
#[cfg(test)]
const ACCEPT: usize = 47;
const REJECT: usize = 48;

/// The full program; jump offsets count from the next instruction. Labels: 2 = IPv4, 7 = IPv6,
/// 14 = extension header, 20 = fragment header, 24 = transport, 27 = ports, 34 = HTTP request line,
/// 47 = accept, 48 = reject.
const PROGRAM: [Instruction; 49] = [
    /* 0 */ op(LD_W_ABS, AD_PROTOCOL),
    /* 1 */ jump(JEQ_K, ETHERTYPE_IPV4, 0, 5), // → 2 (IPv4) | 7
    // IPv4
    /* 2 */ op(LD_H_ABS, 6), // flags + fragment offset
    /* 3 */ jump(JSET_K, 0x1fff, 44, 0), // non-first fragment → 48
    /* 4 */ op(LDX_B_MSH, 0), // X = IPv4 header length
    /* 5 */ op(LD_B_ABS, 9), // protocol
    /* 6 */ op(JA, 17), // → 24
    // IPv6 (A still holds the EtherType)
    /* 7 */
    jump(JEQ_K, ETHERTYPE_IPV6, 0, 40), // | → 48
    /* 8 */ op(LDX_IMM, 40), // the fixed header's length
    /* 9 */ op(LD_B_ABS, 6), // next header
    /* 10 */ jump(JEQ_K, IPV6_HOP_BY_HOP, 3, 0), // → 14
    /* 11 */ jump(JEQ_K, IPV6_ROUTING, 2, 0), // → 14
    /* 12 */ jump(JEQ_K, IPV6_DESTINATION, 1, 0), // → 14
    /* 13 */ jump(JEQ_K, IPV6_FRAGMENT, 6, 10), // → 20 | 24
    // An options or routing header: 8 bytes per unit of its length field, plus 8.
    /* 14 */
    op(LD_B_ABS, 41),
    /* 15 */ op(ALU_LSH_K, 3),
    /* 16 */ op(ALU_ADD_K, 40 + 8),
    /* 17 */ op(TAX, 0),
    /* 18 */ op(LD_B_ABS, 40), // its next header
    /* 19 */ op(JA, 4), // → 24
    // A fragment header: 8 bytes; only the first fragment has a transport header.
    /* 20 */
    op(LD_H_ABS, 42), // fragment offset and flags
    /* 21 */ jump(JSET_K, 0xfff8, 26, 0), // → 48
    /* 22 */ op(LDX_IMM, 40 + 8),
    /* 23 */ op(LD_B_ABS, 40), // its next header
    // Transport: A = protocol, X = where its header starts.
    /* 24 */ op(ST, 0),
    /* 25 */ jump(JEQ_K, PROTO_UDP, 1, 0), // → 27
    /* 26 */ jump(JEQ_K, PROTO_TCP, 0, 21), // | → 48
    /* 27 */ op(LD_H_IND, 0), // source port
    /* 28 */ jump(JEQ_K, DNS_PORT, 18, 0), // → 47
    /* 29 */ op(LD_MEM, 0),
    /* 30 */ jump(JEQ_K, PROTO_TCP, 0, 17), // | → 48
    /* 31 */ op(LD_B_IND, 13), // TCP flags
    /* 32 */ op(ALU_AND_K, TCP_SYN_ACK),
    /* 33 */ jump(JEQ_K, TCP_SYN, 13, 0), // → 47 | 34
    // HTTP: the payload's first four bytes against each recognised method's (a load past the end of
    // the packet rejects it, so segments without four payload bytes never pass).
    /* 34 */
    op(LD_B_IND, 12), // TCP data offset, in the high nibble
    /* 35 */ op(ALU_RSH_K, 2),
    /* 36 */ op(ALU_AND_K, 0x3c), // TCP header length
    /* 37 */ op(ALU_ADD_X, 0),
    /* 38 */ op(TAX, 0), // X = where the payload starts
    /* 39 */ op(LD_W_IND, 0),
    /* 40 */ jump(JEQ_K, REQUEST_PREFIXES[0], 6, 0), // "GET " → 47
    /* 41 */ jump(JEQ_K, REQUEST_PREFIXES[1], 5, 0), // "POST"
    /* 42 */ jump(JEQ_K, REQUEST_PREFIXES[2], 4, 0), // "PUT "
    /* 43 */ jump(JEQ_K, REQUEST_PREFIXES[3], 3, 0), // "DELE"
    /* 44 */ jump(JEQ_K, REQUEST_PREFIXES[4], 2, 0), // "OPTI"
    /* 45 */ jump(JEQ_K, REQUEST_PREFIXES[5], 1, 0), // "TRAC"
    /* 46 */ jump(JEQ_K, REQUEST_PREFIXES[6], 0, 1), // "PATC" → 47 | 48
    /* 47 */ op(RET_K, SNAP_LEN),
    /* 48 */ op(RET_K, 0),
];

/// The program for `selection`. With DNS off, the port-53 test falls through; with SYN capture off,
/// the SYN test goes on to the HTTP tail; with HTTP off, the tail rejects at once.
pub fn program(selection: Selection) -> Vec<Instruction> {
    let mut program = PROGRAM.to_vec();
    if !selection.dns
        && let Some(test) = program.get_mut(DNS_PORT_TEST)
    {
        test.jt = 0;
    }
    if !selection.tcp_syn
        && let Some(test) = program.get_mut(SYN_TEST)
    {
        // Both branches to the HTTP tail.
        test.jt = 0;
        test.jf = 0;
    }
    if !selection.http
        && let Some(test) = program.get_mut(HTTP_TEST)
    {
        *test = op(JA, (REJECT - HTTP_TEST - 1) as u32);
    }
    program
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic BPF interpreter for the instructions the program uses, with the kernel's rule that a
    /// load past the end of the packet rejects it.
    fn run(program: &[Instruction], protocol: u16, packet: &[u8]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let mut memory = [0u32; 16];
        let load = |offset: u32, size: usize| -> Option<u32> {
            let start = usize::try_from(offset).ok()?;
            let bytes = packet.get(start..start + size)?;
            Some(bytes.iter().fold(0, |acc, &b| (acc << 8) | u32::from(b)))
        };
        loop {
            let i = program[pc];
            pc += 1;
            let jump = |taken: bool| usize::from(if taken { i.jt } else { i.jf });
            match i.code {
                LD_W_ABS if i.k == AD_PROTOCOL => a = u32::from(protocol),
                LD_W_ABS => match load(i.k, 4) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LD_H_ABS => match load(i.k, 2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LD_B_ABS => match load(i.k, 1) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LD_H_IND => match load(x + i.k, 2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LD_B_IND => match load(x + i.k, 1) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LDX_B_MSH => match load(i.k, 1) {
                    Some(v) => x = 4 * (v & 0xf),
                    None => return 0,
                },
                LD_W_IND => match load(x + i.k, 4) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LD_MEM => a = memory[i.k as usize],
                LDX_IMM => x = i.k,
                ST => memory[i.k as usize] = a,
                ALU_ADD_K => a = a.wrapping_add(i.k),
                ALU_LSH_K => a <<= i.k,
                ALU_AND_K => a &= i.k,
                ALU_RSH_K => a >>= i.k,
                ALU_ADD_X => a = a.wrapping_add(x),
                TAX => x = a,
                JA => pc += i.k as usize,
                JEQ_K => pc += jump(a == i.k),
                JSET_K => pc += jump(a & i.k != 0),
                RET_K => return i.k,
                other => panic!("opcode {other:#x} not interpreted"),
            }
        }
    }

    fn ipv4(protocol: u8, ihl_words: u8, fragment: u16, transport: &[u8]) -> Vec<u8> {
        let mut p = vec![0x40 | ihl_words, 0, 0, 0, 0, 0];
        p.extend_from_slice(&fragment.to_be_bytes());
        p.extend_from_slice(&[64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        p.resize(usize::from(ihl_words) * 4, 0);
        p.extend_from_slice(transport);
        p
    }

    fn ipv6(next_header: u8, transport: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, next_header, 64];
        p.extend_from_slice(&[0xfd; 32]);
        p.extend_from_slice(transport);
        p
    }

    fn udp(src: u16, dst: u16) -> Vec<u8> {
        let mut t = src.to_be_bytes().to_vec();
        t.extend_from_slice(&dst.to_be_bytes());
        t.extend_from_slice(&[0, 20, 0, 0]);
        t.extend_from_slice(&[0; 12]);
        t
    }

    fn tcp(src: u16, dst: u16, flags: u8) -> Vec<u8> {
        let mut t = src.to_be_bytes().to_vec();
        t.extend_from_slice(&dst.to_be_bytes());
        t.extend_from_slice(&[0; 8]);
        t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        t
    }

    const ALL: Selection = Selection {
        dns: true,
        tcp_syn: true,
        http: true,
    };
    const V4: u16 = 0x0800;
    const V6: u16 = 0x86dd;

    #[test]
    fn jumps_stay_inside_the_program_and_end_in_returns() {
        for selection in [
            ALL,
            Selection {
                dns: false,
                tcp_syn: true,
                http: true,
            },
            Selection {
                dns: true,
                tcp_syn: false,
                http: true,
            },
            Selection {
                dns: true,
                tcp_syn: true,
                http: false,
            },
        ] {
            let program = program(selection);
            for (pc, i) in program.iter().enumerate() {
                if i.code == JA {
                    assert!(pc + 1 + (i.k as usize) < program.len(), "{pc}");
                } else if i.code & 0x07 == 0x05 {
                    assert!(pc + 1 + usize::from(i.jt.max(i.jf)) < program.len(), "{pc}");
                }
            }
            assert_eq!(program[ACCEPT], op(RET_K, SNAP_LEN));
            assert_eq!(program[REJECT], op(RET_K, 0));
        }
    }

    #[test]
    fn passes_dns_responses_and_syns_over_ipv4() {
        let p = program(ALL);
        let passed = [
            (ipv4(17, 5, 0, &udp(53, 40000)), "UDP response"),
            (ipv4(6, 5, 0, &tcp(53, 40000, 0x18)), "TCP response"),
            (ipv4(6, 5, 0, &tcp(40000, 80, 0x02)), "SYN"),
            (ipv4(6, 5, 0, &tcp(40000, 80, 0xc2)), "SYN with ECN bits"),
            (ipv4(6, 6, 0, &tcp(40000, 80, 0x02)), "SYN after IP options"),
            (ipv4(17, 5, 0x2000, &udp(53, 1)), "first fragment"),
        ];
        for (packet, what) in passed {
            assert_eq!(run(&p, V4, &packet), SNAP_LEN, "{what}");
        }
    }

    #[test]
    fn rejects_everything_else_over_ipv4() {
        let p = program(ALL);
        assert_eq!(run(&p, V4, &ipv4(17, 5, 0, &udp(40000, 53))), 0, "query");
        assert_eq!(run(&p, V4, &ipv4(6, 5, 0, &tcp(80, 40000, 0x12))), 0, "SYN-ACK");
        assert_eq!(run(&p, V4, &ipv4(6, 5, 0, &tcp(40000, 80, 0x10))), 0, "ACK");
        assert_eq!(run(&p, V4, &ipv4(1, 5, 0, &udp(53, 1))), 0, "ICMP");
        assert_eq!(
            run(&p, V4, &ipv4(17, 5, 0x0010, &udp(53, 1))),
            0,
            "non-first fragment"
        );
        assert_eq!(
            run(&p, V4, &ipv4(6, 5, 0, &tcp(40000, 80, 0x02))[..30]),
            0,
            "cut header"
        );
        assert_eq!(run(&p, 0x0806, &ipv4(17, 5, 0, &udp(53, 1))), 0, "ARP");
    }

    #[test]
    fn passes_dns_responses_and_syns_over_ipv6_only() {
        let p = program(ALL);
        assert_eq!(run(&p, V6, &ipv6(17, &udp(53, 40000))), SNAP_LEN, "UDP response");
        assert_eq!(
            run(&p, V6, &ipv6(6, &tcp(53, 40000, 0x18))),
            SNAP_LEN,
            "TCP response"
        );
        assert_eq!(run(&p, V6, &ipv6(6, &tcp(40000, 443, 0x02))), SNAP_LEN, "SYN");
        assert_eq!(run(&p, V6, &ipv6(6, &tcp(443, 40000, 0x12))), 0, "SYN-ACK");
        assert_eq!(run(&p, V6, &ipv6(17, &udp(40000, 53))), 0, "query");
        assert_eq!(run(&p, V6, &ipv6(58, &udp(53, 1))), 0, "ICMPv6");
    }

    /// An options or routing header (next header `next`, 8 × (`units` + 1) bytes) in front of
    /// `transport`.
    fn extension(next: u8, units: u8, transport: &[u8]) -> Vec<u8> {
        let mut h = vec![next, units];
        h.resize(8 * (usize::from(units) + 1), 0);
        h.extend_from_slice(transport);
        h
    }

    /// A fragment header (next header `next`, offset in 8-byte units, more-fragments flag).
    fn fragment(next: u8, offset: u16, more: bool, transport: &[u8]) -> Vec<u8> {
        let mut h = vec![next, 0];
        h.extend_from_slice(&(offset << 3 | u16::from(more)).to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 1]);
        h.extend_from_slice(transport);
        h
    }

    #[test]
    fn follows_one_ipv6_extension_header() {
        let p = program(ALL);
        let dns = udp(53, 40000);
        let syn = tcp(40000, 443, 0x02);
        for (kind, name) in [(0u8, "hop-by-hop"), (43, "routing"), (60, "destination options")] {
            assert_eq!(
                run(&p, V6, &ipv6(kind, &extension(17, 0, &dns))),
                SNAP_LEN,
                "{name}, DNS"
            );
            assert_eq!(
                run(&p, V6, &ipv6(kind, &extension(6, 2, &syn))),
                SNAP_LEN,
                "{name}, SYN"
            );
            assert_eq!(
                run(&p, V6, &ipv6(kind, &extension(6, 1, &tcp(443, 40000, 0x12)))),
                0,
                "{name}, SYN-ACK"
            );
        }
        assert_eq!(
            run(&p, V6, &ipv6(44, &fragment(17, 0, true, &dns))),
            SNAP_LEN,
            "first fragment"
        );
        assert_eq!(
            run(&p, V6, &ipv6(44, &fragment(17, 3, false, &dns))),
            0,
            "later fragment"
        );
        assert_eq!(
            run(&p, V6, &ipv6(0, &extension(60, 0, &extension(17, 0, &dns)))),
            0,
            "a chain of two is not followed"
        );
        assert_eq!(run(&p, V6, &ipv6(0, &[17, 0, 0])), 0, "cut extension header");
    }

    #[test]
    fn selections_switch_each_half_off() {
        let dns_only = program(Selection {
            dns: true,
            tcp_syn: false,
            http: false,
        });
        assert_eq!(run(&dns_only, V4, &ipv4(17, 5, 0, &udp(53, 1))), SNAP_LEN);
        assert_eq!(run(&dns_only, V6, &ipv6(17, &udp(53, 1))), SNAP_LEN);
        assert_eq!(run(&dns_only, V4, &ipv4(6, 5, 0, &tcp(1, 80, 0x02))), 0);
        assert_eq!(run(&dns_only, V6, &ipv6(6, &tcp(1, 80, 0x02))), 0);

        let syn_only = program(Selection {
            dns: false,
            tcp_syn: true,
            http: false,
        });
        assert_eq!(run(&syn_only, V4, &ipv4(17, 5, 0, &udp(53, 1))), 0);
        assert_eq!(run(&syn_only, V6, &ipv6(17, &udp(53, 1))), 0);
        assert_eq!(run(&syn_only, V4, &ipv4(6, 5, 0, &tcp(1, 80, 0x02))), SNAP_LEN);
        assert_eq!(
            run(&syn_only, V6, &ipv6(6, &tcp(53, 80, 0x02))),
            SNAP_LEN,
            "SYN from port 53"
        );
        assert_eq!(
            run(&syn_only, V4, &ipv4(6, 5, 0, &tcp(53, 80, 0x18))),
            0,
            "TCP DNS"
        );
    }

    /// TCP from `src` to `dst` with flags PSH+ACK, a 32-byte header (options) and `payload`.
    fn tcp_data(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
        let mut t = src.to_be_bytes().to_vec();
        t.extend_from_slice(&dst.to_be_bytes());
        t.extend_from_slice(&[0; 8]);
        t.extend_from_slice(&[0x80, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        t.extend_from_slice(&[1; 12]);
        t.extend_from_slice(payload);
        t
    }

    #[test]
    fn passes_segments_that_begin_like_request_lines() {
        let p = program(ALL);
        for method in holt_decode::Method::ALL {
            let line = format!("{} /x HTTP/1.1\r\n", method.as_str());
            let segment = tcp_data(40000, 80, line.as_bytes());
            assert_eq!(run(&p, V4, &ipv4(6, 5, 0, &segment)), SNAP_LEN, "{line}");
            assert_eq!(run(&p, V6, &ipv6(6, &segment)), SNAP_LEN, "{line}");
            assert_eq!(
                run(&p, V6, &ipv6(0, &extension(6, 0, &segment))),
                SNAP_LEN,
                "{line} behind a hop-by-hop header"
            );
        }
        assert_eq!(
            run(
                &p,
                V4,
                &ipv4(6, 6, 0, &tcp_data(1, 8080, b"POST /charge HTTP/1.1\r\n"))
            ),
            SNAP_LEN,
            "after IP options"
        );
        for (payload, what) in [
            (&b"HTTP/1.1 200 OK\r\n"[..], "a response"),
            (b"HEAD / HTTP/1.1\r\n", "HEAD"),
            (b"get / HTTP/1.1\r\n", "lower case"),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01", "a TLS ClientHello"),
            (b"GET", "three bytes"),
            (b"", "no payload"),
        ] {
            let segment = tcp_data(40000, 80, payload);
            assert_eq!(run(&p, V4, &ipv4(6, 5, 0, &segment)), 0, "{what}");
            assert_eq!(run(&p, V6, &ipv6(6, &segment)), 0, "{what}");
        }
        assert_eq!(
            run(&p, V4, &ipv4(17, 5, 0, &udp(40000, 80))),
            0,
            "UDP is never read as HTTP"
        );
    }

    #[test]
    fn http_is_switched_off_on_its_own() {
        let request = tcp_data(40000, 80, b"GET /orders/17 HTTP/1.1\r\n");
        let off = program(Selection {
            dns: true,
            tcp_syn: true,
            http: false,
        });
        assert_eq!(run(&off, V4, &ipv4(6, 5, 0, &request)), 0);
        assert_eq!(run(&off, V4, &ipv4(6, 5, 0, &tcp(40000, 80, 0x02))), SNAP_LEN);
        let http_only = program(Selection {
            dns: false,
            tcp_syn: false,
            http: true,
        });
        assert_eq!(run(&http_only, V4, &ipv4(6, 5, 0, &request)), SNAP_LEN);
        assert_eq!(run(&http_only, V6, &ipv6(6, &request)), SNAP_LEN);
        assert_eq!(run(&http_only, V4, &ipv4(6, 5, 0, &tcp(40000, 80, 0x02))), 0);
        assert_eq!(run(&http_only, V4, &ipv4(17, 5, 0, &udp(53, 1))), 0);
    }
}
