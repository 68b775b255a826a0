//! The webhook under load and hostile input, in a real `holt-operator` process (this build's binary) on a
//! real kube-apiserver: memory read from `/proc/<pid>/status` while it answers 32 MB ConversionReviews, one
//! and eight at once; a body trickled slower than the deadline cut off and its connection closed; bodies over
//! their limit refused with 413 before they are read; and the API server itself listing 4,000 ClientIntents
//! in an old version through the conversion webhook, over the in-flight budget (it waits and retries on 429)
//! and over the size limit (the list fails, naming the limit).
//!
//! The new limits are given through their environment variables, so that a binary that does not know them
//! ignores them and the tests show what it does without them. Tests run one at a time (each starts its own
//! operator process and measures it).

#[path = "support/operator_process.rs"]
mod operator_process;
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::{StreamExt, stream};
use holt_testenv::{ControlPlane, ControlPlaneOptions};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use operator_process::{
    OBJECTS, OperatorProcess, PeakSampler, Response, conversion_review, large_conversion_review,
    v1alpha3_intents,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1024 * 1024;
/// The bound on one review's memory, as a multiple of its body: the body, the answer (about as large) and
/// one object at a time being converted.
const ONE_REVIEW_FACTOR: f64 = 3.0;
/// The bound on a burst's memory, as a multiple of the review memory budget
/// ([`holt_operator::webhook::limits::DEFAULT_REVIEW_MEMORY`]): what reviews are charged is an estimate.
const BURST_FACTOR: f64 = 1.25;
/// How far above its idle baseline the process may stay once a burst is over.
const SETTLED_MIB: f64 = 24.0;

/// For the 32 MB reviews: the test build converts about 10 times slower than a release build (one review of
/// 40,000 objects answered in 16.5 s, against 1.5 s), so the deadline and the wait for a turn are longer than
/// their defaults; the memory limits are the defaults.
const SLOW_BUILD: &[(&str, &str)] = &[
    ("HOLT_WEBHOOK_REQUEST_TIMEOUT", "180s"),
    ("HOLT_WEBHOOK_QUEUE_WAIT", "90s"),
];

fn operator_binary() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_holt-operator"))
}

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The parts of a conversion answer the tests check.
#[derive(Deserialize)]
struct Answer {
    response: AnswerResponse,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerResponse {
    uid: String,
    result: Value,
    #[serde(default)]
    converted_objects: Vec<Converted>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Converted {
    api_version: String,
    metadata: ConvertedMetadata,
    spec: Value,
}

#[derive(Deserialize)]
struct ConvertedMetadata {
    name: String,
}

/// Checks a 200 answer to [`conversion_review`] of `objects`: every object converted, in order.
fn check_answer(response: &Response, objects: usize) -> anyhow::Result<()> {
    ensure!(response.status == 200, "{} {}", response.head, response.text());
    let answer: Answer = serde_json::from_slice(&response.body).context("the answer")?;
    let answer = answer.response;
    ensure!(answer.uid == "705ab4f5-6393-11e8-b7cc-42010a800002");
    ensure!(answer.result["status"] == "Success", "{}", answer.result);
    ensure!(answer.converted_objects.len() == objects);
    for (index, object) in answer.converted_objects.iter().enumerate().step_by(997) {
        ensure!(object.api_version == "k8s.otterize.com/v2beta1");
        let name = format!("client-{index:05}");
        ensure!(object.metadata.name == name);
        ensure!(
            object.spec["workload"]["name"] == name.as_str(),
            "{}",
            object.spec
        );
        ensure!(
            object.spec["targets"][1]["kubernetes"]["kind"] == "Service",
            "{}",
            object.spec
        );
    }
    Ok(())
}

/// Waits (at most 30 s) until the process's resident size is within [`SETTLED_MIB`] of `baseline`; returns
/// the size then.
async fn settles(process: &OperatorProcess, baseline: f64) -> f64 {
    let started = Instant::now();
    loop {
        let now = process.rss_mib();
        if now <= baseline + SETTLED_MIB || started.elapsed() > Duration::from_secs(30) {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_32_mb_conversion_review_is_answered_within_its_memory_bound() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let plane = ControlPlane::shared().await?;
    let process = OperatorProcess::start(operator_binary(), plane, SLOW_BUILD).await?;
    let body = large_conversion_review();
    ensure!(body.len() >= 32_000_000, "{} bytes", body.len());
    let body_mib = body.len() as f64 / MIB as f64;
    let baseline = process.settled_rss_mib().await;

    let sampler = PeakSampler::start(process.pid);
    let started = Instant::now();
    let response = process.post("/convert", &body, "POST").await?;
    let took = started.elapsed();
    let peak = sampler.finish();
    check_answer(&response, OBJECTS).with_context(|| process.log_tail())?;
    let after = settles(&process, baseline).await;
    println!(
        "one review of {body_mib:.1} MiB ({OBJECTS} objects): answered in {took:.2?}; RSS baseline \
         {baseline:.1} MiB, peak {peak:.1} MiB (+{:.1}), after {after:.1} MiB",
        peak - baseline
    );
    let bound = ONE_REVIEW_FACTOR * body_mib;
    ensure!(
        peak - baseline <= bound,
        "one {body_mib:.1} MiB review took the operator from {baseline:.1} MiB to {peak:.1} MiB, more \
         than {bound:.0} MiB above its baseline"
    );
    ensure!(
        after <= baseline + SETTLED_MIB,
        "the operator kept {after:.1} MiB after the review (baseline {baseline:.1} MiB)"
    );
    Ok(())
}

/// After one review, eight reviews of `objects` objects at once, each sent again after a 429 as the API
/// server does: all answered, the peak within [`BURST_FACTOR`] times the memory budget, and the memory given
/// back after.
async fn eight_at_once(objects: usize) -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let plane = ControlPlane::shared().await?;
    let process = OperatorProcess::start(operator_binary(), plane, SLOW_BUILD).await?;
    let body = conversion_review(objects);
    // One review first, as a running operator has answered some: the allocator has seen a block of this size
    // freed before the burst.
    let (response, _) = process.post_retrying("/convert", &body).await?;
    check_answer(&response, objects)?;
    drop(response);
    let baseline = process.settled_rss_mib().await;

    let sampler = PeakSampler::start(process.pid);
    let started = Instant::now();
    let answers = process.post_retrying_at_once("/convert", &body, 8).await;
    let took = started.elapsed();
    let peak = sampler.finish();
    let mut retries = 0;
    for answer in answers {
        let (response, retried) = answer?;
        retries += retried;
        check_answer(&response, objects).with_context(|| process.log_tail())?;
    }
    let after = settles(&process, baseline).await;
    println!(
        "eight reviews of {:.1} MiB at once: all answered in {took:.2?} ({retries} retried after 429); RSS \
         baseline {baseline:.1} MiB, peak {peak:.1} MiB (+{:.1}), after {after:.1} MiB",
        body.len() as f64 / MIB as f64,
        peak - baseline
    );
    let budget = holt_operator::webhook::limits::DEFAULT_REVIEW_MEMORY as f64 / MIB as f64;
    let bound = BURST_FACTOR * budget;
    ensure!(
        peak - baseline <= bound,
        "eight reviews took the operator from {baseline:.1} MiB to {peak:.1} MiB, more than {bound:.0} MiB \
         above its baseline"
    );
    ensure!(
        after <= baseline + SETTLED_MIB,
        "the operator kept {after:.1} MiB after the burst (baseline {baseline:.1} MiB)"
    );
    Ok(())
}

#[tokio::test]
async fn eight_32_mb_conversion_reviews_at_once_stay_within_the_memory_budget() -> anyhow::Result<()> {
    eight_at_once(OBJECTS).await
}

/// Reviews of a few MiB all run at once, and their buffers are sizes glibc would keep after freeing them
/// (its threshold for mapping a block on its own rises to the size of the last one freed, up to 32 MiB).
#[tokio::test]
async fn eight_3_mb_conversion_reviews_at_once_give_their_memory_back() -> anyhow::Result<()> {
    eight_at_once(OBJECTS / 10).await
}

#[tokio::test]
async fn a_body_trickled_past_the_deadline_is_cut_off_and_its_connection_closed() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let plane = ControlPlane::shared().await?;
    let deadline = Duration::from_secs(3);
    let process = OperatorProcess::start(
        operator_binary(),
        plane,
        &[("HOLT_WEBHOOK_REQUEST_TIMEOUT", "3s")],
    )
    .await?;
    for path in ["/convert", "/validate"] {
        let tls = process.connect().await?;
        let (mut reader, mut writer) = tokio::io::split(tls);
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{"
        );
        writer.write_all(head.as_bytes()).await?;
        writer.flush().await?;
        let started = Instant::now();
        // One byte every 100 ms, for at most 20 s, until the server closes the connection.
        let trickle = tokio::spawn(async move {
            for _ in 0..200 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if writer.write_all(b" ").await.is_err() || writer.flush().await.is_err() {
                    return;
                }
            }
        });
        let mut raw = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), reader.read_to_end(&mut raw)).await;
        let closed_after = started.elapsed();
        trickle.abort();
        ensure!(
            read.is_ok(),
            "{path}: the connection trickling its body was still open after 20 s (deadline {deadline:?})"
        );
        ensure!(
            closed_after <= deadline + Duration::from_secs(2),
            "{path}: closed after {closed_after:?}, deadline {deadline:?}"
        );
        let response = Response::parse(&raw)?;
        println!(
            "{path}: a body trickled at 10 bytes/s was answered {} and its connection closed after {closed_after:.2?}",
            response.status
        );
        ensure!(
            response.status == 408,
            "{path}: {} {}",
            response.head,
            response.text()
        );
        ensure!(
            response.text().contains("HOLT_WEBHOOK_REQUEST_TIMEOUT"),
            "{path}: the answer names the setting: {}",
            response.text()
        );
    }
    Ok(())
}

#[tokio::test]
async fn bodies_over_their_limit_are_refused_with_413_before_they_are_read() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let plane = ControlPlane::shared().await?;
    let process = OperatorProcess::start(
        operator_binary(),
        plane,
        &[
            ("HOLT_WEBHOOK_MAX_CONVERSION_BODY_MIB", "4"),
            ("HOLT_WEBHOOK_MAX_ADMISSION_BODY_MIB", "1"),
        ],
    )
    .await?;
    // Declared too large: refused from the headers, without waiting for a body that never comes.
    for (path, declared, flag) in [
        ("/convert", 4 * MIB + 1, "HOLT_WEBHOOK_MAX_CONVERSION_BODY_MIB"),
        ("/validate", 2 * MIB, "HOLT_WEBHOOK_MAX_ADMISSION_BODY_MIB"),
        (
            "/validate-k8s-otterize-com-v2beta1-clientintents",
            2 * MIB,
            "HOLT_WEBHOOK_MAX_ADMISSION_BODY_MIB",
        ),
    ] {
        let mut tls = process.connect().await?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
        );
        tls.write_all(head.as_bytes()).await?;
        tls.flush().await?;
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut raw))
            .await
            .with_context(|| format!("{path}: no answer within 5 s to {declared} bytes declared"))??;
        let response = Response::parse(&raw)?;
        ensure!(
            response.status == 413,
            "{path}: {} {}",
            response.head,
            response.text()
        );
        ensure!(response.text().contains(flag), "{path}: {}", response.text());
        println!(
            "{path}: {declared} bytes declared: {} {}",
            response.status,
            response.text()
        );
    }
    // Sent without a length (chunked): refused once the limit is passed.
    let mut tls = process.connect().await?;
    tls.write_all(
        b"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await?;
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    let mut raw = Vec::new();
    while sent < 4 * MIB {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if tls.write_all(&frame).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut raw)).await;
    let response = Response::parse(&raw)?;
    ensure!(
        response.status == 413,
        "chunked: {} {}",
        response.head,
        response.text()
    );

    // Within the limits, a review is still answered.
    let review = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
        "request": { "uid": "1", "desiredAPIVersion": "k8s.otterize.com/v2beta1",
                     "objects": [v1alpha3_intents("shop", 1)] },
    });
    let response = process
        .post("/convert", &serde_json::to_vec(&review)?, "POST")
        .await?;
    ensure!(response.status == 200, "{} {}", response.head, response.text());
    Ok(())
}

/// Waits until the CRD's conversion webhook points at `addr`.
async fn conversion_registered(client: &kube::Client, addr: SocketAddr) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let want = format!("https://127.0.0.1:{}/convert", addr.port());
    holt_testenv::eventually(
        "the conversion webhook registered",
        Duration::from_secs(60),
        || {
            let crds = crds.clone();
            let want = want.clone();
            async move {
                let crd = crds.get("clientintents.k8s.otterize.com").await?;
                let url = crd
                    .spec
                    .conversion
                    .and_then(|c| c.webhook)
                    .and_then(|w| w.client_config)
                    .and_then(|c| c.url);
                Ok((url.as_deref() == Some(want.as_str())).then_some(()))
            }
        },
    )
    .await
}

#[derive(Deserialize)]
struct ListedIntents {
    items: Vec<ListedItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListedItem {
    api_version: String,
    metadata: ConvertedMetadata,
    spec: Value,
}

/// Lists every ClientIntents of `ns` in `v1alpha3` in one request (no `limit`). A `429` of the API server itself (its storage for the kind re-initializing after the
/// operator registered the webhook in the CRD) is retried, as client-go does, for at most 2 minutes.
async fn list_v1alpha3(client: &kube::Client, ns: &str) -> Result<ListedIntents, kube::Error> {
    let started = Instant::now();
    let mut refused = 0;
    loop {
        let request = http::Request::get(format!(
            "/apis/k8s.otterize.com/v1alpha3/namespaces/{ns}/clientintents"
        ))
        .body(Vec::new())
        .map_err(kube::Error::HttpError)?;
        match client.request::<ListedIntents>(request).await {
            Err(kube::Error::Api(status))
                if status.code == 429 && started.elapsed() < Duration::from_secs(120) =>
            {
                refused += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            done => {
                if refused > 0 {
                    println!(
                        "(the API server answered 429 {refused} times, for {:.1?}, before it listed)",
                        started.elapsed()
                    );
                }
                return done;
            }
        }
    }
}

/// How many objects each conversion review the operator answered had (from its debug log).
fn conversion_reviews(log: &str) -> Vec<usize> {
    log.lines()
        .filter(|line| line.contains("converted"))
        .filter_map(|line| line.split("objects=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

fn check_listed(listed: &ListedIntents, count: usize) -> anyhow::Result<()> {
    ensure!(listed.items.len() == count, "{} items", listed.items.len());
    for item in listed.items.iter().step_by(991) {
        ensure!(
            item.api_version == "k8s.otterize.com/v1alpha3",
            "{}",
            item.api_version
        );
        ensure!(
            item.spec["service"]["name"] == item.metadata.name.as_str(),
            "{}",
            item.spec
        );
        ensure!(
            item.spec["calls"][1] == json!({ "name": "payments", "kind": "Service" }),
            "{}",
            item.spec
        );
    }
    Ok(())
}

/// Objects the API server lists through the webhook: the API server converts a list one object per review,
/// so this shows the path works at scale without the minutes 40,000 objects take in a test build.
const LISTED: usize = 4_000;

#[tokio::test]
async fn the_api_server_lists_4000_intents_in_v1alpha3_through_the_webhook() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    // A control plane of its own: thousands of objects would weigh on every other test's operator.
    let plane = ControlPlane::start(ControlPlaneOptions {
        controller_manager: false,
        ..Default::default()
    })
    .await?;
    let client = plane.client().await?;
    // The CRDs as a user installs them (no conversion webhook yet: the operator registers it).
    support::install_crds(&client).await;
    let ns = plane.create_namespace(&client, "many").await?;

    // Written in the storage version, before the operator runs: the API server converts nothing.
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("k8s.otterize.com", "v2alpha1", "ClientIntents"),
        "clientintents",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
    let started = Instant::now();
    let created: Vec<anyhow::Result<()>> = stream::iter(0..LISTED)
        .map(|index| {
            let api = api.clone();
            let ns = ns.clone();
            async move {
                let name = format!("client-{index:05}");
                let object: DynamicObject = serde_json::from_value(json!({
                    "apiVersion": "k8s.otterize.com/v2alpha1", "kind": "ClientIntents",
                    "metadata": { "name": name, "namespace": ns },
                    "spec": {
                        "workload": { "name": name },
                        "targets": [
                            { "kubernetes": { "name": "checkout" } },
                            { "service": { "name": "payments" } },
                            { "kafka": { "name": "kafka", "topics": [{ "name": "orders", "operations": ["produce"] }] } },
                        ],
                    },
                }))?;
                api.create(&PostParams::default(), &object).await?;
                Ok(())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    for result in created {
        result?;
    }
    println!("created {LISTED} ClientIntents in {:.1?}", started.elapsed());

    let process = OperatorProcess::start(operator_binary(), &plane, &[]).await?;
    conversion_registered(&client, process.addr).await?;
    let started = Instant::now();
    let listed = list_v1alpha3(&client, &ns)
        .await
        .with_context(|| process.log_tail())?;
    println!(
        "listed {} ClientIntents in v1alpha3 in {:.2?}",
        listed.items.len(),
        started.elapsed()
    );
    check_listed(&listed, LISTED)?;
    // How the API server asked: kube-apiserver 1.36 converts a list one object at a time as it writes
    // the answer (older ones, and lists converted whole, send every object in one review).
    let reviews = conversion_reviews(&process.log());
    let mut by_size = std::collections::BTreeMap::new();
    for size in &reviews {
        *by_size.entry(*size).or_insert(0usize) += 1;
    }
    println!("conversion reviews answered, by objects in them: {by_size:?}");
    let converted: usize = reviews.iter().sum();
    ensure!(
        converted >= LISTED,
        "only {converted} objects went through the webhook"
    );
    ensure!(
        !process.log().contains("review refused"),
        "a review was refused under the default limits:\n{}",
        process.log_tail()
    );
    Ok(())
}

/// A `v2alpha1` ClientIntents of `targets` targets with long names, about 72 bytes each.
fn large_intents(ns: &str, name: &str, targets: usize) -> DynamicObject {
    let long = |i: usize| format!("service-{i:05}.a-namespace-with-quite-a-long-name-for-padding");
    serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v2alpha1", "kind": "ClientIntents",
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "workload": { "name": name },
            "targets": (0..targets).map(|i| json!({ "kubernetes": { "name": long(i) } })).collect::<Vec<_>>(),
        },
    }))
    .expect("object")
}

fn small_intents(ns: &str, name: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
        "metadata": { "name": name, "namespace": ns },
        "spec": { "service": { "name": name }, "calls": [{ "name": "checkout" }] },
    }))
    .expect("object")
}

fn intents_api(client: &kube::Client, ns: &str, version: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("k8s.otterize.com", version, "ClientIntents"),
        "clientintents",
    );
    Api::namespaced_with(client.clone(), ns, &resource)
}

#[tokio::test]
async fn the_api_server_sends_a_refused_review_again_and_fails_one_over_its_limit_naming_it()
-> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    let process = OperatorProcess::start(
        operator_binary(),
        plane,
        &[
            ("HOLT_WEBHOOK_MAX_CONCURRENT_REVIEWS", "1"),
            ("HOLT_WEBHOOK_QUEUE_WAIT", "1ms"),
            ("HOLT_WEBHOOK_MAX_CONVERSION_BODY_MIB", "1"),
            ("HOLT_WEBHOOK_MAX_ADMISSION_BODY_MIB", "2"),
        ],
    )
    .await?;
    conversion_registered(&client, process.addr).await?;
    let ns = plane.create_namespace(&client, "refused").await?;
    let v1alpha3 = intents_api(&client, &ns, "v1alpha3");
    // Until the API server calls this process for both webhooks (its storage for the kind re-initializes
    // after the registration changed the CRD).
    holt_testenv::eventually("the webhooks effective", Duration::from_secs(60), || {
        let v1alpha3 = v1alpha3.clone();
        let object = small_intents(&ns, "warm-up");
        async move {
            let params = PostParams {
                dry_run: true,
                ..PostParams::default()
            };
            Ok(v1alpha3.create(&params, &object).await.ok().map(|_| ()))
        }
    })
    .await?;

    // The only turn is held by a client trickling a body: the API server's reviews for a create are refused
    // with 429 and `Retry-After: 1` until it lets go after 1.5 s; the API server sends them again and the
    // create succeeds.
    let tls = process.connect().await?;
    let (_reader, mut writer) = tokio::io::split(tls);
    writer
        .write_all(b"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n{")
        .await?;
    writer.flush().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        drop(writer);
        drop(_reader);
    });
    let refused_before = process.log().matches("review refused for now").count();
    let started = Instant::now();
    v1alpha3
        .create(&PostParams::default(), &small_intents(&ns, "sent-again"))
        .await
        .with_context(|| process.log_tail())?;
    let took = started.elapsed();
    release.await?;
    let refused = process.log().matches("review refused for now").count() - refused_before;
    println!(
        "a create while the webhook was busy: {refused} reviews refused with 429, created after {took:.2?}"
    );
    ensure!(refused >= 1, "no review was refused:\n{}", process.log_tail());
    ensure!(
        took >= Duration::from_secs(1),
        "created after {took:?}: not sent again after Retry-After"
    );

    // Over the size limits: the request that needed the webhook fails, and the message names the setting.
    // An object of 1.1 MiB is admitted (2 MiB) and stored, but reading it in v1alpha3 needs a conversion
    // review over 1 MiB.
    let v2alpha1 = intents_api(&client, &ns, "v2alpha1");
    v2alpha1
        .create(&PostParams::default(), &large_intents(&ns, "medium", 16_000))
        .await
        .with_context(|| process.log_tail())?;
    let error = v1alpha3
        .get("medium")
        .await
        .err()
        .context("a 1.1 MiB object was converted under a 1 MiB limit")?;
    println!("reading a 1.1 MiB object in v1alpha3: {error}");
    ensure!(
        error.to_string().contains("HOLT_WEBHOOK_MAX_CONVERSION_BODY_MIB"),
        "{error}"
    );
    let error = v2alpha1
        .create(&PostParams::default(), &large_intents(&ns, "large", 32_000))
        .await
        .err()
        .context("an object of more than 2 MiB was admitted under a 2 MiB limit")?;
    println!("creating a 2.2 MiB object: {error}");
    ensure!(
        error.to_string().contains("HOLT_WEBHOOK_MAX_ADMISSION_BODY_MIB"),
        "{error}"
    );
    Ok(())
}
