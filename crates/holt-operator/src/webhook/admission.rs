//! The validating webhook: an `AdmissionReview` answered with the shared validation. Denials carry every
//! broken rule, each naming the object and the field path in the version it was written in; warnings of a
//! valid object go back as admission warnings.
//!
//! Always allowed: DELETE (and CONNECT), objects already being deleted, and updates that leave the spec as
//! it was (finalizers, labels, annotations), so an object that predates a rule can still be cleaned up. The
//! spec is compared in the hub version: an edit of the conversion annotations, which carry what an older
//! version cannot express, changes the hub spec and is validated.

use holt_api::any::{HubObject, Served};
use holt_api::validate::{Neighbours, ValidationConfig, validate};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};

use super::{Claim, Neighbourhood};

/// Answers one `AdmissionReview` for a ClientIntents, ProtectedService or KafkaServerConfig of any served
/// version.
pub async fn review_admission<N: Neighbourhood>(
    review: AdmissionReview<DynamicObject>,
    neighbourhood: &N,
    config: &ValidationConfig,
) -> AdmissionReview<DynamicObject> {
    let request: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(request) => request,
        Err(_) => {
            tracing::warn!("admission review without a request");
            return AdmissionResponse::invalid("the AdmissionReview has no request").into_review();
        }
    };
    let response = AdmissionResponse::from(&request);
    decide(request, response, neighbourhood, config)
        .await
        .into_review()
}

/// Whether two versions of an object have the same spec once converted to the hub (false when either does
/// not parse: then the new one is validated).
fn same_hub_spec(old: &DynamicObject, new: &DynamicObject) -> bool {
    let hub_spec = |object: &DynamicObject| {
        let value = serde_json::to_value(object).ok()?;
        let hub = holt_api::any::HubObject::from_value(value).ok()?;
        let value = match hub {
            holt_api::any::HubObject::ClientIntents(o) => serde_json::to_value(o.spec),
            holt_api::any::HubObject::ProtectedService(o) => serde_json::to_value(o.spec),
            holt_api::any::HubObject::KafkaServerConfig(o) => serde_json::to_value(o.spec),
        };
        value.ok()
    };
    match (hub_spec(old), hub_spec(new)) {
        (Some(old), Some(new)) => old == new,
        _ => false,
    }
}

async fn decide<N: Neighbourhood>(
    request: AdmissionRequest<DynamicObject>,
    response: AdmissionResponse,
    neighbourhood: &N,
    config: &ValidationConfig,
) -> AdmissionResponse {
    if !matches!(request.operation, Operation::Create | Operation::Update) {
        return response;
    }
    let Some(object) = request.object else {
        return response;
    };
    if object.metadata.deletion_timestamp.is_some() {
        return response;
    }
    if request.operation == Operation::Update
        && let Some(old) = &request.old_object
        && same_hub_spec(old, &object)
    {
        return response;
    }

    let mut value = match serde_json::to_value(&object) {
        Ok(value) => value,
        Err(error) => return response.deny(format!("cannot read the object: {error}")),
    };
    // The namespace comes from the request path when the object does not carry it.
    if object.metadata.namespace.is_none()
        && let Some(namespace) = &request.namespace
        && let Some(metadata) = value.get_mut("metadata").and_then(|m| m.as_object_mut())
    {
        metadata.insert("namespace".to_owned(), namespace.clone().into());
    }
    let served = match Served::from_value(value) {
        Ok(served) => served,
        Err(error) => {
            tracing::info!(%error, "denied: does not parse");
            return response.deny(error.to_string());
        }
    };
    let namespace = served
        .meta()
        .namespace
        .clone()
        .or(request.namespace)
        .unwrap_or_default();

    let object_name = served.meta().name.clone().unwrap_or_default();
    let claimed = claimed_identity(&served);
    let claim = claimed.as_ref().map(|(identity, kind)| Claim {
        namespace: &namespace,
        object: &object_name,
        identity,
        kind: kind.as_deref(),
    });
    let (client_intents, protected_services) = match (served.kind(), &claim) {
        (holt_api::Kind::ClientIntents, Some(claim)) => match neighbourhood.client_intents(claim).await {
            Ok(found) => (found, Vec::new()),
            Err(error) => return unavailable(response, &error),
        },
        (holt_api::Kind::ProtectedService, Some(claim)) => {
            match neighbourhood.protected_services(claim).await {
                Ok(found) => (Vec::new(), found),
                Err(error) => return unavailable(response, &error),
            }
        }
        _ => (Vec::new(), Vec::new()),
    };
    let neighbours = Neighbours {
        client_intents: &client_intents,
        protected_services: &protected_services,
    };
    let report = validate(&served, &neighbours, config);
    match report.into_result() {
        Ok(warnings) => {
            if let Some(claim) = &claim
                && !request.dry_run
            {
                neighbourhood.admitted(served.kind(), claim);
            }
            let mut response = response;
            if !warnings.is_empty() {
                response.warnings = Some(warnings.iter().map(ToString::to_string).collect());
            }
            response
        }
        Err(errors) => {
            let message = errors
                .0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            tracing::info!(object = %served.object_ref(), %message, "denied");
            response.deny(message)
        }
    }
}

/// The workload (ClientIntents) or server (ProtectedService) the object claims, by name and kind; `None`
/// for a KafkaServerConfig or an object that names none (the rules report it).
fn claimed_identity(served: &Served) -> Option<(String, Option<String>)> {
    let (name, kind) = match served.clone().into_hub() {
        HubObject::ClientIntents(o) => (o.spec.workload.name, o.spec.workload.kind),
        HubObject::ProtectedService(o) => (o.spec.name, o.spec.kind),
        HubObject::KafkaServerConfig(_) => return None,
    };
    (!name.is_empty()).then_some((name, kind))
}

fn unavailable(response: AdmissionResponse, error: &super::NeighbourhoodError) -> AdmissionResponse {
    tracing::warn!(%error, "cannot check uniqueness");
    response.deny(format!("cannot check uniqueness, try again: {error}"))
}

#[cfg(test)]
mod tests {
    use holt_api::v2beta1;
    use serde_json::{Value, json};

    use super::*;
    use crate::webhook::StaticNeighbourhood;

    fn review(operation: &str, object: Value, old: Option<Value>) -> AdmissionReview<DynamicObject> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default().to_owned();
        let (group, version) = api_version.split_once('/').unwrap_or_default();
        serde_json::from_value(json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "3b1c5e6a-0000-4000-8000-000000000001",
                "kind": { "group": group, "version": version, "kind": object["kind"] },
                "resource": { "group": group, "version": version, "resource": "clientintents" },
                "name": object["metadata"]["name"],
                "namespace": "shop",
                "operation": operation,
                "userInfo": { "username": "alice" },
                "object": object,
                "oldObject": old,
                "dryRun": false,
            },
        }))
        .expect("review")
    }

    fn intents(name: &str, workload: &str, targets: Value) -> Value {
        json!({
            "apiVersion": "k8s.otterize.com/v2beta1",
            "kind": "ClientIntents",
            "metadata": { "name": name, "namespace": "shop" },
            "spec": { "workload": { "name": workload }, "targets": targets },
        })
    }

    async fn answer(review: AdmissionReview<DynamicObject>, neighbourhood: &StaticNeighbourhood) -> Value {
        let out = review_admission(review, neighbourhood, &ValidationConfig::default()).await;
        serde_json::to_value(out).expect("json")["response"].clone()
    }

    fn hub(value: Value) -> v2beta1::ClientIntents {
        serde_json::from_value(value).expect("hub")
    }

    #[tokio::test]
    async fn a_valid_object_is_allowed() {
        let object = intents(
            "frontend",
            "frontend",
            json!([{ "kubernetes": { "name": "cartservice" } }]),
        );
        let response = answer(review("CREATE", object, None), &StaticNeighbourhood::default()).await;
        assert_eq!(response["allowed"], true, "{response}");
        assert_eq!(response["uid"], "3b1c5e6a-0000-4000-8000-000000000001");
    }

    #[tokio::test]
    async fn an_invalid_object_is_denied_with_the_field_path() {
        let object = intents(
            "frontend",
            "frontend",
            json!([{ "kubernetes": { "name": "a.b.c" } }, {}]),
        );
        let response = answer(review("CREATE", object, None), &StaticNeighbourhood::default()).await;
        assert_eq!(response["allowed"], false, "{response}");
        let message = response["status"]["message"].as_str().expect("message");
        assert!(message.contains("ClientIntents shop/frontend"), "{message}");
        assert!(message.contains("spec.targets[0].kubernetes.name"), "{message}");
        assert!(message.contains("spec.targets[1]"), "{message}");
    }

    #[tokio::test]
    async fn a_v1_object_is_denied_with_its_own_field_path() {
        let object = json!({
            "apiVersion": "k8s.otterize.com/v1alpha3",
            "kind": "ClientIntents",
            "metadata": { "name": "frontend", "namespace": "shop" },
            "spec": { "service": { "name": "frontend" }, "calls": [{ "name": "a.b.c" }] },
        });
        let response = answer(review("CREATE", object, None), &StaticNeighbourhood::default()).await;
        assert_eq!(response["allowed"], false, "{response}");
        let message = response["status"]["message"].as_str().expect("message");
        assert!(message.contains("spec.calls[0].name"), "{message}");
    }

    #[tokio::test]
    async fn an_object_that_does_not_parse_is_denied_with_the_field_path() {
        let object = intents("frontend", "frontend", json!([{ "kubernetes": { "name": 7 } }]));
        let response = answer(review("CREATE", object, None), &StaticNeighbourhood::default()).await;
        assert_eq!(response["allowed"], false, "{response}");
        let message = response["status"]["message"].as_str().expect("message");
        assert!(message.contains("spec.targets[0].kubernetes.name"), "{message}");
    }

    #[tokio::test]
    async fn a_second_object_for_the_same_workload_is_denied() {
        let existing = intents(
            "frontend",
            "frontend",
            json!([{ "kubernetes": { "name": "cartservice" } }]),
        );
        let neighbourhood = StaticNeighbourhood {
            client_intents: vec![hub(existing)],
            ..StaticNeighbourhood::default()
        };
        let second = intents(
            "frontend-2",
            "frontend",
            json!([{ "kubernetes": { "name": "adservice" } }]),
        );
        let response = answer(review("CREATE", second, None), &neighbourhood).await;
        assert_eq!(response["allowed"], false, "{response}");
        let message = response["status"]["message"].as_str().expect("message");
        assert!(message.contains("frontend"), "{message}");

        // The same object updated is not its own duplicate.
        let same = intents(
            "frontend",
            "frontend",
            json!([{ "kubernetes": { "name": "adservice" } }]),
        );
        let response = answer(review("UPDATE", same.clone(), Some(same)), &neighbourhood).await;
        assert_eq!(response["allowed"], true, "{response}");
    }

    #[tokio::test]
    async fn neighbours_of_other_namespaces_do_not_count() {
        let mut elsewhere = intents("frontend", "frontend", json!([{ "kubernetes": { "name": "x" } }]));
        elsewhere["metadata"]["namespace"] = json!("other");
        let neighbourhood = StaticNeighbourhood {
            client_intents: vec![hub(elsewhere)],
            ..StaticNeighbourhood::default()
        };
        let object = intents(
            "frontend-2",
            "frontend",
            json!([{ "kubernetes": { "name": "x" } }]),
        );
        let response = answer(review("CREATE", object, None), &neighbourhood).await;
        assert_eq!(response["allowed"], true, "{response}");
    }

    #[tokio::test]
    async fn deletes_objects_being_deleted_and_unchanged_specs_are_allowed() {
        let invalid = intents("frontend", "frontend", json!([{}]));
        let response = answer(
            review("DELETE", invalid.clone(), None),
            &StaticNeighbourhood::default(),
        )
        .await;
        assert_eq!(response["allowed"], true, "{response}");

        let mut deleting = invalid.clone();
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let response = answer(
            review("UPDATE", deleting, Some(invalid.clone())),
            &StaticNeighbourhood::default(),
        )
        .await;
        assert_eq!(response["allowed"], true, "{response}");

        let mut finalized = invalid.clone();
        finalized["metadata"]["finalizers"] = json!(["k8s.otterize.com/intents"]);
        let response = answer(
            review("UPDATE", finalized, Some(invalid)),
            &StaticNeighbourhood::default(),
        )
        .await;
        assert_eq!(response["allowed"], true, "{response}");
    }

    #[tokio::test]
    async fn an_update_that_changes_only_the_conversion_annotation_is_validated() {
        // v1alpha3 cannot show Azure actions: they travel in an annotation. Editing only the annotation
        // leaves the v1alpha3 spec as it was but changes the stored (hub) spec, here to an invalid one
        // (roles and actions together).
        let call = json!({"name": "/subscriptions/s", "type": "azure", "azureRoles": ["Reader"]});
        let object = |hidden: Option<&str>| {
            let mut metadata = json!({ "name": "frontend", "namespace": "shop" });
            if let Some(hidden) = hidden {
                metadata["annotations"] = json!({ "conversion.k8s.otterize.com/v1beta1-calls": hidden });
            }
            json!({
                "apiVersion": "k8s.otterize.com/v1alpha3",
                "kind": "ClientIntents",
                "metadata": metadata,
                "spec": { "service": { "name": "frontend" }, "calls": [call.clone()] },
            })
        };
        let hidden = r#"{"0":{"name":"/subscriptions/s","type":"azure","azureRoles":["Reader"],"azureActions":["Microsoft.Storage/write"]}}"#;
        let response = answer(
            review("UPDATE", object(Some(hidden)), Some(object(None))),
            &StaticNeighbourhood::default(),
        )
        .await;
        assert_eq!(response["allowed"], false, "{response}");
        let message = response["status"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("azure"), "{message}");
    }

    #[tokio::test]
    async fn warnings_of_a_valid_object_are_returned() {
        let object = json!({
            "apiVersion": "k8s.otterize.com/v1alpha3",
            "kind": "ClientIntents",
            "metadata": { "name": "frontend", "namespace": "shop" },
            "spec": { "service": { "name": "frontend" }, "calls": [{ "name": "kafka", "type": "kafka" }] },
        });
        let response = answer(review("CREATE", object, None), &StaticNeighbourhood::default()).await;
        assert_eq!(response["allowed"], true, "{response}");
        let warnings = response["warnings"].as_array().expect("warnings");
        assert_eq!(warnings.len(), 1, "{response}");
        let warning = warnings[0].as_str().expect("text");
        assert!(warning.contains("spec.calls[0].kafkaTopics"), "{warning}");
    }

    /// A neighbourhood whose API server does not answer.
    struct Unreachable;

    impl Neighbourhood for Unreachable {
        async fn client_intents(
            &self,
            claim: &Claim<'_>,
        ) -> Result<Vec<v2beta1::ClientIntents>, crate::webhook::NeighbourhoodError> {
            Err(crate::webhook::NeighbourhoodError {
                kind: holt_api::Kind::ClientIntents,
                namespace: claim.namespace.to_owned(),
                source: Box::new(kube::Error::Api(Box::new(kube::core::Status::failure(
                    "connection refused",
                    "ServiceUnavailable",
                )))),
            })
        }

        async fn protected_services(
            &self,
            _claim: &Claim<'_>,
        ) -> Result<Vec<v2beta1::ProtectedService>, crate::webhook::NeighbourhoodError> {
            Ok(Vec::new())
        }
    }

    /// A neighbourhood that records what it is asked and told.
    #[derive(Default)]
    struct Recording {
        asked: std::sync::Mutex<Vec<String>>,
        admitted: std::sync::Mutex<Vec<String>>,
    }

    impl Neighbourhood for Recording {
        async fn client_intents(
            &self,
            claim: &Claim<'_>,
        ) -> Result<Vec<v2beta1::ClientIntents>, crate::webhook::NeighbourhoodError> {
            self.asked.lock().expect("lock").push(format!("{claim:?}"));
            Ok(Vec::new())
        }

        async fn protected_services(
            &self,
            claim: &Claim<'_>,
        ) -> Result<Vec<v2beta1::ProtectedService>, crate::webhook::NeighbourhoodError> {
            self.asked.lock().expect("lock").push(format!("{claim:?}"));
            Ok(Vec::new())
        }

        fn admitted(&self, kind: holt_api::Kind, claim: &Claim<'_>) {
            self.admitted
                .lock()
                .expect("lock")
                .push(format!("{kind} {claim:?}"));
        }
    }

    #[tokio::test]
    async fn the_claim_names_the_hub_workload_and_only_real_admissions_are_recorded() {
        let recording = Recording::default();
        let v1 = json!({
            "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
            "metadata": { "name": "frontend-intents", "namespace": "shop" },
            "spec": { "service": { "name": "frontend", "kind": "Deployment" }, "calls": [{ "name": "cart" }] },
        });
        let out = review_admission(
            review("CREATE", v1.clone(), None),
            &recording,
            &ValidationConfig::default(),
        )
        .await;
        assert_eq!(
            serde_json::to_value(out).expect("json")["response"]["allowed"],
            true
        );
        let expected = r#"Claim { namespace: "shop", object: "frontend-intents", identity: "frontend", kind: Some("Deployment") }"#;
        assert_eq!(*recording.asked.lock().expect("lock"), [expected]);
        assert_eq!(
            *recording.admitted.lock().expect("lock"),
            [format!("ClientIntents {expected}")]
        );

        // A dry run and a denied object are looked up but not recorded.
        let mut dry_run = review("CREATE", v1, None);
        if let Some(request) = dry_run.request.as_mut() {
            request.dry_run = true;
        }
        review_admission(dry_run, &recording, &ValidationConfig::default()).await;
        let invalid = intents(
            "broken",
            "frontend",
            json!([{ "kubernetes": { "name": "a.b.c" } }]),
        );
        review_admission(
            review("CREATE", invalid, None),
            &recording,
            &ValidationConfig::default(),
        )
        .await;
        assert_eq!(recording.asked.lock().expect("lock").len(), 3);
        assert_eq!(recording.admitted.lock().expect("lock").len(), 1);
    }

    #[tokio::test]
    async fn an_unchecked_uniqueness_denies_and_says_why() {
        let object = intents(
            "frontend",
            "frontend",
            json!([{ "kubernetes": { "name": "cartservice" } }]),
        );
        let out = review_admission(
            review("CREATE", object, None),
            &Unreachable,
            &ValidationConfig::default(),
        )
        .await;
        let response = serde_json::to_value(out).expect("json")["response"].clone();
        assert_eq!(response["allowed"], false, "{response}");
        let message = response["status"]["message"].as_str().expect("message");
        assert!(
            message.contains("cannot list the ClientIntents of namespace shop"),
            "{message}"
        );
    }
}
