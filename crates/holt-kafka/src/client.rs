//! The admin client: keeps one connection to some broker of the cluster (bootstrap first, then the brokers
//! Metadata advertises), opens it again when it breaks, and runs each admin operation under the retry
//! policy.

use std::collections::BTreeSet;

use holt_render::kafka::KafkaAcl;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, MetadataRequest};
use kafka_protocol::protocol::Request;
use tokio::sync::Mutex;

use crate::acls::{self, AclFilter, WireCodes};
use crate::config::KafkaConfig;
use crate::connection::{Connection, ConnectionOptions};
use crate::error::{AclFailure, BrokerError, Category, Error};
use crate::metadata::ClusterMetadata;
use crate::tls::server_name;
use crate::versions::BrokerVersions;

/// A Kafka admin client for ACLs. Requests are sent one at a time over one connection; to share the client,
/// put it behind an `Arc`. Each operation is retried under [`KafkaConfig::retry`], every attempt with its own
/// timeouts, so one operation takes at most about `max_attempts × (connect + request timeout)` plus the
/// back-off.
#[derive(Debug)]
pub struct KafkaAdmin {
    config: KafkaConfig,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    connection: Option<Connection>,
    /// Broker addresses from the latest Metadata response, tried before the bootstrap addresses.
    brokers: Vec<String>,
}

impl KafkaAdmin {
    /// A client that connects on first use.
    pub fn new(config: KafkaConfig) -> Result<Self, Error> {
        if config.bootstrap.is_empty() {
            return Err(Error::Config {
                what: "the bootstrap addresses".to_owned(),
                reason: "none given".to_owned(),
            });
        }
        for address in &config.bootstrap {
            host_of(address)?;
        }
        Ok(Self {
            config,
            state: Mutex::new(State::default()),
        })
    }

    /// A client already connected: TLS handshake, ApiVersions and Metadata done (with retries).
    pub async fn connect(config: KafkaConfig) -> Result<Self, Error> {
        let admin = Self::new(config)?;
        admin.config.retry.run(|| admin.ensure_connected()).await?;
        Ok(admin)
    }

    /// The configuration this client was made with.
    pub fn config(&self) -> &KafkaConfig {
        &self.config
    }

    /// The API versions the connected broker announced.
    pub async fn api_versions(&self) -> Result<BrokerVersions, Error> {
        self.config
            .retry
            .run(|| async {
                let mut state = self.state.lock().await;
                let connection = self.connected(&mut state).await?;
                Ok(connection.versions().clone())
            })
            .await
    }

    /// The address of the broker currently connected, if any.
    pub async fn connected_to(&self) -> Option<String> {
        let state = self.state.lock().await;
        state.connection.as_ref().map(|c| c.address().to_owned())
    }

    /// The cluster id, controller and brokers, from a fresh Metadata request.
    pub async fn metadata(&self) -> Result<ClusterMetadata, Error> {
        self.config
            .retry
            .run(|| async {
                let response = self.call(&metadata_request()).await?;
                check(Api::Metadata, response.error_code, None)?;
                Ok(ClusterMetadata::from_response(&response))
            })
            .await
    }

    /// The topic and group ACLs matching `filter`, sorted.
    pub async fn describe_acls(&self, filter: &AclFilter) -> Result<Vec<KafkaAcl>, Error> {
        let request = filter.describe_request();
        self.config
            .retry
            .run(|| async {
                let response = self.call(&request).await?;
                check(
                    Api::DescribeAcls,
                    response.error_code,
                    response.error_message.as_deref(),
                )?;
                Ok(acls::described(&response.resources, filter))
            })
            .await
    }

    /// Creates `acls` (creating an existing ACL is not an error). Every ACL the broker refused is reported
    /// in [`Error::AclsRejected`]; the others were created.
    pub async fn create_acls(&self, acls: &[KafkaAcl]) -> Result<(), Error> {
        if acls.is_empty() {
            return Ok(());
        }
        let request = CreateAclsRequest::default().with_creations(acls.iter().map(acls::creation).collect());
        self.config
            .retry
            .run(|| async {
                let response = self.call(&request).await?;
                if response.results.len() != acls.len() {
                    return Err(self
                        .count_mismatch("CreateAcls", acls.len(), response.results.len())
                        .await);
                }
                let failures: Vec<_> = acls
                    .iter()
                    .zip(&response.results)
                    .filter(|(_, r)| r.error_code != 0)
                    .map(|(acl, r)| AclFailure {
                        acl: acl.clone(),
                        error: BrokerError::new(r.error_code, r.error_message.as_deref()),
                    })
                    .collect();
                if failures.is_empty() {
                    Ok(())
                } else {
                    Err(Error::AclsRejected {
                        api: "CreateAcls",
                        requested: acls.len(),
                        failures,
                    })
                }
            })
            .await
    }

    /// Deletes the topic and group ACLs matching any of `filters`; returns those the broker deleted, sorted.
    pub async fn delete_acls(&self, filters: &[AclFilter]) -> Result<Vec<KafkaAcl>, Error> {
        let wire: Vec<_> = filters.iter().flat_map(AclFilter::delete_filters).collect();
        if wire.is_empty() {
            return Ok(Vec::new());
        }
        let count = wire.len();
        let request = DeleteAclsRequest::default().with_filters(wire);
        self.config
            .retry
            .run(|| async {
                let response = self.call(&request).await?;
                if response.filter_results.len() != count {
                    return Err(self
                        .count_mismatch("DeleteAcls", count, response.filter_results.len())
                        .await);
                }
                let mut deleted = BTreeSet::new();
                let mut failures = Vec::new();
                for result in &response.filter_results {
                    check(
                        Api::DeleteAcls,
                        result.error_code,
                        result.error_message.as_deref(),
                    )?;
                    for matching in &result.matching_acls {
                        let codes = WireCodes {
                            resource_type: matching.resource_type,
                            pattern_type: matching.pattern_type,
                            operation: matching.operation,
                            permission: matching.permission_type,
                        };
                        let binding = acls::from_wire(
                            codes,
                            &matching.resource_name,
                            &matching.principal,
                            &matching.host,
                        );
                        match (binding, matching.error_code) {
                            (Some(acl), 0) => {
                                deleted.insert(acl);
                            }
                            (Some(acl), code) => failures.push(AclFailure {
                                acl,
                                error: BrokerError::new(code, matching.error_message.as_deref()),
                            }),
                            (None, 0) => {}
                            (None, code) => {
                                check(Api::DeleteAcls, code, matching.error_message.as_deref())?;
                            }
                        }
                    }
                }
                if failures.is_empty() {
                    Ok(deleted.into_iter().collect())
                } else {
                    Err(Error::AclsRejected {
                        api: "DeleteAcls",
                        requested: count,
                        failures,
                    })
                }
            })
            .await
    }

    /// Sends one request on the current connection, opening one first if needed. A connection that failed
    /// below the Kafka protocol (I/O, TLS, timeout, garbled frames) is dropped, so the next call opens a
    /// fresh one.
    async fn call<R: Request>(&self, request: &R) -> Result<R::Response, Error> {
        let mut state = self.state.lock().await;
        let connection = self.connected(&mut state).await?;
        let result = connection.send(request).await;
        if let Err(error) = &result
            && breaks_connection(error)
        {
            tracing::debug!(%error, "dropping the Kafka connection");
            state.connection = None;
        }
        result
    }

    async fn ensure_connected(&self) -> Result<(), Error> {
        let mut state = self.state.lock().await;
        self.connected(&mut state).await.map(drop)
    }

    /// The open connection, or a new one: the advertised brokers first, then the bootstrap addresses, each
    /// followed by a Metadata request that refreshes the advertised brokers.
    async fn connected<'a>(&self, state: &'a mut State) -> Result<&'a mut Connection, Error> {
        if state.connection.is_none() {
            let mut candidates: Vec<String> = Vec::new();
            for address in state.brokers.iter().chain(&self.config.bootstrap) {
                if !candidates.contains(address) {
                    candidates.push(address.clone());
                }
            }
            let mut last_error = None;
            for address in &candidates {
                match self.open(address).await {
                    Ok((connection, brokers)) => {
                        tracing::debug!(%address, ?brokers, "connected to a Kafka broker");
                        state.brokers = brokers;
                        state.connection = Some(connection);
                        break;
                    }
                    Err(error) => {
                        tracing::debug!(%address, %error, "could not connect to a Kafka broker");
                        last_error = Some(error);
                    }
                }
            }
            if state.connection.is_none() {
                return Err(last_error.unwrap_or_else(|| Error::Config {
                    what: "the bootstrap addresses".to_owned(),
                    reason: "none given".to_owned(),
                }));
            }
        }
        state.connection.as_mut().ok_or_else(|| Error::Config {
            what: "the connection".to_owned(),
            reason: "lost while opening it".to_owned(),
        })
    }

    /// Opens a connection to `address` and asks it for the cluster's brokers.
    async fn open(&self, address: &str) -> Result<(Connection, Vec<String>), Error> {
        let name = match &self.config.tls_server_name {
            Some(name) => server_name(name)?,
            None => server_name(host_of(address)?)?,
        };
        let options = ConnectionOptions {
            client_id: self.config.client_id.clone(),
            connect_timeout: self.config.connect_timeout,
            request_timeout: self.config.request_timeout,
        };
        let mut connection = Connection::open(address, name, &self.config.tls, &options).await?;
        let response = connection.send(&metadata_request()).await?;
        check(Api::Metadata, response.error_code, None)?;
        let brokers = ClusterMetadata::from_response(&response)
            .brokers
            .iter()
            .map(|b| b.address())
            .collect();
        Ok((connection, brokers))
    }

    async fn count_mismatch(&self, api: &'static str, sent: usize, got: usize) -> Error {
        let address = self.connected_to().await.unwrap_or_default();
        Error::Protocol {
            address,
            api,
            reason: format!("{got} results for {sent} entries"),
        }
    }
}

/// Metadata for no topic: just the brokers and the cluster.
fn metadata_request() -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(Some(Vec::new()))
        .with_allow_auto_topic_creation(false)
}

#[derive(Clone, Copy)]
enum Api {
    Metadata,
    DescribeAcls,
    DeleteAcls,
}

fn check(api: Api, code: i16, message: Option<&str>) -> Result<(), Error> {
    let name = match api {
        Api::Metadata => "Metadata",
        Api::DescribeAcls => "DescribeAcls",
        Api::DeleteAcls => "DeleteAcls",
    };
    if code == 0 {
        Ok(())
    } else {
        Err(Error::from_code(name, code, message))
    }
}

fn breaks_connection(error: &Error) -> bool {
    matches!(
        error.category(),
        Category::Connect | Category::Tls | Category::Timeout | Category::Protocol
    )
}

/// The host of `host:port` or `[v6]:port`.
fn host_of(address: &str) -> Result<&str, Error> {
    address
        .rsplit_once(':')
        .map(|(host, _)| host)
        .filter(|host| !host.is_empty())
        .ok_or_else(|| Error::Config {
            what: format!("the broker address {address:?}"),
            reason: "expected host:port".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host_of("127.0.0.1:9093").ok(), Some("127.0.0.1"));
        assert_eq!(host_of("[::1]:9093").ok(), Some("[::1]"));
        assert_eq!(host_of("kafka.svc:9093").ok(), Some("kafka.svc"));
        assert!(host_of("kafka").is_err());
        assert!(host_of(":9093").is_err());
    }
}
