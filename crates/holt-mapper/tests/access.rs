//! Who may use the mapper, on the real API server's credentials: ServiceAccount tokens checked with
//! TokenReview (audience `holt-mapper`), permissions checked with SubjectAccessReview against RBAC
//! verbs on `mapper.holt.dev` resources. Without a credential, reports, reads and resets are refused;
//! a sniffer may report but not read or reset; reading needs `list`, resetting `deletecollection`; a
//! DNS answer from anyone but a sniffer never reaches `status.resolvedIPs`, and a reset takes back
//! what the mapper published there.

mod support;

use std::time::Duration;

use holt_mapper::shared::now_ms;
use holt_mapper_api::{
    DiscoveredIntent, EXPORT_PATH, GRAPH_PATH, INTENTS_PATH, LIMITS_PATH, REPORTS_PATH, RESET_PATH,
};
use holt_testenv::{ControlPlane, deployment_with_pod_ips, eventually};
use kube::Api;
use kube::api::PostParams;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use support::{Mapper, connections_report, dns_report};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Held by the tests whose mapper publishes `resolvedIPs` and is reset: a mapper publishes for every
/// ClientIntents of the cluster, so its reset takes back the addresses of the other tests' ClientIntents
/// too (in the shared control plane).
static PUBLISHING_RESETS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn intents(body: &str) -> Vec<DiscoveredIntent> {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not a list of intents ({e}): {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_reads_and_resets_need_a_credential_and_the_rbac_verb() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    let ns = plane.create_namespace(&client, "mapper-access").await?;
    deployment_with_pod_ips(&client, &ns, "client", &["10.245.30.1"]).await?;
    deployment_with_pod_ips(&client, &ns, "server", &["10.245.30.2"]).await?;
    deployment_with_pod_ips(&client, &ns, "intruder", &["10.245.30.3"]).await?;
    let state = tempfile::tempdir()?;
    let (mapper, _) = Mapper::start(plane, state.path(), &[]).await?;
    let callers = &mapper.callers;

    let real = serde_json::to_vec(&connections_report(
        "10.245.30.1",
        ["10.245.30.2".parse()?],
        now_ms(),
    ))?;
    let fake = serde_json::to_vec(&connections_report(
        "10.245.30.3",
        ["10.245.30.2".parse()?],
        now_ms(),
    ))?;

    // No credential: every API request refused, with the reason.
    for (method, path, body) in [
        ("POST", REPORTS_PATH, fake.as_slice()),
        ("GET", INTENTS_PATH, &[][..]),
        ("GET", EXPORT_PATH, &[][..]),
        ("GET", GRAPH_PATH, &[][..]),
        ("POST", RESET_PATH, &[][..]),
    ] {
        let (status, text) = mapper.send(method, path, body, None)?;
        assert_eq!(status, 401, "{method} {path}: {text}");
        assert!(text.contains("bearer token"), "{method} {path}: {text}");
    }
    // Health, readiness, the limits and metrics stay open (probes and scrapers carry no token).
    for path in ["/healthz", "/readyz", LIMITS_PATH, "/metrics"] {
        assert_eq!(mapper.send("GET", path, &[], None)?.0, 200, "{path}");
    }
    // A token the API server does not vouch for, and one issued for another audience.
    let (status, text) = mapper.send("POST", REPORTS_PATH, &fake, Some("not-a-token"))?;
    assert_eq!(status, 401, "{text}");
    let elsewhere =
        holt_testenv::service_account_token(&client, &callers.namespace, "sniffer", &["someone-else"])
            .await?;
    let (status, text) = mapper.send("POST", REPORTS_PATH, &fake, Some(&elsewhere.token))?;
    assert_eq!(status, 401, "a token for another audience: {text}");

    // Authenticated, but not allowed to report.
    for token in [&callers.stranger, &callers.reader, &callers.admin] {
        let (status, text) = mapper.send("POST", REPORTS_PATH, &fake, Some(token))?;
        assert_eq!(status, 403, "{text}");
        assert!(
            text.contains("create") && text.contains("reports.mapper.holt.dev"),
            "{text}"
        );
    }

    // The sniffer reports, and may do nothing else.
    let (status, text) = mapper.send("POST", REPORTS_PATH, &real, Some(&callers.sniffer))?;
    assert_eq!(status, 204, "{text}");
    let (status, text) = mapper.send("GET", INTENTS_PATH, &[], Some(&callers.sniffer))?;
    assert_eq!(status, 403, "{text}");
    assert!(
        text.contains("list") && text.contains("discoveredintents.mapper.holt.dev"),
        "{text}"
    );
    let (status, text) = mapper.send("POST", RESET_PATH, &[], Some(&callers.sniffer))?;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("deletecollection"), "{text}");

    // A reader sees what the sniffer reported, and nothing the refused reports carried.
    let query = format!("{INTENTS_PATH}?namespace={ns}");
    let (status, text) = mapper.send("GET", &query, &[], Some(&callers.reader))?;
    assert_eq!(status, 200, "{text}");
    let seen: Vec<String> = intents(&text).iter().map(|i| i.client.name.clone()).collect();
    assert_eq!(seen, ["client"]);
    // A reader's token for the API server (a kubeconfig's) is accepted too.
    let api_token = holt_testenv::service_account_token(&client, &callers.namespace, "reader", &[]).await?;
    let (status, text) = mapper.send("GET", &query, &[], Some(&api_token.token))?;
    assert_eq!(status, 200, "{text}");
    // Reading is not resetting.
    let (status, text) = mapper.send("POST", RESET_PATH, &[], Some(&callers.reader))?;
    assert_eq!(status, 403, "{text}");
    assert_eq!(
        intents(&mapper.send("GET", &query, &[], Some(&callers.reader))?.1).len(),
        1
    );

    // The verb `deletecollection` resets.
    let (status, text) = mapper.send("POST", RESET_PATH, &[], Some(&callers.admin))?;
    assert_eq!(status, 204, "{text}");
    assert_eq!(
        intents(&mapper.send("GET", &query, &[], Some(&callers.admin))?.1),
        []
    );

    // Refusals are counted by reason.
    let metric = |name: &str| mapper.metric(name).unwrap_or(0);
    assert!(metric("holt_mapper_requests_refused_total{reason=\"no_credential\"}") >= 5);
    assert!(metric("holt_mapper_requests_refused_total{reason=\"not_authenticated\"}") >= 2);
    assert!(metric("holt_mapper_requests_refused_total{reason=\"forbidden\"}") >= 6);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_sniffers_dns_answer_reaches_resolved_ips_and_a_reset_takes_it_back() -> anyhow::Result<()> {
    let _alone = PUBLISHING_RESETS.lock().await;
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    support::install_crds(&client).await?;
    let ns = plane.create_namespace(&client, "mapper-forged").await?;
    deployment_with_pod_ips(&client, &ns, "client", &["10.245.31.1"]).await?;
    let cis: Api<holt_api::v2alpha1::ClientIntents> = Api::namespaced(client.clone(), &ns);
    let ci: holt_api::v2alpha1::ClientIntents = serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v2alpha1", "kind": "ClientIntents",
        "metadata": {"name": "client"},
        "spec": {"workload": {"name": "client"},
                 "targets": [{"internet": {"domains": ["api.stripe.com"]}}]}
    }))?;
    cis.create(&PostParams::default(), &ci).await?;
    let state = tempfile::tempdir()?;
    let (mapper, _) = Mapper::start(
        plane,
        state.path(),
        &[("HOLT_MAPPER_RESOLVED_IPS_INTERVAL_MS", "200")],
    )
    .await?;
    let callers = &mapper.callers;
    let answer = |ip: &str| -> anyhow::Result<Vec<u8>> {
        Ok(serde_json::to_vec(&dns_report(
            "10.245.31.1",
            [("api.stripe.com".to_owned(), ip.parse()?)],
            now_ms(),
        ))?)
    };

    // The forged answer, from no one and from an authenticated non-sniffer: refused.
    let forged = answer("198.51.100.66")?;
    assert_eq!(mapper.send("POST", REPORTS_PATH, &forged, None)?.0, 401);
    for token in [&callers.stranger, &callers.reader, &callers.admin] {
        assert_eq!(mapper.send("POST", REPORTS_PATH, &forged, Some(token))?.0, 403);
    }
    // A sniffer's answer lands.
    let (status, text) = mapper.send(
        "POST",
        REPORTS_PATH,
        &answer("192.0.2.10")?,
        Some(&callers.sniffer),
    )?;
    assert_eq!(status, 204, "{text}");
    let resolved = |want: Value| {
        let cis = cis.clone();
        async move {
            eventually("status.resolvedIPs", TIMEOUT, || async {
                let ci = cis.get("client").await?;
                let status = serde_json::to_value(ci.status.unwrap_or_default())?;
                Ok((status["resolvedIPs"] == want).then_some(()))
            })
            .await
        }
    };
    resolved(json!([{"dns": "api.stripe.com", "ips": ["192.0.2.10"]}])).await?;
    assert_eq!(
        mapper.metric("holt_mapper_dns_answers_received_total")?,
        1,
        "the forged answers never reached the mapper's store"
    );

    // A reset takes back what the mapper published.
    let (status, text) = mapper.send("POST", RESET_PATH, &[], Some(&callers.admin))?;
    assert_eq!(status, 204, "{text}");
    resolved(Value::Null).await?;
    // What is seen after the reset is published afresh; what was taken back does not return.
    let (status, text) = mapper.send(
        "POST",
        REPORTS_PATH,
        &answer("192.0.2.11")?,
        Some(&callers.sniffer),
    )?;
    assert_eq!(status, 204, "{text}");
    resolved(json!([{"dns": "api.stripe.com", "ips": ["192.0.2.11"]}])).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_is_off_only_when_asked_and_then_says_so() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let state = tempfile::tempdir()?;
    let (mapper, _) = Mapper::start(
        plane,
        state.path(),
        &[("HOLT_MAPPER_INSECURE_SKIP_AUTHENTICATION", "true")],
    )
    .await?;
    let report = serde_json::to_vec(&connections_report(
        "10.245.32.1",
        ["10.245.32.2".parse()?],
        now_ms(),
    ))?;
    assert_eq!(mapper.send("POST", REPORTS_PATH, &report, None)?.0, 204);
    assert_eq!(mapper.send("POST", RESET_PATH, &[], None)?.0, 204);
    assert_eq!(mapper.metric("holt_mapper_authentication_enabled")?, 0);
    let log = mapper.log_text();
    assert!(log.contains("AUTHENTICATION IS OFF"), "the log says so:\n{log}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_are_cached_and_made_up_tokens_cost_the_api_server_a_bounded_rate() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let state = tempfile::tempdir()?;
    let (mapper, _) = Mapper::start(
        plane,
        state.path(),
        &[("HOLT_MAPPER_MAX_REVIEWS_PER_SECOND", "5")],
    )
    .await?;
    let callers = &mapper.callers;
    let report = serde_json::to_vec(&connections_report(
        "10.245.33.1",
        ["10.245.33.2".parse()?],
        now_ms(),
    ))?;
    // A sniffer reporting fifty times costs one TokenReview and one SubjectAccessReview.
    for _ in 0..50 {
        let (status, text) = mapper.send("POST", REPORTS_PATH, &report, Some(&callers.sniffer))?;
        assert_eq!(status, 204, "{text}");
    }
    assert_eq!(mapper.metric("holt_mapper_token_reviews_total")?, 1);
    assert_eq!(mapper.metric("holt_mapper_access_reviews_total")?, 1);

    // Made-up tokens, as fast as they can be sent: past the budget (5 a second, 10 at once) they are
    // answered 429 without asking the API server; each costs at most two TokenReviews (the mapper's
    // audience, then the API server's).
    let started = std::time::Instant::now();
    let mut answers = std::collections::BTreeMap::<u16, u32>::new();
    for n in 0..60 {
        let (status, _) = mapper.send("POST", REPORTS_PATH, &report, Some(&format!("made-up-{n}")))?;
        *answers.entry(status).or_default() += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let reviews = mapper.metric("holt_mapper_token_reviews_total")? - 1;
    eprintln!("60 made-up tokens in {elapsed:.2} s: answers {answers:?}, {reviews} TokenReviews");
    assert!(answers.get(&429).copied().unwrap_or(0) > 0, "{answers:?}");
    assert_eq!(
        answers.get(&401).copied().unwrap_or(0) + answers.get(&429).copied().unwrap_or(0),
        60,
        "{answers:?}"
    );
    let allowed = 10.0 + 5.0 * elapsed;
    assert!(
        (reviews as f64) <= allowed + 1.0,
        "{reviews} reviews in {elapsed:.2} s (budget {allowed:.0})"
    );
    assert_eq!(
        mapper.metric("holt_mapper_requests_refused_total{reason=\"rate_limited\"}")?,
        u64::from(answers[&429])
    );
    // The sniffer's answers are cached: it still reports while the budget is spent.
    let (status, text) = mapper.send("POST", REPORTS_PATH, &report, Some(&callers.sniffer))?;
    assert_eq!(status, 204, "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_is_taken_back_from_resolved_ips_after_a_restart_too() -> anyhow::Result<()> {
    let _alone = PUBLISHING_RESETS.lock().await;
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    support::install_crds(&client).await?;
    let ns = plane.create_namespace(&client, "mapper-reset-restart").await?;
    deployment_with_pod_ips(&client, &ns, "client", &["10.245.34.1"]).await?;
    let cis: Api<holt_api::v2alpha1::ClientIntents> = Api::namespaced(client.clone(), &ns);
    let ci: holt_api::v2alpha1::ClientIntents = serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v2alpha1", "kind": "ClientIntents",
        "metadata": {"name": "client"},
        "spec": {"workload": {"name": "client"},
                 "targets": [{"internet": {"domains": ["api.example.com"]}}]}
    }))?;
    cis.create(&PostParams::default(), &ci).await?;
    let resolved = || async {
        let ci = cis.get("client").await?;
        anyhow::Ok(serde_json::to_value(ci.status.unwrap_or_default())?["resolvedIPs"].clone())
    };
    let state = tempfile::tempdir()?;
    let publishing = [("HOLT_MAPPER_RESOLVED_IPS_INTERVAL_MS", "200")];

    // Published by a first mapper.
    let (mapper, _) = Mapper::start(plane, state.path(), &publishing).await?;
    let report = serde_json::to_vec(&dns_report(
        "10.245.34.1",
        [("api.example.com".to_owned(), "192.0.2.20".parse()?)],
        now_ms(),
    ))?;
    let (status, text) = mapper.send("POST", REPORTS_PATH, &report, Some(&mapper.callers.sniffer))?;
    assert_eq!(status, 204, "{text}");
    let published = json!([{"dns": "api.example.com", "ips": ["192.0.2.20"]}]);
    eventually("published", TIMEOUT, || async {
        Ok((resolved().await? == published).then_some(()))
    })
    .await?;
    mapper.stop().await?;

    // A second mapper is reset, and killed before its next publishing pass (an hour away).
    let (mut mapper, _) = Mapper::start(
        plane,
        state.path(),
        &[("HOLT_MAPPER_RESOLVED_IPS_INTERVAL_MS", "3600000")],
    )
    .await?;
    let (status, text) = mapper.send("POST", RESET_PATH, &[], Some(&mapper.callers.admin))?;
    assert_eq!(status, 204, "{text}");
    mapper.child.kill().await?;
    assert_eq!(resolved().await?, published, "nothing was taken back yet");
    assert!(state.path().join("resolved-ips.reset").exists());

    // The next mapper finds the reset and takes the address back.
    let (_mapper, _) = Mapper::start(plane, state.path(), &publishing).await?;
    eventually("taken back", TIMEOUT, || async {
        Ok(resolved().await?.is_null().then_some(()))
    })
    .await?;
    eventually("the reset marker removed", TIMEOUT, || async {
        Ok((!state.path().join("resolved-ips.reset").exists()).then_some(()))
    })
    .await?;
    Ok(())
}
