//! From the pods that name one Secret to the one certificate that Secret holds.
//!
//! In: every pod of a namespace whose `tls-secret-name` is that Secret, each with its resolved workload
//! identity, root owner and settings ([`PodRequest`]). Out: the [`CertificateRequest`] — whose identity, which
//! settings, which owners — and the pods that name the same Secret for another workload ([`Conflict`]).
//!
//! Pods of one workload share one identity and so one certificate. Rules, so that the answer does not
//! flap while pods come and go:
//! - the Secret is the workload's of the oldest pod naming it (creation time, then name); pods of other
//!   workloads naming it are conflicts, reported and not served;
//! - the settings are those of the workload's newest pod: during a rolling update that changes an
//!   annotation, the new template's settings win;
//! - the Secret is owned by the root owner of every pod served (usually one Deployment; a bare pod owns it
//!   itself), so it goes with the workload.

use std::time::Duration;

use holt_model::{Identity, ObjectKey};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::settings::{CertificateSettings, Format};
use crate::subject::{Subject, TrustDomain};

/// A pod that asks for a certificate, its identity resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct PodRequest {
    pub pod: ObjectKey,
    pub created: Timestamp,
    /// The workload identity, as the intents operator resolves it (owner chain or override annotation).
    pub identity: Identity,
    /// The root of the pod's owner chain (the pod itself for a bare pod).
    pub root_owner: OwnerReference,
    pub settings: CertificateSettings,
}

/// The certificate one Secret holds, and for whom.
#[derive(Clone, Debug, PartialEq)]
pub struct CertificateRequest {
    pub namespace: String,
    pub secret_name: String,
    /// The workload's name (the identity's name).
    pub workload: String,
    pub subject: Subject,
    /// `None`: the provider's default lifetime.
    pub ttl: Option<Duration>,
    pub format: Format,
    pub restart_on_renewal: bool,
    /// Root owners of the pods served, by UID, without repeats.
    pub owners: Vec<OwnerReference>,
    /// The pods served, newest first.
    pub pods: Vec<ObjectKey>,
}

/// A pod that names a Secret already serving another workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub pod: ObjectKey,
    pub workload: String,
    /// The workload the Secret serves.
    pub served: String,
}

/// The request for one Secret and its conflicts.
#[derive(Clone, Debug, PartialEq)]
pub struct Grouped {
    pub request: CertificateRequest,
    pub conflicts: Vec<Conflict>,
}

/// The request for the Secret the `pods` name (all in one namespace, all naming one Secret); `None` when
/// there are no pods.
pub fn request_for_secret(pods: &[PodRequest], trust_domain: &TrustDomain) -> Option<Grouped> {
    let oldest = pods
        .iter()
        .min_by(|a, b| (a.created, &a.pod.name).cmp(&(b.created, &b.pod.name)))?;
    let workload = oldest.identity.name.clone();
    let mut served: Vec<&PodRequest> = pods.iter().filter(|p| p.identity.name == workload).collect();
    served.sort_by(|a, b| (b.created, &b.pod.name).cmp(&(a.created, &a.pod.name)));
    let newest = served.first().copied().unwrap_or(oldest);
    let settings = &newest.settings;
    let mut owners: Vec<OwnerReference> = Vec::new();
    for pod in &served {
        if !owners.iter().any(|o| o.uid == pod.root_owner.uid) {
            owners.push(pod.root_owner.clone());
        }
    }
    owners.sort_by(|a, b| a.uid.cmp(&b.uid));
    let namespace = oldest.pod.namespace.clone();
    let request = CertificateRequest {
        subject: Subject::new(&workload, &namespace, &settings.dns_names, trust_domain),
        namespace,
        secret_name: settings.secret_name.clone(),
        workload: workload.clone(),
        ttl: settings.ttl,
        format: settings.format.clone(),
        restart_on_renewal: settings.restart_on_renewal,
        owners,
        pods: served.iter().map(|p| p.pod.clone()).collect(),
    };
    let mut conflicts: Vec<Conflict> = pods
        .iter()
        .filter(|p| p.identity.name != workload)
        .map(|p| Conflict {
            pod: p.pod.clone(),
            workload: p.identity.name.clone(),
            served: workload.clone(),
        })
        .collect();
    conflicts.sort_by(|a, b| a.pod.cmp(&b.pod));
    Some(Grouped { request, conflicts })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::settings::Format;

    pub(crate) fn owner(kind: &str, name: &str, uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: match kind {
                "Pod" => "v1".into(),
                _ => "apps/v1".into(),
            },
            kind: kind.into(),
            name: name.into(),
            uid: uid.into(),
            ..OwnerReference::default()
        }
    }

    pub(crate) fn pem_settings(secret: &str) -> CertificateSettings {
        CertificateSettings {
            secret_name: secret.into(),
            format: Format::Pem {
                cert_file: "cert.pem".into(),
                ca_file: "ca.pem".into(),
                key_file: "key.pem".into(),
            },
            ttl: None,
            dns_names: Vec::new(),
            restart_on_renewal: false,
            deprecated_annotations: Vec::new(),
        }
    }

    /// Pod `name` of `workload` (a Deployment with uid `uid-<workload>`) created at second `created`.
    pub(crate) fn pod(name: &str, workload: &str, created: i64, settings: CertificateSettings) -> PodRequest {
        PodRequest {
            pod: ObjectKey::new("shop", name),
            created: Timestamp::from_second(created).expect("time"),
            identity: Identity::new("shop", workload, Some("Deployment")),
            root_owner: owner("Deployment", workload, &format!("uid-{workload}")),
            settings,
        }
    }

    fn domain() -> TrustDomain {
        TrustDomain::new("example.org").expect("valid")
    }

    #[test]
    fn pods_of_one_workload_share_one_request_with_the_newest_settings() {
        let mut newer = pem_settings("cart-tls");
        newer.ttl = Some(Duration::from_secs(600));
        newer.dns_names = vec!["cart.example.com".into()];
        let pods = [
            pod("cart-a", "cart", 10, pem_settings("cart-tls")),
            pod("cart-b", "cart", 20, newer),
        ];
        let grouped = request_for_secret(&pods, &domain()).expect("a request");
        let request = grouped.request;
        assert!(grouped.conflicts.is_empty());
        assert_eq!(request.workload, "cart");
        assert_eq!(request.subject.common_name, "cart.shop");
        assert_eq!(request.subject.dns_names, ["cart.shop", "cart.example.com"]);
        assert_eq!(
            request.ttl,
            Some(Duration::from_secs(600)),
            "the newest pod's settings"
        );
        assert_eq!(
            request.owners,
            [owner("Deployment", "cart", "uid-cart")],
            "one owner"
        );
        assert_eq!(
            request.pods,
            [ObjectKey::new("shop", "cart-b"), ObjectKey::new("shop", "cart-a")]
        );
    }

    #[test]
    fn the_oldest_pods_workload_keeps_the_secret_and_others_conflict() {
        let pods = [
            pod("other-a", "other", 30, pem_settings("shared")),
            pod("cart-a", "cart", 10, pem_settings("shared")),
        ];
        let grouped = request_for_secret(&pods, &domain()).expect("a request");
        assert_eq!(grouped.request.workload, "cart");
        assert_eq!(
            grouped.conflicts,
            [Conflict {
                pod: ObjectKey::new("shop", "other-a"),
                workload: "other".into(),
                served: "cart".into()
            }]
        );
        // The order of the input does not matter.
        let reversed = [pods[1].clone(), pods[0].clone()];
        assert_eq!(request_for_secret(&reversed, &domain()), Some(grouped));
    }

    #[test]
    fn bare_pods_each_own_the_secret() {
        let mut a = pod("tool-a", "toolbox", 1, pem_settings("tool-tls"));
        a.root_owner = owner("Pod", "tool-a", "uid-2");
        let mut b = pod("tool-b", "toolbox", 2, pem_settings("tool-tls"));
        b.root_owner = owner("Pod", "tool-b", "uid-1");
        let request = request_for_secret(&[a, b], &domain()).expect("a request").request;
        let uids: Vec<&str> = request.owners.iter().map(|o| o.uid.as_str()).collect();
        assert_eq!(uids, ["uid-1", "uid-2"], "sorted by UID");
        assert_eq!(request_for_secret(&[], &domain()), None);
    }
}
