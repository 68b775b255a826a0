//! IP addresses written as text into a byte buffer, the same text as `std`'s `Display` (RFC 5952 for
//! IPv6: lower-case hex, no leading zeros, the first longest run of two or more zero groups as `::`,
//! IPv4-mapped addresses as `::ffff:a.b.c.d`) without going through `core::fmt`, which cost more than
//! decoding the packet did in a report of 60,000 new observations.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Appends `ip` in its standard text form.
pub fn write_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => write_ipv4(out, v4),
        IpAddr::V6(v6) => write_ipv6(out, v6),
    }
}

/// Appends `a.b.c.d`.
pub fn write_ipv4(out: &mut Vec<u8>, ip: Ipv4Addr) {
    for (n, octet) in ip.octets().into_iter().enumerate() {
        if n > 0 {
            out.push(b'.');
        }
        write_octet(out, octet);
    }
}

fn write_octet(out: &mut Vec<u8>, octet: u8) {
    if octet >= 100 {
        out.push(b'0' + octet / 100);
    }
    if octet >= 10 {
        out.push(b'0' + octet / 10 % 10);
    }
    out.push(b'0' + octet % 10);
}

/// Appends the RFC 5952 form of `ip`.
pub fn write_ipv6(out: &mut Vec<u8>, ip: Ipv6Addr) {
    if let Some(v4) = ip.to_ipv4_mapped() {
        out.extend_from_slice(b"::ffff:");
        write_ipv4(out, v4);
        return;
    }
    let groups = ip.segments();
    let (start, len) = longest_zero_run(&groups);
    if len < 2 {
        write_groups(out, &groups);
        return;
    }
    write_groups(out, groups.get(..start).unwrap_or_default());
    out.extend_from_slice(b"::");
    write_groups(out, groups.get(start + len..).unwrap_or_default());
}

/// (start, length) of the first longest run of zero groups; length 0 when there is none.
fn longest_zero_run(groups: &[u16; 8]) -> (usize, usize) {
    let (mut best, mut current) = ((0, 0), (0, 0));
    for (index, &group) in groups.iter().enumerate() {
        if group != 0 {
            current = (index + 1, 0);
            continue;
        }
        current.1 += 1;
        if current.1 > best.1 {
            best = current;
        }
    }
    best
}

fn write_groups(out: &mut Vec<u8>, groups: &[u16]) {
    for (n, &group) in groups.iter().enumerate() {
        if n > 0 {
            out.push(b':');
        }
        write_hex(out, group);
    }
}

fn write_hex(out: &mut Vec<u8>, group: u16) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut shift = 12;
    while shift > 0 && group >> shift == 0 {
        shift -= 4;
    }
    loop {
        out.push(DIGITS[usize::from(group >> shift & 0xf)]);
        if shift == 0 {
            return;
        }
        shift -= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(ip: IpAddr) -> String {
        let mut out = Vec::new();
        write_ip(&mut out, ip);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn matches_display_on_the_edge_cases() {
        for ip in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.9.100",
            "::",
            "::1",
            "1::",
            "fd00::1:0:0:2",
            "1:0:0:2:0:0:0:3",
            "1:0:0:2:0:0:3:4",
            "0:1:0:1:0:1:0:1",
            "1:2:3:4:5:6:7:8",
            "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
            "::ffff:10.1.2.3",
            "::10.1.2.3",
            "64:ff9b::10.1.2.3",
            "fe80::1ff:fe23:4567:890a",
        ] {
            let ip: IpAddr = ip.parse().unwrap_or(IpAddr::from([0u8; 4]));
            assert_eq!(text(ip), ip.to_string());
        }
    }

    proptest! {
        #[test]
        fn matches_display_for_any_address(octets in any::<[u8; 16]>(), zeroes in any::<u8>()) {
            // Zero out groups by a mask, so that runs of zero groups are common.
            let mut groups = Ipv6Addr::from(octets).segments();
            for (n, group) in groups.iter_mut().enumerate() {
                if zeroes >> n & 1 == 1 {
                    *group = 0;
                }
            }
            let v6 = IpAddr::V6(Ipv6Addr::from(groups));
            prop_assert_eq!(text(v6), v6.to_string());
            let v4 = IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]));
            prop_assert_eq!(text(v4), v4.to_string());
        }
    }
}
