//! The transport protocols a NetworkPolicy port names: TCP (the default), UDP and SCTP.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The spelling the Kubernetes API uses (`TCP`, `UDP`, `SCTP`), and nothing else.
    pub fn parse_exact(text: &str) -> Option<Self> {
        match text {
            "TCP" => Some(Self::Tcp),
            "UDP" => Some(Self::Udp),
            "SCTP" => Some(Self::Sctp),
            _ => None,
        }
    }

    /// Any letter case (`tcp`, `Udp`), for command lines and flow files.
    pub fn parse_any_case(text: &str) -> Option<Self> {
        Self::parse_exact(&text.to_ascii_uppercase())
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::Sctp => "SCTP",
        })
    }
}
