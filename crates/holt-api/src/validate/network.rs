//! Checks on network names written in objects: domain names (IDNA, with an optional `*.` wildcard), IP
//! addresses and CIDRs, and `host:port` addresses.

use std::net::{IpAddr, Ipv6Addr};

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

/// Why a domain is not valid, or `Ok` with whether it is a wildcard (`*.example.com`).
pub fn check_domain(domain: &str) -> Result<Wildcard, &'static str> {
    if let Some(rest) = domain.strip_prefix("*.") {
        check_host_name(rest)?;
        return Ok(Wildcard::Yes);
    }
    if domain.contains('*') {
        return Err("a wildcard must be the whole first label, as in `*.example.com`");
    }
    check_host_name(domain)?;
    Ok(Wildcard::No)
}

/// Whether a valid domain is a wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wildcard {
    Yes,
    No,
}

/// A DNS host name, possibly internationalised: it must map to ASCII under IDNA (UTS #46) with the STD3
/// character rules, labels of 1–63 characters that do not start or end with `-`, 253 characters at most,
/// and an optional final root dot.
pub fn check_host_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    Uts46::new()
        .to_ascii(name.as_bytes(), AsciiDenyList::STD3, Hyphens::CheckFirstLast, DnsLength::VerifyAllowRootDot)
        .map(|_| ())
        .map_err(|_| {
            "labels must be 1-63 letters, digits or `-` (not first or last), 253 characters in all, IDNA-valid"
        })
}

/// True for an IPv4/IPv6 address or a CIDR (`10.0.0.0/8`, `2001:db8::/32`; host bits may be set).
pub fn is_ip_or_cidr(text: &str) -> bool {
    match text.split_once('/') {
        None => text.parse::<IpAddr>().is_ok(),
        Some((address, prefix)) => {
            let max = match address.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => 32,
                Ok(IpAddr::V6(_)) => 128,
                Err(_) => return false,
            };
            prefix.len() <= 3
                && prefix.bytes().all(|b| b.is_ascii_digit())
                && prefix.parse::<u8>().is_ok_and(|p| p <= max)
        }
    }
}

/// Why `addr` is not `host:port` (host a DNS name, an IPv4 address or a bracketed IPv6 address; port 1–65535).
pub fn check_host_port(addr: &str) -> Result<(), &'static str> {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err("it has no `:port`");
    };
    if !port.bytes().all(|b| b.is_ascii_digit()) || !port.parse::<u16>().is_ok_and(|p| p > 0) {
        return Err("the port must be a number between 1 and 65535");
    }
    if let Some(inner) = host.strip_prefix('[') {
        return match inner.strip_suffix(']').map(str::parse::<Ipv6Addr>) {
            Some(Ok(_)) => Ok(()),
            _ => Err("a bracketed host must be an IPv6 address"),
        };
    }
    if host.contains(':') {
        return Err("an IPv6 host must be written in brackets, as in `[::1]:9092`");
    }
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    check_host_name(host).map_err(|_| "the host is not a valid DNS name or IP address")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        for ok in [
            "example.com",
            "a.b.example.com.",
            "xn--bcher-kva.example",
            "bücher.example",
            "Example.COM",
            "localhost",
        ] {
            assert_eq!(check_domain(ok), Ok(Wildcard::No), "{ok}");
        }
        assert_eq!(check_domain("*.example.com"), Ok(Wildcard::Yes));
        for bad in [
            "",
            "exa mple.com",
            "under_score.com",
            "-lead.com",
            "trail-.com",
            "a..b",
            "*example.com",
            "foo.*.com",
            "*.",
            "http://example.com",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}com", "abcdefghi.".repeat(26)),
        ] {
            assert!(check_domain(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn ips() {
        for ok in [
            "10.0.0.1",
            "10.0.0.0/8",
            "10.1.2.3/8",
            "0.0.0.0/0",
            "::1",
            "2001:db8::/32",
            "2001:db8::1/128",
        ] {
            assert!(is_ip_or_cidr(ok), "{ok}");
        }
        for bad in [
            "",
            "10.0.0",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "example.com",
            "10.0.0.0/8/8",
        ] {
            assert!(!is_ip_or_cidr(bad), "{bad} should be rejected");
        }
    }

    #[test]
    fn host_ports() {
        for ok in [
            "kafka:9092",
            "kafka.kafka.svc.cluster.local:9092",
            "10.0.0.1:9092",
            "[::1]:9092",
        ] {
            assert_eq!(check_host_port(ok), Ok(()), "{ok}");
        }
        for bad in [
            "kafka",
            "kafka:",
            ":9092",
            "kafka:0",
            "kafka:65536",
            "kafka:x",
            "::1:9092",
            "[nope]:1",
            "a b:1",
        ] {
            assert!(check_host_port(bad).is_err(), "{bad} should be rejected");
        }
    }
}
