//! The cert-manager provider: a `cert-manager.io/v1` Certificate per requested Secret, for cert-manager to
//! issue into that Secret.
//!
//! In: a [`CertificateRequest`] (Secret name, workload, subject, lifetime, PEM or JKS, owners) and the
//! issuer from the chart (`credentialsOperator.certManager.issuerName`, `useClusterIssuer`). Out: the
//! Certificate (and for JKS a password Secret its keystores name), applied with server-side apply and owned
//! by the workload's root owner, so they go away with it. Issuing, the Secret's content (cert-manager's own
//! file names `tls.crt`, `tls.key`, `ca.crt`, `keystore.jks`, `truststore.jks`) and renewal are cert-manager's.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::request::CertificateRequest;
use crate::settings::Format;

/// The field manager of Holt's writes.
const FIELD_MANAGER: &str = "holt-credentials";
/// The key of the JKS password in its Secret.
pub const JKS_PASSWORD_KEY: &str = "password";

/// Which cert-manager issuer signs (chart: `credentialsOperator.certManager`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    pub name: String,
    /// A ClusterIssuer rather than an Issuer of the workload's namespace.
    pub cluster_issuer: bool,
}

/// Why a Certificate was not written.
#[derive(Debug, thiserror::Error)]
pub enum CertManagerError {
    #[error("cannot write {what} `{namespace}/{name}`: {source}")]
    Write {
        what: &'static str,
        namespace: String,
        name: String,
        source: kube::Error,
    },
}

/// The Certificate resource's API (`cert-manager.io/v1`, `certificates`).
pub fn certificate_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cert-manager.io", "v1", "Certificate"),
        "certificates",
    )
}

/// The name of the Secret holding a JKS request's keystore password.
pub fn password_secret_name(request: &CertificateRequest) -> String {
    format!("{}-jks-password", request.secret_name)
}

/// The Certificate for `request`: named and stored as the requested Secret, CN `<workload>.<namespace>`,
/// the subject's DNS names and SPIFFE ID, `duration` the lifetime (cert-manager's default when the pod
/// asks for none), ECDSA P-256 keys rotated on each renewal, client and server usages.
pub fn certificate(request: &CertificateRequest, issuer: &Issuer) -> Value {
    let mut spec = json!({
        "secretName": request.secret_name,
        "commonName": request.subject.common_name,
        "dnsNames": request.subject.dns_names,
        "uris": [request.subject.spiffe_id],
        "issuerRef": {
            "name": issuer.name,
            "kind": if issuer.cluster_issuer { "ClusterIssuer" } else { "Issuer" },
            "group": "cert-manager.io",
        },
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
        "secretTemplate": {"labels": {"app.kubernetes.io/managed-by": "holt"}},
    });
    if let Some(ttl) = request.ttl {
        spec["duration"] = json!(duration(ttl));
    }
    if let Format::Jks { .. } = request.format {
        spec["keystores"] = json!({
            "jks": {
                "create": true,
                "passwordSecretRef": {"name": password_secret_name(request), "key": JKS_PASSWORD_KEY},
            }
        });
    }
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {
            "name": request.secret_name,
            "namespace": request.namespace,
            "labels": {"app.kubernetes.io/managed-by": "holt"},
            "ownerReferences": request.owners,
        },
        "spec": spec,
    })
}

/// The Secret holding a JKS request's keystore password (`None` for PEM).
pub fn password_secret(request: &CertificateRequest) -> Option<Secret> {
    let Format::Jks { password, .. } = &request.format else {
        return None;
    };
    Some(Secret {
        metadata: ObjectMeta {
            name: Some(password_secret_name(request)),
            namespace: Some(request.namespace.clone()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_owned(),
                "holt".to_owned(),
            )])),
            owner_references: Some(request.owners.clone()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            JKS_PASSWORD_KEY.to_owned(),
            ByteString(password.clone().into_bytes()),
        )])),
        ..Secret::default()
    })
}

/// A Go duration cert-manager reads: whole seconds.
fn duration(ttl: Duration) -> String {
    format!("{}s", ttl.as_secs().max(1))
}

/// Writes Certificates (and password Secrets) with server-side apply.
#[derive(Clone)]
pub struct CertManager {
    client: Client,
    issuer: Issuer,
}

impl std::fmt::Debug for CertManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertManager")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl CertManager {
    pub fn new(client: Client, issuer: Issuer) -> CertManager {
        CertManager { client, issuer }
    }

    /// Applies `request`'s password Secret (JKS) and Certificate.
    pub async fn apply(&self, request: &CertificateRequest) -> Result<(), CertManagerError> {
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let write = |what: &'static str, name: String| {
            let namespace = request.namespace.clone();
            move |source| CertManagerError::Write {
                what,
                namespace,
                name,
                source,
            }
        };
        if let Some(secret) = password_secret(request) {
            let name = password_secret_name(request);
            Api::<Secret>::namespaced(self.client.clone(), &request.namespace)
                .patch(&name, &params, &Patch::Apply(&secret))
                .await
                .map_err(write("the keystore password Secret", name.clone()))?;
        }
        let resource = certificate_resource();
        Api::<DynamicObject>::namespaced_with(self.client.clone(), &request.namespace, &resource)
            .patch(
                &request.secret_name,
                &params,
                &Patch::Apply(certificate(request, &self.issuer)),
            )
            .await
            .map_err(write("the Certificate", request.secret_name.clone()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subject::{Subject, TrustDomain};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn request(format: Format, ttl: Option<Duration>) -> CertificateRequest {
        let domain = TrustDomain::new("example.org").expect("domain");
        CertificateRequest {
            namespace: "shop".to_owned(),
            secret_name: "cart-tls".to_owned(),
            workload: "cart".to_owned(),
            subject: Subject::new("cart", "shop", &["cart.example.com".to_owned()], &domain),
            ttl,
            format,
            restart_on_renewal: false,
            owners: vec![OwnerReference {
                api_version: "apps/v1".to_owned(),
                kind: "Deployment".to_owned(),
                name: "cart".to_owned(),
                uid: "u-1".to_owned(),
                ..OwnerReference::default()
            }],
            pods: Vec::new(),
        }
    }

    fn pem() -> Format {
        Format::Pem {
            cert_file: "cert.pem".to_owned(),
            ca_file: "ca.pem".to_owned(),
            key_file: "key.pem".to_owned(),
        }
    }

    #[test]
    fn the_certificate_names_the_workload_and_the_issuer() {
        let issuer = Issuer {
            name: "ca".to_owned(),
            cluster_issuer: true,
        };
        let cert = certificate(&request(pem(), Some(Duration::from_secs(7200))), &issuer);
        assert_eq!(cert["metadata"]["name"], "cart-tls");
        assert_eq!(cert["metadata"]["ownerReferences"][0]["uid"], "u-1");
        let spec = &cert["spec"];
        assert_eq!(spec["secretName"], "cart-tls");
        assert_eq!(spec["commonName"], "cart.shop");
        assert_eq!(spec["dnsNames"], json!(["cart.shop", "cart.example.com"]));
        assert_eq!(
            spec["uris"],
            json!(["spiffe://example.org/otterize/namespace/shop/service/cart"])
        );
        assert_eq!(spec["duration"], "7200s");
        assert_eq!(spec["issuerRef"]["kind"], "ClusterIssuer");
        assert!(spec.get("keystores").is_none());
        assert!(password_secret(&request(pem(), None)).is_none());
        let issuer = Issuer {
            name: "ca".to_owned(),
            cluster_issuer: false,
        };
        let cert = certificate(&request(pem(), None), &issuer);
        assert_eq!(cert["spec"]["issuerRef"]["kind"], "Issuer");
        assert!(cert["spec"].get("duration").is_none(), "cert-manager's default");
    }

    #[test]
    fn jks_asks_for_keystores_with_a_password_secret() {
        let jks = Format::Jks {
            keystore_file: "keystore.jks".to_owned(),
            truststore_file: "truststore.jks".to_owned(),
            password: "s3cret".to_owned(),
        };
        let issuer = Issuer {
            name: "ca".to_owned(),
            cluster_issuer: false,
        };
        let request = request(jks, None);
        let cert = certificate(&request, &issuer);
        assert_eq!(cert["spec"]["keystores"]["jks"]["create"], true);
        assert_eq!(
            cert["spec"]["keystores"]["jks"]["passwordSecretRef"],
            json!({"name": "cart-tls-jks-password", "key": "password"})
        );
        let secret = password_secret(&request).expect("JKS");
        let data = secret.data.expect("data");
        assert_eq!(data["password"].0, b"s3cret");
        assert_eq!(secret.metadata.owner_references.expect("owned")[0].uid, "u-1");
    }
}
