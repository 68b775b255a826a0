//! An internet destination as the mapper lists it: one address, or a network of addresses grouped
//! together (`93.184.216.0/24`), as NetworkPolicy `ipBlock`s and ClientIntents `internet.ips` take them.
//! On the wire a string: the bare address for a single one, `address/prefix` for a network.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An address (a host block) or a network: an address with its host bits cleared and a prefix length.
/// Debug-printed as its text, like an address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpBlock {
    address: IpAddr,
    prefix: u8,
}

/// Why a text is not an [`IpBlock`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpBlockError(pub String);

impl fmt::Display for IpBlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is neither an IP address nor a CIDR", self.0)
    }
}

impl std::error::Error for IpBlockError {}

fn max_prefix(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

impl IpBlock {
    /// The network of `prefix` bits holding `address` (a prefix past the address's length is its length).
    pub fn network(address: IpAddr, prefix: u8) -> IpBlock {
        let prefix = prefix.min(max_prefix(address));
        let address = match address {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4(std::net::Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & mask))
            }
        };
        IpBlock { address, prefix }
    }

    /// The network address (the address itself for a single one).
    pub fn address(&self) -> IpAddr {
        self.address
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The address, when the block is a single one.
    pub fn single(&self) -> Option<IpAddr> {
        (self.prefix == max_prefix(self.address)).then_some(self.address)
    }

    /// Whether `address` is in the block.
    pub fn contains(&self, address: IpAddr) -> bool {
        IpBlock::network(address, self.prefix) == *self
    }
}

impl From<IpAddr> for IpBlock {
    fn from(address: IpAddr) -> IpBlock {
        IpBlock {
            address,
            prefix: max_prefix(address),
        }
    }
}

impl fmt::Display for IpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.single() {
            Some(address) => write!(f, "{address}"),
            None => write!(f, "{}/{}", self.address, self.prefix),
        }
    }
}

impl fmt::Debug for IpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for IpBlock {
    type Err = IpBlockError;

    fn from_str(text: &str) -> Result<IpBlock, IpBlockError> {
        let invalid = || IpBlockError(text.to_owned());
        match text.split_once('/') {
            None => text.parse::<IpAddr>().map(IpBlock::from).map_err(|_| invalid()),
            Some((address, prefix)) => {
                let address: IpAddr = address.parse().map_err(|_| invalid())?;
                let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
                if prefix > max_prefix(address) {
                    return Err(invalid());
                }
                Ok(IpBlock::network(address, prefix))
            }
        }
    }
}

impl Serialize for IpBlock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<IpBlock, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(text: &str) -> IpBlock {
        text.parse().expect("block")
    }

    #[test]
    fn addresses_and_networks_read_and_write_as_cidr_text() {
        assert_eq!(block("93.184.216.34").to_string(), "93.184.216.34");
        assert_eq!(
            block("93.184.216.34").single(),
            Some("93.184.216.34".parse().expect("ip"))
        );
        assert_eq!(block("93.184.216.34/24").to_string(), "93.184.216.0/24");
        assert_eq!(block("2001:db8::1/64").to_string(), "2001:db8::/64");
        assert_eq!(block("2001:db8::1/128").to_string(), "2001:db8::1");
        assert!("10.0.0.0/33".parse::<IpBlock>().is_err());
        assert!("nope".parse::<IpBlock>().is_err());
        let net = IpBlock::network("93.184.216.34".parse().expect("ip"), 24);
        assert!(net.contains("93.184.216.200".parse().expect("ip")));
        assert!(!net.contains("93.184.217.1".parse().expect("ip")));
        let json = serde_json::to_string(&vec![net, block("1.2.3.4")]).expect("json");
        assert_eq!(json, "[\"93.184.216.0/24\",\"1.2.3.4\"]");
        let back: Vec<IpBlock> = serde_json::from_str(&json).expect("back");
        assert_eq!(back, vec![net, block("1.2.3.4")]);
    }
}
