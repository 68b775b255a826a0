//! The conversion webhook: a `ConversionReview` answered by converting every object to the desired version
//! with the shared conversion. A failure names the object and the problem; it never leaves the API server
//! with an empty answer.

use kube::core::Status;
use kube::core::conversion::{ConversionRequest, ConversionResponse, ConversionReview};
use serde_json::Value;

/// Answers one `ConversionReview`: all objects converted (in order), or `result.status: Failure` with a
/// message naming the first object that could not be converted.
pub fn review_conversion(review: ConversionReview) -> ConversionReview {
    let mut request = match ConversionRequest::from_review(review) {
        Ok(request) => request,
        Err(_) => {
            tracing::warn!("conversion review without a request");
            return ConversionResponse::invalid(Status::failure(
                "the ConversionReview has no request",
                "BadRequest",
            ))
            .into_review();
        }
    };
    let desired = request.desired_api_version.clone();
    // Taken, not copied: a list read in another version brings every object of it in one review.
    let objects = std::mem::take(&mut request.objects);
    let total = objects.len();
    let response = ConversionResponse::for_request(request);
    let mut converted = Vec::with_capacity(total);
    for (index, object) in objects.into_iter().enumerate() {
        let name = describe(&object);
        match holt_api::convert::convert_value(object, &desired) {
            Ok(value) => converted.push(value),
            Err(error) => {
                let message = format!(
                    "cannot convert object {} of {total} ({name}) to {desired}: {error}",
                    index + 1
                );
                tracing::warn!(%message, "conversion failed");
                return response
                    .failure(Status::failure(&message, "ConversionFailed"))
                    .into_review();
            }
        }
    }
    tracing::debug!(%desired, objects = total, "converted");
    response.success(converted).into_review()
}

/// `Kind namespace/name (apiVersion)`, as far as the object says.
fn describe(object: &Value) -> String {
    let field = |path: &[&str]| {
        path.iter()
            .try_fold(object, |value, key| value.get(*key))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    format!(
        "{} {}/{} ({})",
        field(&["kind"]),
        field(&["metadata", "namespace"]),
        field(&["metadata", "name"]),
        field(&["apiVersion"])
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn review(desired: &str, objects: Vec<Value>) -> ConversionReview {
        serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "ConversionReview",
            "request": { "uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "desiredAPIVersion": desired, "objects": objects },
        }))
        .expect("review")
    }

    fn frontend_v1alpha3() -> Value {
        json!({
            "apiVersion": "k8s.otterize.com/v1alpha3",
            "kind": "ClientIntents",
            "metadata": { "name": "client-intents-for-frontend", "namespace": "shop", "uid": "u1", "resourceVersion": "7" },
            "spec": { "service": { "name": "frontend" }, "calls": [{ "name": "adservice" }, { "name": "svc:cartservice" }] },
            "status": { "upToDate": true },
        })
    }

    fn answer(review: ConversionReview) -> Value {
        serde_json::to_value(review_conversion(review)).expect("json")
    }

    #[test]
    fn converts_every_object_and_keeps_metadata_and_status() {
        let out = answer(review("k8s.otterize.com/v2beta1", vec![frontend_v1alpha3()]));
        let response = &out["response"];
        assert_eq!(response["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
        assert_eq!(response["result"]["status"], "Success");
        let converted = &response["convertedObjects"][0];
        assert_eq!(converted["apiVersion"], "k8s.otterize.com/v2beta1");
        assert_eq!(converted["spec"]["workload"]["name"], "frontend");
        assert_eq!(converted["spec"]["targets"][0]["kubernetes"]["name"], "adservice");
        assert_eq!(
            converted["spec"]["targets"][1]["kubernetes"]["name"],
            "cartservice"
        );
        assert_eq!(converted["spec"]["targets"][1]["kubernetes"]["kind"], "Service");
        // Metadata is kept, plus the annotation keeping the `svc:` spelling v2 cannot write.
        let mut metadata = frontend_v1alpha3()["metadata"].clone();
        metadata["annotations"] = json!({
            holt_api::convert::HIDDEN_V1BETA1_CALLS: r#"{"1":{"name":"svc:cartservice"}}"#
        });
        assert_eq!(converted["metadata"], metadata);
        assert_eq!(converted["status"], frontend_v1alpha3()["status"]);
    }

    #[test]
    fn round_trips_through_the_hub() {
        let there = answer(review("k8s.otterize.com/v2beta1", vec![frontend_v1alpha3()]));
        let hub = there["response"]["convertedObjects"][0].clone();
        let back = answer(review("k8s.otterize.com/v1alpha3", vec![hub]));
        // Lossless: the `svc:` prefix the reference turns into `kind: Service` comes back as written.
        assert_eq!(back["response"]["convertedObjects"][0], frontend_v1alpha3());
    }

    #[test]
    fn a_bad_object_fails_the_review_with_its_name_and_field() {
        let mut bad = frontend_v1alpha3();
        bad["metadata"]["name"] = json!("broken");
        bad["spec"]["calls"] = json!("not a list");
        let out = answer(review("k8s.otterize.com/v2beta1", vec![frontend_v1alpha3(), bad]));
        let result = &out["response"]["result"];
        assert_eq!(result["status"], "Failure");
        let message = result["message"].as_str().expect("message");
        assert!(message.contains("object 2 of 2"), "{message}");
        assert!(message.contains("ClientIntents shop/broken"), "{message}");
        assert!(message.contains("spec.calls"), "{message}");
        assert_eq!(out["response"]["convertedObjects"], json!([]));
    }

    #[test]
    fn an_unserved_desired_version_fails_the_review() {
        let out = answer(review("k8s.otterize.com/v1alpha2", vec![frontend_v1alpha3()]));
        let message = out["response"]["result"]["message"].as_str().expect("message");
        assert!(message.contains("v1alpha2"), "{message}");
        assert_eq!(out["response"]["result"]["status"], "Failure");
    }
}
