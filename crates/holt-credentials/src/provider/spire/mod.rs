//! The SPIRE provider: registers each workload's entry on the SPIRE server and mints its X.509-SVIDs
//! through the server's API; the trust bundle is the server's X.509 authorities.
//!
//! In: the server's admin API address (today a unix socket: the server's local admin socket, where
//! entries and SVID minting are allowed to local callers), the operator's parent ID, the trust domain.
//! Out: created, updated and deleted entries (only Holt's: [`entry`]), [`IssuedCertificate`]s minted from a
//! locally generated P-256 key and CSR, [`TrustBundle`]s.
//!
//! The reference authenticates with an SVID its own SPIRE agent hands it over the Workload API; Holt needs no
//! agent when it runs beside the server's admin socket, and its entries' parent is the operator's ID given
//! by `--spire-parent-id`.

pub mod api;
pub mod entry;

use std::path::PathBuf;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};
use tonic::transport::{Channel, Endpoint, Uri};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::ca::TrustBundle;
use crate::provider::IssuedCertificate;
use crate::subject::Subject;
use api::bundle::GetBundleRequest;
use api::bundle::bundle_client::BundleClient;
use api::entry::entry_client::EntryClient;
use api::entry::{
    BatchCreateEntryRequest, BatchDeleteEntryRequest, BatchUpdateEntryRequest, ListEntriesRequest,
    list_entries_request,
};
use api::svid::MintX509svidRequest;
use api::svid::svid_client::SvidClient;
pub use entry::{HOLT_HINT, REGISTERED_SERVICE_NAME_LABEL, SpiffeId, SpiffeIdError, WorkloadEntry};

/// Where the SPIRE server's API is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpireAddress {
    /// The server's local admin socket (`unix:///path` or an absolute path).
    Unix(PathBuf),
}

/// Why an address is not one Holt can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`--spire-server-address` `{value}`: {why}")]
pub struct SpireAddressError {
    pub value: String,
    pub why: &'static str,
}

impl SpireAddress {
    pub fn parse(value: &str) -> Result<SpireAddress, SpireAddressError> {
        let error = |why| SpireAddressError {
            value: value.to_owned(),
            why,
        };
        let path = value.strip_prefix("unix://").unwrap_or(value);
        if path.starts_with('/') {
            return Ok(SpireAddress::Unix(PathBuf::from(path)));
        }
        if value.contains("://") || value.contains(':') {
            return Err(error(
                "TCP with mTLS is not supported yet: give the server's admin socket as unix:///path",
            ));
        }
        Err(error("expected unix:///path/to/api.sock"))
    }
}

/// What went wrong talking to the SPIRE server.
#[derive(Debug, thiserror::Error)]
pub enum SpireError {
    #[error("cannot connect to the SPIRE server at {address}: {source}")]
    Connect {
        address: String,
        source: tonic::transport::Error,
    },
    #[error("the SPIRE server at {address} refused to {what}: {source}")]
    Call {
        address: String,
        what: &'static str,
        source: Box<tonic::Status>,
    },
    #[error("the SPIRE server did not {what} `{id}`: code {code}: {message}")]
    Item {
        what: &'static str,
        id: String,
        code: i32,
        message: String,
    },
    #[error("the SPIRE server answered without {0}")]
    Missing(&'static str),
    #[error("cannot create {what}: {source}")]
    Generate {
        what: &'static str,
        source: rcgen::Error,
    },
    #[error("the SVID the SPIRE server minted is not a readable certificate")]
    BadSvid,
    #[error(transparent)]
    Id(#[from] SpiffeIdError),
}

/// What one [`Spire::register`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    Created,
    Updated,
    Unchanged,
    /// An entry with this SPIFFE ID exists and is not Holt's: left alone.
    Foreign,
}

/// A connection to the SPIRE server's API (cheap to clone).
#[derive(Clone, Debug)]
pub struct Spire {
    channel: Channel,
    parent_id: SpiffeId,
    /// The address as errors name it.
    address: String,
}

impl Spire {
    /// Connects lazily: the first call dials, and a server that is down fails that call (retried by the
    /// caller), not the start.
    pub fn connect(address: &SpireAddress, parent_id: SpiffeId) -> Result<Spire, SpireError> {
        let SpireAddress::Unix(path) = address;
        // The URI is not dialled: the connector below opens the socket.
        let endpoint =
            Endpoint::try_from("http://spire-server.invalid").map_err(|source| SpireError::Connect {
                address: path.display().to_string(),
                source,
            })?;
        let socket = path.clone();
        let channel = endpoint
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let socket = socket.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(socket).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }));
        Ok(Spire {
            channel,
            parent_id,
            address: format!("unix://{}", path.display()),
        })
    }

    pub fn parent_id(&self) -> &SpiffeId {
        &self.parent_id
    }

    /// The server's address (`unix:///path`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The error of a refused call.
    fn call(&self, what: &'static str) -> impl FnOnce(tonic::Status) -> SpireError {
        let address = self.address.clone();
        move |status| SpireError::Call {
            address,
            what,
            source: Box::new(status),
        }
    }

    /// Every entry Holt created (parent ID the operator's and hint [`HOLT_HINT`]).
    pub async fn holt_entries(&self) -> Result<Vec<api::types::Entry>, SpireError> {
        let mut client = EntryClient::new(self.channel.clone());
        let mut entries = Vec::new();
        let mut page_token = String::new();
        loop {
            let response = client
                .list_entries(ListEntriesRequest {
                    filter: Some(list_entries_request::Filter {
                        by_parent_id: Some(self.parent_id.to_api()),
                        by_hint: Some(HOLT_HINT.to_owned()),
                        ..Default::default()
                    }),
                    page_size: 500,
                    page_token,
                    ..Default::default()
                })
                .await
                .map_err(self.call("list entries"))?
                .into_inner();
            entries.extend(
                response
                    .entries
                    .into_iter()
                    .filter(|entry| WorkloadEntry::is_holts(entry, &self.parent_id)),
            );
            if response.next_page_token.is_empty() {
                return Ok(entries);
            }
            page_token = response.next_page_token;
        }
    }

    /// Entries with this SPIFFE ID, whoever made them.
    async fn entries_for(&self, id: &SpiffeId) -> Result<Vec<api::types::Entry>, SpireError> {
        let mut client = EntryClient::new(self.channel.clone());
        let response = client
            .list_entries(ListEntriesRequest {
                filter: Some(list_entries_request::Filter {
                    by_spiffe_id: Some(id.to_api()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .map_err(self.call("list entries"))?
            .into_inner();
        Ok(response.entries)
    }

    /// Creates the workload's entry, or updates Holt's entry for it when it differs. An entry for the same
    /// SPIFFE ID that is not Holt's is left as it is.
    pub async fn register(&self, wanted: &WorkloadEntry) -> Result<Registration, SpireError> {
        let existing = self.entries_for(&wanted.spiffe_id).await?;
        let mut client = EntryClient::new(self.channel.clone());
        let holts = existing
            .iter()
            .find(|entry| WorkloadEntry::is_holts(entry, &self.parent_id));
        match holts {
            Some(entry) if wanted.is_same_as(entry) => Ok(Registration::Unchanged),
            Some(entry) => {
                let response = client
                    .batch_update_entry(BatchUpdateEntryRequest {
                        entries: vec![wanted.to_api(&entry.id)],
                        ..Default::default()
                    })
                    .await
                    .map_err(self.call("update an entry"))?
                    .into_inner();
                for result in response.results {
                    item_ok("update", &entry.id, result.status)?;
                }
                Ok(Registration::Updated)
            }
            None if !existing.is_empty() => Ok(Registration::Foreign),
            None => {
                let response = client
                    .batch_create_entry(BatchCreateEntryRequest {
                        entries: vec![wanted.to_api("")],
                        ..Default::default()
                    })
                    .await
                    .map_err(self.call("create an entry"))?
                    .into_inner();
                let id = format!(
                    "spiffe://{}{}",
                    wanted.spiffe_id.trust_domain, wanted.spiffe_id.path
                );
                for result in response.results {
                    item_ok("create", &id, result.status)?;
                }
                Ok(Registration::Created)
            }
        }
    }

    /// Deletes Holt's entries whose SPIFFE ID `keep` does not want; returns how many. Entries that are not
    /// Holt's are never listed, so never deleted.
    pub async fn prune(&self, keep: impl Fn(&SpiffeId) -> bool) -> Result<usize, SpireError> {
        let gone: Vec<String> = self
            .holt_entries()
            .await?
            .into_iter()
            .filter(|entry| {
                let id = entry.spiffe_id.as_ref().map(|id| SpiffeId {
                    trust_domain: id.trust_domain.clone(),
                    path: id.path.clone(),
                });
                !id.is_some_and(|id| keep(&id))
            })
            .map(|entry| entry.id)
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        let mut client = EntryClient::new(self.channel.clone());
        let response = client
            .batch_delete_entry(BatchDeleteEntryRequest { ids: gone.clone() })
            .await
            .map_err(self.call("delete entries"))?
            .into_inner();
        for result in response.results {
            item_ok("delete", &result.id, result.status)?;
        }
        Ok(gone.len())
    }

    /// Mints an X.509-SVID for `subject` living `ttl` from a fresh P-256 key; its CSR carries the SPIFFE ID,
    /// the DNS names and the CN.
    pub async fn mint(&self, subject: &Subject, ttl: Duration) -> Result<IssuedCertificate, SpireError> {
        let key = KeyPair::generate().map_err(|source| SpireError::Generate {
            what: "the SVID's key",
            source,
        })?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, subject.common_name.as_str());
        params.distinguished_name = name;
        let mut sans = vec![SanType::URI(ia5(&subject.spiffe_id)?)];
        for dns in &subject.dns_names {
            sans.push(SanType::DnsName(ia5(dns)?));
        }
        params.subject_alt_names = sans;
        let csr = params
            .serialize_request(&key)
            .map_err(|source| SpireError::Generate {
                what: "the certificate signing request",
                source,
            })?;
        let mut client = SvidClient::new(self.channel.clone());
        let svid = client
            .mint_x509svid(MintX509svidRequest {
                csr: csr.der().to_vec(),
                ttl: i32::try_from(ttl.as_secs()).unwrap_or(i32::MAX),
            })
            .await
            .map_err(self.call("mint an X.509-SVID"))?
            .into_inner()
            .svid
            .ok_or(SpireError::Missing("the SVID"))?;
        let mut chain = svid.cert_chain.into_iter();
        let leaf = chain
            .next()
            .ok_or(SpireError::Missing("the SVID's certificate"))?;
        let (_, cert) = X509Certificate::from_der(&leaf).map_err(|_| SpireError::BadSvid)?;
        let validity = cert.validity();
        let not_before =
            Timestamp::from_second(validity.not_before.timestamp()).map_err(|_| SpireError::BadSvid)?;
        let not_after =
            Timestamp::from_second(validity.not_after.timestamp()).map_err(|_| SpireError::BadSvid)?;
        Ok(IssuedCertificate {
            cert_pem: crate::ca::pem_of("CERTIFICATE", &leaf),
            cert_der: leaf,
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
            chain_der: chain.collect(),
            not_before,
            not_after,
        })
    }

    /// The server's X.509 authorities.
    pub async fn trust_bundle(&self) -> Result<TrustBundle, SpireError> {
        let mut client = BundleClient::new(self.channel.clone());
        let bundle = client
            .get_bundle(GetBundleRequest::default())
            .await
            .map_err(self.call("read the bundle"))?
            .into_inner();
        if bundle.x509_authorities.is_empty() {
            return Err(SpireError::Missing("X.509 authorities in the bundle"));
        }
        Ok(TrustBundle::new(
            bundle.x509_authorities.into_iter().map(|ca| ca.asn1).collect(),
        ))
    }
}

fn item_ok(what: &'static str, id: &str, status: Option<api::types::Status>) -> Result<(), SpireError> {
    match status {
        Some(status) if status.code != 0 => Err(SpireError::Item {
            what,
            id: id.to_owned(),
            code: status.code,
            message: status.message,
        }),
        _ => Ok(()),
    }
}

fn ia5(name: &str) -> Result<rcgen::string::Ia5String, SpireError> {
    rcgen::string::Ia5String::try_from(name).map_err(|source| SpireError::Generate {
        what: "a name of the signing request",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_unix_sockets() {
        assert_eq!(
            SpireAddress::parse("unix:///run/spire/api.sock"),
            Ok(SpireAddress::Unix("/run/spire/api.sock".into()))
        );
        assert_eq!(
            SpireAddress::parse("/run/spire/api.sock"),
            Ok(SpireAddress::Unix("/run/spire/api.sock".into()))
        );
        let error = SpireAddress::parse("spire-server:8081").expect_err("tcp");
        assert!(error.to_string().contains("--spire-server-address"), "{error}");
        assert!(SpireAddress::parse("relative.sock").is_err());
    }
}
