//! What a Metadata request tells us about the cluster: its id, its controller and its brokers (as
//! advertised on the listener we came in through).

use kafka_protocol::messages::MetadataResponse;

/// The cluster as one broker sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterMetadata {
    pub cluster_id: Option<String>,
    /// The controller's node id; Kafka reports a random broker in KRaft mode, as clients need not care.
    pub controller_id: Option<i32>,
    pub brokers: Vec<BrokerAddress>,
}

/// One broker's advertised address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BrokerAddress {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerAddress {
    /// `host:port`, bracketing IPv6 addresses.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl ClusterMetadata {
    pub(crate) fn from_response(response: &MetadataResponse) -> Self {
        let mut brokers: Vec<_> = response
            .brokers
            .iter()
            .map(|b| BrokerAddress {
                node_id: b.node_id.0,
                host: b.host.as_str().to_owned(),
                port: b.port,
                rack: b.rack.as_ref().map(|r| r.as_str().to_owned()),
            })
            .collect();
        brokers.sort();
        Self {
            cluster_id: response.cluster_id.as_ref().map(|c| c.as_str().to_owned()),
            controller_id: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
            brokers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_bracket_ipv6() {
        let broker = |host: &str| BrokerAddress {
            node_id: 1,
            host: host.to_owned(),
            port: 9093,
            rack: None,
        };
        assert_eq!(broker("127.0.0.1").address(), "127.0.0.1:9093");
        assert_eq!(broker("::1").address(), "[::1]:9093");
        assert_eq!(broker("kafka-0.kafka").address(), "kafka-0.kafka:9093");
    }
}
