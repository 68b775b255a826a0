//! The conversion webhook: a `ConversionReview`'s body answered by converting its objects one at a time with
//! the shared conversion ([`holt_api::convert::convert_value`]), each written to the answer as soon as it is
//! converted. In: the body's bytes; out: the answer's bytes. Memory is the body, the answer (about as large)
//! and one object at a time, whatever the number of objects: a list read in another version brings every
//! object of it in one review (40,000 ClientIntents are 32 MB), and the tree of all of them at once was 50
//! times the body.
//!
//! The body is parsed once, with the objects left as slices of it until their turn; only when
//! `desiredAPIVersion` comes after `objects` (the API server writes it before) is it parsed twice. A failure
//! names the object and the problem; it never leaves the API server with an empty answer.

use std::time::Instant;

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::buffer::ReviewBuffer;
use super::limits::{MAX_ADMISSION_BODY, mib};

/// The API server sends `apiextensions.k8s.io/v1` reviews (Holt registers `conversionReviewVersions: [v1]`);
/// the answer carries the request's own `apiVersion` when it has one.
const REVIEW_API_VERSION: &str = "apiextensions.k8s.io/v1";
/// How many objects are converted between two looks at the clock.
const DEADLINE_CHECK_EVERY: usize = 256;
/// The parse error that carries a stop at the deadline out of the parser.
const STOPPED: &str = "holt: conversion deadline passed";

/// The bounds of one conversion.
#[derive(Clone, Copy, Debug)]
pub struct ConversionBounds {
    /// The largest object (bytes of its JSON) that is converted; a larger one fails the review, naming it.
    pub max_object: usize,
    /// When set, the conversion stops once it has passed ([`ConversionStopped`]).
    pub deadline: Option<Instant>,
}

/// The answer to one `ConversionReview` body.
#[derive(Debug)]
pub enum ConversionAnswer {
    /// Every object converted, in order, or `result.status: Failure` naming the first object that could not
    /// be (HTTP 200).
    Answered(Bytes),
    /// The body is not a `ConversionReview`: a review with `result.status: Failure` saying why (HTTP 400).
    Unreadable(Bytes),
}

impl ConversionAnswer {
    /// The answer's JSON.
    pub fn into_bytes(self) -> Bytes {
        match self {
            ConversionAnswer::Answered(bytes) | ConversionAnswer::Unreadable(bytes) => bytes,
        }
    }
}

/// The conversion passed its deadline: nobody waits for the answer any more.
#[derive(Debug, thiserror::Error)]
#[error("the conversion passed its deadline after {converted} objects")]
pub struct ConversionStopped {
    pub converted: usize,
}

/// Answers one `ConversionReview` body: all objects converted (in order), or `result.status: Failure` with a
/// message naming the first object that could not be converted.
pub fn review_conversion(
    body: &[u8],
    bounds: &ConversionBounds,
) -> Result<ConversionAnswer, ConversionStopped> {
    let mut review = Review::new(*bounds, body.len());
    loop {
        review.start_pass();
        let mut parser = serde_json::Deserializer::from_slice(body);
        let parsed = TopLevel(&mut review)
            .deserialize(&mut parser)
            .and_then(|()| parser.end());
        if review.stopped {
            return Err(ConversionStopped {
                converted: review.converted,
            });
        }
        if let Err(error) = parsed {
            tracing::warn!(%error, "unreadable ConversionReview");
            return Ok(ConversionAnswer::Unreadable(review.failure_answer(
                &format!("cannot read the ConversionReview: {error}"),
                "BadRequest",
            )));
        }
        // `objects` came before `desiredAPIVersion`: they were skipped, and are converted on a second pass.
        if review.objects == Objects::Skipped && review.desired.is_some() {
            continue;
        }
        return Ok(ConversionAnswer::Answered(review.finish()));
    }
}

/// Whether the request's `objects` were converted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Objects {
    NotSeen,
    /// Seen before `desiredAPIVersion`.
    Skipped,
    Converted,
}

/// The first object that could not be converted.
#[derive(Debug)]
struct Failure {
    index: usize,
    object: String,
    problem: String,
}

/// What the parse has found and written so far.
struct Review {
    bounds: ConversionBounds,
    api_version: Option<String>,
    has_request: bool,
    uid: Option<String>,
    desired: Option<String>,
    objects: Objects,
    /// `{"response":{"convertedObjects":[` and the objects converted so far.
    answer: ReviewBuffer,
    /// Room reserved for the answer: twice the body (a converted object is about as large as the original; a
    /// mapped buffer's untouched pages cost nothing, and the answer grows past it if it must).
    answer_capacity: usize,
    converted: usize,
    total: usize,
    failure: Option<Failure>,
    stopped: bool,
}

const ANSWER_START: &[u8] = br#"{"response":{"convertedObjects":["#;

impl Review {
    fn new(bounds: ConversionBounds, body_len: usize) -> Review {
        Review {
            bounds,
            api_version: None,
            has_request: false,
            uid: None,
            desired: None,
            objects: Objects::NotSeen,
            answer: ReviewBuffer::with_capacity(0),
            answer_capacity: body_len.saturating_mul(2).saturating_add(1024),
            converted: 0,
            total: 0,
            failure: None,
            stopped: false,
        }
    }

    fn start_pass(&mut self) {
        self.objects = Objects::NotSeen;
        self.answer = ReviewBuffer::with_capacity(self.answer_capacity);
        self.answer.extend_from_slice(ANSWER_START);
        self.converted = 0;
        self.total = 0;
        self.failure = None;
    }

    fn api_version(&self) -> &str {
        self.api_version.as_deref().unwrap_or(REVIEW_API_VERSION)
    }

    /// Converts one object and appends it to the answer; records the first failure and stops writing.
    fn convert(&mut self, raw: &RawValue) {
        self.total += 1;
        if self.failure.is_some() {
            return;
        }
        let index = self.total;
        let text = raw.get();
        let problem = if text.len() > self.bounds.max_object {
            Some(format!(
                "it is {}, more than an object may be ({}, {MAX_ADMISSION_BODY})",
                mib(text.len()),
                mib(self.bounds.max_object),
            ))
        } else {
            self.convert_within_bounds(text).err()
        };
        if let Some(problem) = problem {
            // What was converted is of no use any more: given back at once.
            self.answer = ReviewBuffer::with_capacity(0);
            self.failure = Some(Failure {
                index,
                object: describe(text),
                problem,
            });
        }
    }

    fn convert_within_bounds(&mut self, text: &str) -> Result<(), String> {
        let desired = self.desired.as_deref().unwrap_or_default();
        let object: Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
        let converted =
            holt_api::convert::convert_value(object, desired).map_err(|error| error.to_string())?;
        if self.converted > 0 {
            self.answer.extend_from_slice(b",");
        }
        serde_json::to_writer(&mut self.answer, &converted).map_err(|error| error.to_string())?;
        self.converted += 1;
        Ok(())
    }

    fn past_deadline(&self) -> bool {
        self.total.is_multiple_of(DEADLINE_CHECK_EVERY)
            && self
                .bounds
                .deadline
                .is_some_and(|deadline| Instant::now() > deadline)
    }

    /// The answer: the converted objects, or the failure.
    fn finish(mut self) -> Bytes {
        if !self.has_request {
            tracing::warn!("conversion review without a request");
            return self.failure_answer("the ConversionReview has no request", "BadRequest");
        }
        let Some(desired) = self.desired.clone() else {
            return self.failure_answer("the ConversionReview has no desiredAPIVersion", "BadRequest");
        };
        if let Some(failure) = &self.failure {
            let message = format!(
                "cannot convert object {} of {} ({}) to {desired}: {}",
                failure.index, self.total, failure.object, failure.problem
            );
            tracing::warn!(%message, "conversion failed");
            return self.failure_answer(&message, "ConversionFailed");
        }
        tracing::debug!(%desired, objects = self.converted, "converted");
        let mut answer = std::mem::replace(&mut self.answer, ReviewBuffer::with_capacity(0));
        answer.extend_from_slice(br#"],"uid":"#);
        write_json(&mut answer, self.uid.as_deref().unwrap_or_default());
        answer.extend_from_slice(br#","result":{"status":"Success"}},"apiVersion":"#);
        write_json(&mut answer, self.api_version());
        answer.extend_from_slice(br#","kind":"ConversionReview"}"#);
        answer.into_bytes()
    }

    /// A review answering `result.status: Failure` with `message`, and no objects.
    fn failure_answer(&self, message: &str, reason: &str) -> Bytes {
        let review = serde_json::json!({
            "apiVersion": self.api_version(),
            "kind": "ConversionReview",
            "response": {
                "uid": self.uid.as_deref().unwrap_or_default(),
                "result": { "status": "Failure", "message": message, "reason": reason },
                "convertedObjects": [],
            },
        });
        Bytes::from(serde_json::to_vec(&review).unwrap_or_default())
    }
}

fn write_json(out: &mut ReviewBuffer, text: &str) {
    if serde_json::to_writer(&mut *out, text).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// The review's top level: `apiVersion` and `request`; everything else is skipped.
struct TopLevel<'r>(&'r mut Review);

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a ConversionReview object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "apiVersion" => self.0.api_version = map.next_value()?,
                "request" => map.next_value_seed(Request(&mut *self.0))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `request`: `uid`, `desiredAPIVersion` and `objects`.
struct Request<'r>(&'r mut Review);

impl<'de> DeserializeSeed<'de> for Request<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Request<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a ConversionRequest object")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let review = self.0;
        review.has_request = true;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "uid" => review.uid = map.next_value()?,
                "desiredAPIVersion" => review.desired = map.next_value()?,
                "objects" if review.desired.is_some() => {
                    map.next_value_seed(ObjectList(&mut *review))?;
                    review.objects = Objects::Converted;
                }
                "objects" => {
                    map.next_value::<IgnoredAny>()?;
                    review.objects = Objects::Skipped;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `request.objects`, each converted as soon as it is read.
struct ObjectList<'r>(&'r mut Review);

impl<'de> DeserializeSeed<'de> for ObjectList<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectList<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of objects")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let review = self.0;
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            review.convert(raw);
            if review.past_deadline() {
                review.stopped = true;
                return Err(de::Error::custom(STOPPED));
            }
        }
        Ok(())
    }
}

/// `Kind namespace/name (apiVersion)`, as far as the object says.
fn describe(text: &str) -> String {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Header {
        api_version: Option<String>,
        kind: Option<String>,
        metadata: HeaderMetadata,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct HeaderMetadata {
        name: Option<String>,
        namespace: Option<String>,
    }
    let header: Header = serde_json::from_str(text).unwrap_or_default();
    let field = |value: &Option<String>| value.clone().unwrap_or_else(|| "?".to_owned());
    format!(
        "{} {}/{} ({})",
        field(&header.kind),
        field(&header.metadata.namespace),
        field(&header.metadata.name),
        field(&header.api_version)
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const UNBOUNDED: ConversionBounds = ConversionBounds {
        max_object: usize::MAX,
        deadline: None,
    };

    fn review(desired: &str, objects: Vec<Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({
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

    fn answer_within(review: Vec<u8>, bounds: &ConversionBounds) -> Value {
        match review_conversion(&review, bounds).expect("in time") {
            ConversionAnswer::Answered(bytes) => serde_json::from_slice(&bytes).expect("json"),
            ConversionAnswer::Unreadable(bytes) => {
                panic!("unreadable: {}", String::from_utf8_lossy(&bytes))
            }
        }
    }

    fn answer(review: Vec<u8>) -> Value {
        answer_within(review, &UNBOUNDED)
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

    #[test]
    fn the_answer_is_a_v1_conversion_review_with_the_request_uid() {
        let out = answer(review("k8s.otterize.com/v2beta1", vec![frontend_v1alpha3()]));
        assert_eq!(out["apiVersion"], "apiextensions.k8s.io/v1");
        assert_eq!(out["kind"], "ConversionReview");
        assert_eq!(out["response"]["result"], json!({ "status": "Success" }));
        let empty = answer(review("k8s.otterize.com/v2beta1", vec![]));
        assert_eq!(empty["response"]["convertedObjects"], json!([]));
        assert_eq!(empty["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    }

    #[test]
    fn objects_before_the_desired_version_are_converted_too() {
        let body = serde_json::to_vec(&json!({
            "request": { "objects": [frontend_v1alpha3(), frontend_v1alpha3()], "uid": "u",
                         "desiredAPIVersion": "k8s.otterize.com/v2beta1" },
            "kind": "ConversionReview", "apiVersion": "apiextensions.k8s.io/v1",
        }))
        .expect("json");
        let out = answer(body);
        assert_eq!(out["response"]["result"]["status"], "Success");
        let converted = out["response"]["convertedObjects"].as_array().expect("objects");
        assert_eq!(converted.len(), 2);
        assert_eq!(converted[1]["apiVersion"], "k8s.otterize.com/v2beta1");
    }

    #[test]
    fn an_object_larger_than_an_object_may_be_fails_the_review_naming_it_and_the_setting() {
        let mut large = frontend_v1alpha3();
        large["metadata"]["name"] = json!("large");
        large["metadata"]["labels"] = json!({ "padding": "x".repeat(4096) });
        let bounds = ConversionBounds {
            max_object: 2048,
            deadline: None,
        };
        let out = answer_within(
            review(
                "k8s.otterize.com/v2beta1",
                vec![frontend_v1alpha3(), large, frontend_v1alpha3()],
            ),
            &bounds,
        );
        let result = &out["response"]["result"];
        assert_eq!(result["status"], "Failure");
        let message = result["message"].as_str().expect("message");
        assert!(message.contains("object 2 of 3"), "{message}");
        assert!(message.contains("ClientIntents shop/large"), "{message}");
        assert!(
            message.contains("HOLT_WEBHOOK_MAX_ADMISSION_BODY_MIB"),
            "{message}"
        );
        assert_eq!(out["response"]["convertedObjects"], json!([]));
    }

    #[test]
    fn a_conversion_past_its_deadline_stops() {
        let objects = vec![frontend_v1alpha3(); 2 * DEADLINE_CHECK_EVERY];
        let bounds = ConversionBounds {
            max_object: usize::MAX,
            deadline: Some(Instant::now()),
        };
        let stopped = review_conversion(&review("k8s.otterize.com/v2beta1", objects), &bounds)
            .expect_err("past the deadline");
        assert_eq!(stopped.converted, DEADLINE_CHECK_EVERY);
    }

    #[test]
    fn a_body_that_is_not_a_review_is_unreadable_and_a_review_without_request_fails() {
        let unreadable = review_conversion(b"{not json", &UNBOUNDED).expect("answer");
        let ConversionAnswer::Unreadable(bytes) = unreadable else {
            panic!("readable?")
        };
        let out: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(out["response"]["result"]["status"], "Failure");
        let message = out["response"]["result"]["message"].as_str().expect("message");
        assert!(message.contains("cannot read the ConversionReview"), "{message}");

        let out = answer(br#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"ConversionReview"}"#.to_vec());
        assert_eq!(out["response"]["result"]["status"], "Failure");
        assert_eq!(
            out["response"]["result"]["message"],
            "the ConversionReview has no request"
        );
    }
}
