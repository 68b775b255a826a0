//! Internet addresses as NetworkPolicy `ipBlock` CIDRs: an IP becomes a host CIDR (`/32`, `/128`), a CIDR is
//! kept (normalised to its network address), and IPv4 hosts can be grouped into their `/24`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A network: an address with its host bits cleared, and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is neither an IP address nor a CIDR")]
pub struct CidrError(pub String);

impl Cidr {
    /// Parses `10.1.2.3`, `2001:db8::1`, `10.0.0.0/8` or `2001:db8::/32`.
    pub fn parse(text: &str) -> Result<Cidr, CidrError> {
        let invalid = || CidrError(text.to_owned());
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => {
                let addr: IpAddr = addr.trim().parse().map_err(|_| invalid())?;
                let prefix: u8 = prefix.trim().parse().map_err(|_| invalid())?;
                (addr, prefix)
            }
            None => {
                let addr: IpAddr = text.trim().parse().map_err(|_| invalid())?;
                (addr, max_prefix(addr))
            }
        };
        if prefix > max_prefix(addr) {
            return Err(invalid());
        }
        Ok(Cidr::new(addr, prefix))
    }

    /// The host CIDR of an address.
    pub fn host(addr: IpAddr) -> Cidr {
        Cidr::new(addr, max_prefix(addr))
    }

    fn new(addr: IpAddr, prefix: u8) -> Cidr {
        let addr = match addr {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        };
        Cidr { addr, prefix }
    }

    /// An IPv4 network narrower than `/24` widened to its `/24`; anything else unchanged.
    pub fn grouped_to_24(self) -> Cidr {
        match self.addr {
            IpAddr::V4(_) if self.prefix > 24 => Cidr::new(self.addr, 24),
            _ => self,
        }
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_host_cidrs_and_cidrs_are_normalised() {
        let show = |s: &str| Cidr::parse(s).map(|c| c.to_string());
        assert_eq!(show("10.1.2.3"), Ok("10.1.2.3/32".into()));
        assert_eq!(show("2001:db8::1"), Ok("2001:db8::1/128".into()));
        assert_eq!(show("10.1.2.3/8"), Ok("10.0.0.0/8".into()));
        assert_eq!(show("0.0.0.0/0"), Ok("0.0.0.0/0".into()));
        assert_eq!(show("2001:db8::1/32"), Ok("2001:db8::/32".into()));
        assert!(show("10.1.2.3/33").is_err());
        assert!(show("example.com").is_err());
        assert!(show("10.1.2.3/x").is_err());
    }

    #[test]
    fn grouping_widens_only_narrow_ipv4_networks() {
        let group = |s: &str| Cidr::parse(s).map(|c| c.grouped_to_24().to_string());
        assert_eq!(group("10.1.2.3"), Ok("10.1.2.0/24".into()));
        assert_eq!(group("10.1.2.0/25"), Ok("10.1.2.0/24".into()));
        assert_eq!(group("10.0.0.0/16"), Ok("10.0.0.0/16".into()));
        assert_eq!(group("2001:db8::1"), Ok("2001:db8::1/128".into()));
    }
}
