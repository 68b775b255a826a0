//! Installing CustomResourceDefinitions (from a multi-document YAML file) into a test apiserver, and creating
//! objects of them; the cached Istio CRD file; and Linkerd's policy CRDs, which are restated in this crate (`crds/linkerd-policy.yaml`)
//! because Linkerd's release sources cannot be fetched from the build machine.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};

use crate::components::{Component, MissingComponent};
use crate::error::Error;

/// Istio's CRD file (all of Istio's CRDs, among them `authorizationpolicies.security.istio.io`).
pub fn istio_crds_file() -> Result<PathBuf, MissingComponent> {
    Component::IstioCrd.file("istio-crds.yaml")
}

/// Linkerd's policy CRDs (group `policy.linkerd.io`: Server, AuthorizationPolicy, MeshTLSAuthentication,
/// NetworkAuthentication, HTTPRoute) as multi-document YAML, for [`install_crds`]. The schemas restate
/// Linkerd's own (see the file's header and docs/testenv.md for the release and what is simplified).
pub fn linkerd_policy_crds() -> &'static str {
    include_str!("../crds/linkerd-policy.yaml")
}

/// cert-manager's Certificate CRD (`certificates.cert-manager.io`, v1) as published by cert-manager v1.19.1
/// (see the file's header for its source and license), for [`install_crds`].
pub fn cert_manager_crds() -> &'static str {
    include_str!("../crds/cert-manager-certificates.yaml")
}

/// Applies every CustomResourceDefinition in `yaml` (documents separated by `---`; any other kind is an
/// error) with server-side apply, and waits until each is Established. Returns their names.
pub async fn install_crds(client: &kube::Client, yaml: &str) -> Result<Vec<String>, Error> {
    let crds = parse_crds(yaml)?;
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let params = PatchParams::apply("holt-testenv").force();
    let mut names = Vec::new();
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(crd))
            .await
            .map_err(Error::kube(format!("apply CRD {name}")))?;
        names.push(name);
    }
    for name in &names {
        wait_established(&api, name).await?;
    }
    Ok(names)
}

/// [`install_crds`] with each CRD's conversion set to `None`: for tests that run no conversion webhook and
/// read and write only versions of one schema (the storage version, or versions identical to it).
pub async fn install_crds_without_conversion(
    client: &kube::Client,
    yaml: &str,
) -> Result<Vec<String>, Error> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceConversion;
    let mut without = String::new();
    for mut crd in parse_crds(yaml)? {
        crd.spec.conversion = Some(CustomResourceConversion {
            strategy: "None".into(),
            webhook: None,
        });
        let document = serde_yaml::to_string(&crd).map_err(|e| Error::Invalid {
            what: "CRD YAML".to_owned(),
            reason: e.to_string(),
        })?;
        without.push_str("---\n");
        without.push_str(&document);
    }
    install_crds(client, &without).await
}

/// Creates the custom object `object` (JSON with `apiVersion`, `kind`, `metadata` and `spec`) in `namespace`;
/// `plural` names its resource.
pub async fn create_custom_object(
    client: &kube::Client,
    namespace: &str,
    plural: &str,
    object: serde_json::Value,
) -> Result<(), Error> {
    use kube::api::{ApiResource, DynamicObject, PostParams};
    use kube::core::GroupVersionKind;
    let invalid = |reason: String| Error::Invalid {
        what: "custom object".to_owned(),
        reason,
    };
    let object: DynamicObject = serde_json::from_value(object).map_err(|e| invalid(e.to_string()))?;
    let types = object
        .types
        .clone()
        .ok_or_else(|| invalid("no apiVersion or kind".into()))?;
    let gvk = GroupVersionKind::try_from(&types).map_err(|e| invalid(e.to_string()))?;
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource)
        .create(&PostParams::default(), &object)
        .await
        .map_err(Error::kube(format!("create {} in {namespace}", types.kind)))?;
    Ok(())
}

fn parse_crds(yaml: &str) -> Result<Vec<CustomResourceDefinition>, Error> {
    let invalid = |reason: String| Error::Invalid {
        what: "CRD YAML".to_owned(),
        reason,
    };
    let mut crds = Vec::new();
    for (i, document) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let value = serde_json::Value::deserialize_from(document)
            .map_err(|e| invalid(format!("document {i}: {e}")))?;
        if value.is_null() {
            continue;
        }
        let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
        if kind != "CustomResourceDefinition" {
            return Err(invalid(format!(
                "document {i} is a {kind:?}, not a CustomResourceDefinition"
            )));
        }
        let crd: CustomResourceDefinition =
            serde_json::from_value(value).map_err(|e| invalid(format!("document {i}: {e}")))?;
        if crd.metadata.name.as_deref().unwrap_or_default().is_empty() {
            return Err(invalid(format!("document {i} has no metadata.name")));
        }
        crds.push(crd);
    }
    Ok(crds)
}

/// Lets `serde_json::Value` be read from one YAML document.
trait FromYamlDocument: Sized {
    fn deserialize_from(document: serde_yaml::Deserializer<'_>) -> Result<Self, serde_yaml::Error>;
}

impl FromYamlDocument for serde_json::Value {
    fn deserialize_from(document: serde_yaml::Deserializer<'_>) -> Result<Self, serde_yaml::Error> {
        serde::Deserialize::deserialize(document)
    }
}

async fn wait_established(api: &Api<CustomResourceDefinition>, name: &str) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let crd = api
            .get(name)
            .await
            .map_err(Error::kube(format!("read CRD {name}")))?;
        let established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Invalid {
                what: format!("CRD {name}"),
                reason: "not Established after 30 s".to_owned(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_crds_and_rejects_other_kinds() {
        let yaml = "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
                    metadata: {name: things.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  \
                    names: {plural: things, kind: Thing}\n  versions: []\n---\n";
        let crds = parse_crds(yaml).expect("valid");
        assert_eq!(crds.len(), 1);
        let err = parse_crds("kind: ConfigMap\nmetadata: {name: x}\n").expect_err("not a CRD");
        assert!(err.to_string().contains("ConfigMap"), "{err}");
    }

    #[test]
    fn linkerd_policy_crds_parse_with_one_storage_version_each() {
        let crds = parse_crds(linkerd_policy_crds()).expect("Linkerd's CRDs parse");
        let mut names: Vec<&str> = crds
            .iter()
            .map(|crd| crd.metadata.name.as_deref().unwrap_or_default())
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "authorizationpolicies.policy.linkerd.io",
                "httproutes.policy.linkerd.io",
                "meshtlsauthentications.policy.linkerd.io",
                "networkauthentications.policy.linkerd.io",
                "servers.policy.linkerd.io",
            ]
        );
        for crd in &crds {
            let storage: Vec<&str> = crd
                .spec
                .versions
                .iter()
                .filter(|v| v.storage)
                .map(|v| v.name.as_str())
                .collect();
            let expected = match crd.spec.names.kind.as_str() {
                "Server" | "HTTPRoute" => "v1beta3",
                _ => "v1alpha1",
            };
            assert_eq!(storage, [expected], "{}", crd.spec.names.kind);
            assert!(crd.spec.versions.iter().all(|v| v.served));
        }
    }
}
