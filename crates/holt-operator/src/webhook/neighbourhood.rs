//! What the uniqueness rules compare an object with: the other ClientIntents and ProtectedServices of its
//! namespace, behind a narrow lookup ([`Neighbourhood`]) — one backed by the API server, one by a list.

use std::future::Future;

use holt_api::any::Object;
use holt_api::v2beta1;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};

/// Why the neighbours could not be looked up (the review is then denied: failing closed).
#[derive(Debug, thiserror::Error)]
#[error("cannot list the {kind} of namespace {namespace}: {source}")]
pub struct NeighbourhoodError {
    pub kind: holt_api::Kind,
    pub namespace: String,
    pub source: Box<kube::Error>,
}

/// The other objects of a namespace, in hub form. Objects that do not parse are left out.
pub trait Neighbourhood: Send + Sync + 'static {
    /// The ClientIntents of `namespace`.
    fn client_intents(
        &self,
        namespace: &str,
    ) -> impl Future<Output = Result<Vec<v2beta1::ClientIntents>, NeighbourhoodError>> + Send;

    /// The ProtectedServices of `namespace`.
    fn protected_services(
        &self,
        namespace: &str,
    ) -> impl Future<Output = Result<Vec<v2beta1::ProtectedService>, NeighbourhoodError>> + Send;
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
        namespace: &str,
    ) -> Result<Vec<v2beta1::ClientIntents>, NeighbourhoodError> {
        Ok(in_namespace(&self.client_intents, namespace))
    }

    async fn protected_services(
        &self,
        namespace: &str,
    ) -> Result<Vec<v2beta1::ProtectedService>, NeighbourhoodError> {
        Ok(in_namespace(&self.protected_services, namespace))
    }
}

fn in_namespace<K: kube::Resource + Clone>(objects: &[K], namespace: &str) -> Vec<K> {
    objects
        .iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
        .cloned()
        .collect()
}

/// Neighbours listed from the API server, one list call per review (in the storage version, `v2alpha1`,
/// so listing never calls the conversion webhook back). Good enough for the admission rate of intents;
/// the operator's index could serve them from memory later.
#[derive(Clone)]
pub struct KubeNeighbourhood {
    client: kube::Client,
}

impl std::fmt::Debug for KubeNeighbourhood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeNeighbourhood").finish_non_exhaustive()
    }
}

impl KubeNeighbourhood {
    pub fn new(client: kube::Client) -> Self {
        KubeNeighbourhood { client }
    }

    /// Every object of `kind` in `namespace`, parsed and converted to the hub; unparseable ones are skipped
    /// (the operator reports them), so one bad object never blocks admission of the others.
    async fn list(&self, kind: holt_api::Kind, namespace: &str) -> Result<Vec<Object>, NeighbourhoodError> {
        let gvk = GroupVersionKind::gvk(
            holt_api::GROUP,
            holt_api::Version::STORAGE.as_str(),
            kind.as_str(),
        );
        let resource = ApiResource::from_gvk_with_plural(&gvk, kind.plural());
        let api = Api::<DynamicObject>::namespaced_with(self.client.clone(), namespace, &resource);
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|source| NeighbourhoodError {
                kind,
                namespace: namespace.to_owned(),
                source: Box::new(source),
            })?;
        let mut objects = Vec::with_capacity(list.items.len());
        for mut item in list.items {
            item.types = Some(kube::core::TypeMeta {
                api_version: gvk.api_version(),
                kind: kind.as_str().to_owned(),
            });
            let parsed = serde_json::to_value(&item)
                .map_err(|e| e.to_string())
                .and_then(|value| Object::from_value(value).map_err(|e| e.to_string()));
            match parsed {
                Ok(object) => objects.push(object),
                Err(problem) => tracing::debug!(%problem, "neighbour skipped: it does not parse"),
            }
        }
        Ok(objects)
    }
}

impl Neighbourhood for KubeNeighbourhood {
    async fn client_intents(
        &self,
        namespace: &str,
    ) -> Result<Vec<v2beta1::ClientIntents>, NeighbourhoodError> {
        let objects = self.list(holt_api::Kind::ClientIntents, namespace).await?;
        Ok(objects
            .into_iter()
            .filter_map(|o| match o {
                Object::ClientIntents(o) => Some(o),
                _ => None,
            })
            .collect())
    }

    async fn protected_services(
        &self,
        namespace: &str,
    ) -> Result<Vec<v2beta1::ProtectedService>, NeighbourhoodError> {
        let objects = self.list(holt_api::Kind::ProtectedService, namespace).await?;
        Ok(objects
            .into_iter()
            .filter_map(|o| match o {
                Object::ProtectedService(o) => Some(o),
                _ => None,
            })
            .collect())
    }
}
