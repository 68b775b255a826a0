//! Neighbours listed from the API server, one list call per review: every object of the claim's kind in its
//! namespace, read in the storage version (`v2alpha1`, so listing never calls the conversion webhook back).
//! Always up to date, and O(objects in the namespace) per review; [`super::KubeNeighbourhood`] uses it only
//! until its watch has listed and to confirm a duplicate its index reports.

use holt_api::any::HubObject;
use holt_api::v2beta1;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};

use super::{Claim, Neighbourhood, NeighbourhoodError};

/// One list call per review.
#[derive(Clone)]
pub struct ListedNeighbourhood {
    client: kube::Client,
}

impl std::fmt::Debug for ListedNeighbourhood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListedNeighbourhood").finish_non_exhaustive()
    }
}

impl ListedNeighbourhood {
    pub fn new(client: kube::Client) -> Self {
        ListedNeighbourhood { client }
    }

    /// Every object of `kind` in `namespace`, parsed and converted to the hub; unparseable ones are skipped
    /// (the operator reports them), so one bad object never blocks admission of the others.
    async fn list(
        &self,
        kind: holt_api::Kind,
        namespace: &str,
    ) -> Result<Vec<HubObject>, NeighbourhoodError> {
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
                .and_then(|value| HubObject::from_value(value).map_err(|e| e.to_string()));
            match parsed {
                Ok(object) => objects.push(object),
                Err(problem) => tracing::debug!(%problem, "neighbour skipped: it does not parse"),
            }
        }
        Ok(objects)
    }
}

impl Neighbourhood for ListedNeighbourhood {
    async fn client_intents(
        &self,
        claim: &Claim<'_>,
    ) -> Result<Vec<v2beta1::ClientIntents>, NeighbourhoodError> {
        let objects = self.list(holt_api::Kind::ClientIntents, claim.namespace).await?;
        Ok(objects
            .into_iter()
            .filter_map(|o| match o {
                HubObject::ClientIntents(o) => Some(o),
                _ => None,
            })
            .collect())
    }

    async fn protected_services(
        &self,
        claim: &Claim<'_>,
    ) -> Result<Vec<v2beta1::ProtectedService>, NeighbourhoodError> {
        let objects = self
            .list(holt_api::Kind::ProtectedService, claim.namespace)
            .await?;
        Ok(objects
            .into_iter()
            .filter_map(|o| match o {
                HubObject::ProtectedService(o) => Some(o),
                _ => None,
            })
            .collect())
    }
}
