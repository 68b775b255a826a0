//! Turning manifests into the model's objects. A workload with no Pods in the input stands for the Pods its
//! template would create: one Pod is made from its template, owned by it.

use std::collections::{BTreeMap, BTreeSet};

use holt_model::Object;
use holt_model::facts::{IngressFacts, OwnerFacts, PodFacts, ServiceFacts, owner_of};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::manifests::Manifest;

/// `(namespace, kind, name)` of a workload.
type WorkloadKey = (String, String, String);

/// The model objects for the Kubernetes manifests (Holt's own kinds are converted elsewhere), with Pods
/// made from the templates of workloads that have none.
pub fn kubernetes_objects<'a>(manifests: impl IntoIterator<Item = &'a Manifest>) -> Vec<Object> {
    let manifests: Vec<&Manifest> = manifests.into_iter().collect();
    let mut objects = Vec::new();
    for manifest in &manifests {
        match manifest {
            Manifest::Namespace { facts, .. } => objects.push(Object::Namespace(facts.clone())),
            Manifest::Workload { kind, meta, .. } => objects.push(Object::Owner(OwnerFacts::new(kind, meta))),
            Manifest::Service(service) => objects.push(Object::Service(ServiceFacts::from_service(service))),
            Manifest::Ingress(ingress) => objects.push(Object::Ingress(IngressFacts::from_ingress(ingress))),
            Manifest::Pod(_)
            | Manifest::NetworkPolicy(_)
            | Manifest::IstioAuthorizationPolicy(_)
            | Manifest::Holt { .. } => {}
        }
    }
    objects.extend(
        pods(manifests)
            .iter()
            .map(|pod| Object::Pod(PodFacts::from_pod(pod))),
    );
    objects
}

/// The Pods of the manifests, then one Pod made from the template of each workload that has none in the
/// input (named `<workload>-template`, owned by the workload). `holt plan` and `holt reach` both read pods
/// this way.
pub fn pods<'a>(manifests: impl IntoIterator<Item = &'a Manifest>) -> Vec<Pod> {
    let manifests: Vec<&Manifest> = manifests.into_iter().collect();
    let mut parents: BTreeMap<WorkloadKey, Option<(String, String)>> = BTreeMap::new();
    let mut pods = Vec::new();
    for manifest in &manifests {
        match manifest {
            Manifest::Pod(pod) => pods.push(pod.as_ref().clone()),
            Manifest::Workload { kind, meta, .. } => {
                let facts = OwnerFacts::new(kind, meta);
                let key = (facts.key.namespace.clone(), kind.clone(), facts.key.name.clone());
                parents.insert(
                    key,
                    facts.owner.as_ref().map(|o| (o.kind.clone(), o.name.clone())),
                );
            }
            _ => {}
        }
    }
    let with_pods = workloads_with_pods(&pods, &parents);
    for manifest in &manifests {
        let Manifest::Workload {
            kind,
            meta,
            template: Some(template),
        } = manifest
        else {
            continue;
        };
        let facts = OwnerFacts::new(kind, meta);
        let key = (facts.key.namespace.clone(), kind.clone(), facts.key.name.clone());
        let parent_in_input = facts
            .owner
            .as_ref()
            .is_some_and(|o| parents.contains_key(&(key.0.clone(), o.kind.clone(), o.name.clone())));
        if with_pods.contains(&key) || parent_in_input {
            continue;
        }
        let template_meta = template.metadata.clone().unwrap_or_default();
        pods.push(Pod {
            metadata: ObjectMeta {
                name: Some(format!("{}-template", facts.key.name)),
                namespace: Some(facts.key.namespace.clone()),
                labels: template_meta.labels,
                annotations: template_meta.annotations,
                owner_references: Some(vec![OwnerReference {
                    kind: kind.clone(),
                    name: facts.key.name.clone(),
                    controller: Some(true),
                    ..OwnerReference::default()
                }]),
                ..ObjectMeta::default()
            },
            spec: template.spec.clone(),
            status: None,
        });
    }
    pods
}

/// Every workload with at least one Pod of the input below it.
fn workloads_with_pods(
    pods: &[Pod],
    parents: &BTreeMap<WorkloadKey, Option<(String, String)>>,
) -> BTreeSet<WorkloadKey> {
    let mut marked = BTreeSet::new();
    for pod in pods {
        let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let mut next = owner_of(&pod.metadata).map(|o| (o.kind, o.name));
        while let Some((kind, name)) = next.take() {
            let key = (namespace.clone(), kind, name);
            if !marked.insert(key.clone()) {
                break;
            }
            next = parents.get(&key).cloned().flatten();
        }
    }
    marked
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::manifests::{Manifests, read_documents};

    fn objects(text: &str) -> Vec<Object> {
        let mut manifests = Manifests::default();
        read_documents(Path::new("t.yaml"), text, &Default::default(), &mut manifests).expect("valid");
        kubernetes_objects(manifests.loaded.iter().map(|l| &l.manifest))
    }

    fn pod_names(objects: &[Object]) -> Vec<String> {
        objects
            .iter()
            .filter_map(|o| {
                if let Object::Pod(p) = o {
                    Some(p.key.name.clone())
                } else {
                    None
                }
            })
            .collect()
    }

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {serviceAccountName: web-sa, containers: [{name: web, image: web:1}]}\n";

    #[test]
    fn a_workload_without_pods_stands_for_its_template() {
        let objects = objects(DEPLOYMENT);
        assert_eq!(pod_names(&objects), vec!["web-template"]);
        let Some(Object::Pod(pod)) = objects.iter().find(|o| matches!(o, Object::Pod(_))) else {
            panic!()
        };
        assert_eq!(pod.labels.get("app").map(String::as_str), Some("web"));
        assert_eq!(pod.service_account, "web-sa");
        assert_eq!(pod.owner.as_ref().map(|o| o.kind.as_str()), Some("Deployment"));
    }

    #[test]
    fn a_workload_with_pods_in_the_input_gets_no_template_pod() {
        let text = format!(
            "{DEPLOYMENT}---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: web-7f, namespace: shop, ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: u1, controller: true}}]}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: web:1}}]}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web-7f-x, namespace: shop, ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web-7f, uid: u2, controller: true}}]}}\nspec: {{containers: [{{name: web, image: web:1}}]}}\n"
        );
        assert_eq!(pod_names(&objects(&text)), vec!["web-7f-x"]);
    }

    #[test]
    fn a_replicaset_under_a_listed_deployment_does_not_add_a_second_template_pod() {
        let text = format!(
            "{DEPLOYMENT}---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: web-7f, namespace: shop, ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: u1, controller: true}}]}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: web:1}}]}}\n"
        );
        assert_eq!(pod_names(&objects(&text)), vec!["web-template"]);
    }
}
