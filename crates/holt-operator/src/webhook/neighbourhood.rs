//! What the uniqueness rules compare an object with: the other ClientIntents and ProtectedServices of its
//! namespace that claim the same workload or server, behind a narrow lookup ([`Neighbourhood`]). Three
//! implementations: [`StaticNeighbourhood`] (a fixed list), [`ListedNeighbourhood`](super::ListedNeighbourhood)
//! (one list call per review) and [`KubeNeighbourhood`](super::KubeNeighbourhood) (a watch-backed index,
//! what the operator uses).

use std::future::Future;

use holt_api::v2beta1;

/// Why the neighbours could not be looked up (the review is then denied: failing closed).
#[derive(Debug, thiserror::Error)]
#[error("cannot list the {kind} of namespace {namespace}: {source}")]
pub struct NeighbourhoodError {
    pub kind: holt_api::Kind,
    pub namespace: String,
    pub source: Box<kube::Error>,
}

/// An object under review and what it claims: `namespace/object` claims the workload (ClientIntents) or
/// server (ProtectedService) named `identity`, of kind `kind` (`None`: any).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim<'a> {
    pub namespace: &'a str,
    pub object: &'a str,
    pub identity: &'a str,
    pub kind: Option<&'a str>,
}

/// The other objects of a namespace, in hub form. A lookup returns at least every other object of the
/// claim's namespace that claims an identity of the same name; it may return more (the rules filter). Objects
/// that do not parse are left out.
pub trait Neighbourhood: Send + Sync + 'static {
    /// ClientIntents of `claim.namespace` that may claim the workload `claim.identity`.
    fn client_intents(
        &self,
        claim: &Claim<'_>,
    ) -> impl Future<Output = Result<Vec<v2beta1::ClientIntents>, NeighbourhoodError>> + Send;

    /// ProtectedServices of `claim.namespace` that may claim the server `claim.identity`.
    fn protected_services(
        &self,
        claim: &Claim<'_>,
    ) -> impl Future<Output = Result<Vec<v2beta1::ProtectedService>, NeighbourhoodError>> + Send;

    /// The webhook admitted `claim` for a `kind` object (not in a dry run): a lookup made before the object
    /// is seen otherwise should still find it. The default forgets it.
    fn admitted(&self, _kind: holt_api::Kind, _claim: &Claim<'_>) {}
}

/// Neighbours from a fixed list (tests, `holt validate`-like callers). Objects of every namespace may be
/// given; only those of the asked namespace are returned.
#[derive(Clone, Debug, Default)]
pub struct StaticNeighbourhood {
    pub client_intents: Vec<v2beta1::ClientIntents>,
    pub protected_services: Vec<v2beta1::ProtectedService>,
}

impl Neighbourhood for StaticNeighbourhood {
    async fn client_intents(
        &self,
        claim: &Claim<'_>,
    ) -> Result<Vec<v2beta1::ClientIntents>, NeighbourhoodError> {
        Ok(in_namespace(&self.client_intents, claim.namespace))
    }

    async fn protected_services(
        &self,
        claim: &Claim<'_>,
    ) -> Result<Vec<v2beta1::ProtectedService>, NeighbourhoodError> {
        Ok(in_namespace(&self.protected_services, claim.namespace))
    }
}

fn in_namespace<K: kube::Resource + Clone>(objects: &[K], namespace: &str) -> Vec<K> {
    objects
        .iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
        .cloned()
        .collect()
}

/// A hub ClientIntents that holds only what uniqueness compares: names and the workload.
pub(super) fn client_intents_stub(
    namespace: &str,
    object: &str,
    workload: &str,
    kind: Option<&str>,
) -> v2beta1::ClientIntents {
    v2beta1::ClientIntents {
        metadata: stub_meta(namespace, object),
        spec: v2beta1::ClientIntentsSpec {
            workload: v2beta1::Workload {
                name: workload.to_owned(),
                kind: kind.map(str::to_owned),
            },
            targets: Vec::new(),
        },
        status: None,
    }
}

/// A hub ProtectedService that holds only what uniqueness compares: names and the server.
pub(super) fn protected_service_stub(
    namespace: &str,
    object: &str,
    server: &str,
    kind: Option<&str>,
) -> v2beta1::ProtectedService {
    v2beta1::ProtectedService {
        metadata: stub_meta(namespace, object),
        spec: v2beta1::ProtectedServiceSpec {
            name: server.to_owned(),
            kind: kind.map(str::to_owned),
        },
        status: None,
    }
}

fn stub_meta(namespace: &str, object: &str) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        name: Some(object.to_owned()),
        namespace: Some(namespace.to_owned()),
        ..Default::default()
    }
}
