//! IP address blocks (`10.0.0.0/8`, `fd00::/64`): parsed from the text of an `ipBlock`, asked whether they
//! hold an address. An IPv4 block never holds an IPv6 address and the other way round.

use std::net::IpAddr;

/// A parsed CIDR block: the network's leading bits, as a number, and how many of them count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: u128,
    prefix: u8,
    v6: bool,
}

/// Why a CIDR's text is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("`{0}` is not a CIDR block (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8 or fd00::/64)")]
    Shape(String),
    #[error("`{0}`: the prefix length is longer than the address")]
    Prefix(String),
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Self, CidrError> {
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| CidrError::Shape(text.to_owned()))?;
        let address: IpAddr = address.parse().map_err(|_| CidrError::Shape(text.to_owned()))?;
        let prefix: u8 = prefix.parse().map_err(|_| CidrError::Shape(text.to_owned()))?;
        let (bits, v6) = bits_of(address);
        let width = if v6 { 128 } else { 32 };
        if prefix > width {
            return Err(CidrError::Prefix(text.to_owned()));
        }
        Ok(Self {
            network: bits & mask(prefix, width),
            prefix,
            v6,
        })
    }

    /// Whether `address` lies inside this block.
    pub fn contains(&self, address: IpAddr) -> bool {
        let (bits, v6) = bits_of(address);
        if v6 != self.v6 {
            return false;
        }
        let width = if v6 { 128 } else { 32 };
        bits & mask(self.prefix, width) == self.network
    }
}

/// The address as a number (IPv4 in the low 32 bits) and whether it is IPv6.
fn bits_of(address: IpAddr) -> (u128, bool) {
    match address {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), false),
        IpAddr::V6(v6) => (u128::from(v6), true),
    }
}

/// The mask of the first `prefix` bits of a `width`-bit address.
fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let all = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    let host_bits = u32::from(width - prefix);
    (all >> host_bits) << host_bits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn ipv4_blocks_hold_their_addresses_only() {
        let block = Cidr::parse("10.1.0.0/16").expect("valid");
        assert!(block.contains(ip("10.1.255.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(
            !block.contains(ip("::ffff:10.1.0.1")),
            "an IPv6 address is never in an IPv4 block"
        );
        assert!(
            Cidr::parse("0.0.0.0/0")
                .expect("valid")
                .contains(ip("203.0.113.9"))
        );
        assert!(
            Cidr::parse("10.1.2.3/32")
                .expect("valid")
                .contains(ip("10.1.2.3"))
        );
        assert!(
            !Cidr::parse("10.1.2.3/32")
                .expect("valid")
                .contains(ip("10.1.2.4"))
        );
    }

    #[test]
    fn ipv6_blocks_hold_their_addresses_only() {
        let block = Cidr::parse("fd00:1::/64").expect("valid");
        assert!(block.contains(ip("fd00:1::7")));
        assert!(!block.contains(ip("fd00:2::7")));
        assert!(!block.contains(ip("10.0.0.1")));
        assert!(Cidr::parse("::/0").expect("valid").contains(ip("2001:db8::1")));
        assert!(Cidr::parse("fd00::1/128").expect("valid").contains(ip("fd00::1")));
    }

    #[test]
    fn host_bits_in_the_text_are_ignored_as_the_api_server_does() {
        assert!(
            Cidr::parse("192.168.1.1/24")
                .expect("valid")
                .contains(ip("192.168.1.200"))
        );
    }

    #[test]
    fn malformed_blocks_are_refused_with_the_text() {
        for text in ["10.0.0.0", "10.0.0.0/33", "fd00::/129", "ten/8", "10.0.0.0/x", ""] {
            let error = Cidr::parse(text).expect_err(text);
            assert!(error.to_string().contains(&format!("`{text}`")), "{error}");
        }
    }
}
