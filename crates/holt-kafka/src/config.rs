//! How to reach a Kafka cluster: bootstrap addresses, our TLS identity, the client id, timeouts, retries.

use std::time::Duration;

use crate::retry::RetryPolicy;
use crate::tls::TlsIdentity;

/// The client id the reference's operator uses is `intents-operator`; ours says who we are.
pub const DEFAULT_CLIENT_ID: &str = "holt-operator";

/// Everything [`crate::KafkaAdmin`] needs to reach one cluster.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    /// `host:port` addresses tried in order until one answers; after that the brokers the cluster
    /// advertises are tried first.
    pub bootstrap: Vec<String>,
    /// Our certificate and key, and the CA the broker's certificate must chain to.
    pub tls: TlsIdentity,
    /// The name the broker's certificate must carry. Default: the host of the address we connect to
    /// (an IP address SAN for an address, a DNS name SAN for a name).
    pub tls_server_name: Option<String>,
    /// Sent in every request header; brokers log it and quotas may key on it.
    pub client_id: String,
    /// For the TCP connect, and again for the TLS handshake.
    pub connect_timeout: Duration,
    /// For one request and its response, ApiVersions included.
    pub request_timeout: Duration,
    /// How each operation is retried after retryable failures.
    pub retry: RetryPolicy,
}

impl KafkaConfig {
    /// A configuration with the defaults: client id `holt-operator`, 10 s to connect, 30 s per request,
    /// [`RetryPolicy::default`].
    pub fn new<S: Into<String>>(bootstrap: impl IntoIterator<Item = S>, tls: TlsIdentity) -> Self {
        Self {
            bootstrap: bootstrap.into_iter().map(Into::into).collect(),
            tls,
            tls_server_name: None,
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}
